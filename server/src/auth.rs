//! Bearer tokens: the four roles of `api.md`, county scopes, and the token file.
//!
//! Tokens are stored only as hashes (BLAKE3 derive-key) in `DATA/tokens.json`, written
//! atomically (temporary file, fsync, rename). A token is shown once, when it is created.
//! The server rereads the file when it changes, so `govrec token create` takes effect without
//! a restart.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// The derive-key context of token hashes.
const TOKEN_HASH_CONTEXT: &str = "govrec token v1";
/// The prefix of every token, so a leaked one is easy to recognise in logs and scanners.
pub const TOKEN_PREFIX: &str = "gvr_";
/// The file, inside the data directory, that holds token hashes.
pub const TOKEN_FILE: &str = "tokens.json";

/// What a principal may do (`api.md`, "Conventions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Admin,
    /// Append, and read the log, for the counties in scope.
    Recorder,
    /// Read the read models of the counties in scope.
    Office,
    /// Read the whole log, history, verification and proofs.
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Recorder => "recorder",
            Role::Office => "office",
            Role::Auditor => "auditor",
        }
    }
}

/// The counties a principal may see and write: all (`*`) or a list of county ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Counties(BTreeSet<Uuid>),
}

impl Scope {
    /// Parses `*` or a comma-separated list of county UUIDs.
    pub fn parse(text: &str) -> Result<Scope, String> {
        let text = text.trim();
        if text == "*" {
            return Ok(Scope::All);
        }
        let counties = text
            .split(',')
            .map(|part| Uuid::parse_str(part.trim()).map_err(|_| format!("{part:?} is not a county UUID")))
            .collect::<Result<BTreeSet<_>, _>>()?;
        if counties.is_empty() {
            return Err("a scope is * or at least one county id".to_owned());
        }
        Ok(Scope::Counties(counties))
    }

    pub fn allows(&self, county: &Uuid) -> bool {
        match self {
            Scope::All => true,
            Scope::Counties(counties) => counties.contains(county),
        }
    }

    pub fn is_all(&self) -> bool {
        matches!(self, Scope::All)
    }

    fn to_strings(&self) -> Vec<String> {
        match self {
            Scope::All => vec!["*".to_owned()],
            Scope::Counties(counties) => counties.iter().map(Uuid::to_string).collect(),
        }
    }

    fn from_strings(items: &[String]) -> Result<Scope, String> {
        Scope::parse(&items.join(","))
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Recorded as the `actor` of every record it appends.
    pub name: String,
    pub role: Role,
    pub scope: Scope,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenEntry {
    name: String,
    role: Role,
    scope: Vec<String>,
    token_hash: String,
    created_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFileContents {
    tokens: Vec<TokenEntry>,
}

/// Why a token file operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file cannot be read or written; fix permissions or disk space.
    #[error("token file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The file is not valid JSON of the expected shape; restore it or remove the bad entry.
    #[error("token file {path} is malformed: {reason}")]
    Malformed { path: PathBuf, reason: String },
    /// The name is taken or unusable; pick another.
    #[error("{0}")]
    InvalidName(String),
}

fn token_hash(token: &str) -> [u8; 32] {
    blake3::derive_key(TOKEN_HASH_CONTEXT, token.as_bytes())
}

fn read_file(path: &Path) -> Result<TokenFileContents, TokenError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| TokenError::Malformed {
            path: path.to_owned(),
            reason: error.to_string(),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(TokenFileContents::default()),
        Err(source) => Err(TokenError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn write_file(path: &Path, contents: &TokenFileContents) -> Result<(), TokenError> {
    let io = |source| TokenError::Io {
        path: path.to_owned(),
        source,
    };
    let temporary = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(contents).expect("token entries serialise");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&temporary).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    std::fs::rename(&temporary, path).map_err(io)?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)
            .and_then(|dir| dir.sync_all())
            .map_err(io)?;
    }
    Ok(())
}

/// Creates a token and stores its hash in `DATA/tokens.json`. Returns the token, which is
/// never stored and cannot be shown again.
pub fn create_token(data_dir: &Path, role: Role, scope: Scope, name: &str) -> Result<String, TokenError> {
    govrec_store::validate_actor(name).map_err(TokenError::InvalidName)?;
    std::fs::create_dir_all(data_dir).map_err(|source| TokenError::Io {
        path: data_dir.to_owned(),
        source,
    })?;
    let path = data_dir.join(TOKEN_FILE);
    let mut contents = read_file(&path)?;
    if contents.tokens.iter().any(|entry| entry.name == name) {
        return Err(TokenError::InvalidName(format!(
            "a token named {name:?} exists already"
        )));
    }
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
    contents.tokens.push(TokenEntry {
        name: name.to_owned(),
        role,
        scope: scope.to_strings(),
        token_hash: hex::encode(token_hash(&token)),
        created_at: jiff::Timestamp::now().to_string(),
    });
    write_file(&path, &contents)?;
    Ok(token)
}

/// The tokens the server accepts, reread when the file changes.
pub struct TokenRegistry {
    path: PathBuf,
    loaded: RwLock<Loaded>,
}

#[derive(Default)]
struct Loaded {
    modified: Option<SystemTime>,
    by_hash: HashMap<[u8; 32], Principal>,
}

impl TokenRegistry {
    pub fn open(data_dir: &Path) -> Result<TokenRegistry, TokenError> {
        let registry = TokenRegistry {
            path: data_dir.join(TOKEN_FILE),
            loaded: RwLock::new(Loaded::default()),
        };
        registry.reload_if_changed()?;
        Ok(registry)
    }

    fn reload_if_changed(&self) -> Result<(), TokenError> {
        let modified = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if self.loaded.read().expect("token lock").modified == modified && modified.is_some() {
            return Ok(());
        }
        let contents = read_file(&self.path)?;
        let mut by_hash = HashMap::with_capacity(contents.tokens.len());
        for entry in contents.tokens {
            let malformed = |reason: String| TokenError::Malformed {
                path: self.path.clone(),
                reason,
            };
            let mut hash = [0u8; 32];
            hex::decode_to_slice(&entry.token_hash, &mut hash)
                .map_err(|_| malformed(format!("token {:?} has a bad hash", entry.name)))?;
            let scope = Scope::from_strings(&entry.scope).map_err(malformed)?;
            by_hash.insert(
                hash,
                Principal {
                    name: entry.name,
                    role: entry.role,
                    scope,
                },
            );
        }
        *self.loaded.write().expect("token lock") = Loaded { modified, by_hash };
        Ok(())
    }

    /// The principal a bearer token names, if any.
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        if let Err(error) = self.reload_if_changed() {
            tracing::error!(%error, "cannot reload the token file; keeping the tokens loaded before");
        }
        let hash = token_hash(token);
        let loaded = self.loaded.read().expect("token lock");
        // The map lookup is on a hash of the secret, which an attacker cannot steer; the
        // final comparison is constant-time all the same.
        let (stored, principal) = loaded.by_hash.get_key_value(&hash)?;
        bool::from(stored.ct_eq(&hash)).then(|| principal.clone())
    }
}
