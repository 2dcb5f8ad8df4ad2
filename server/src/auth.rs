//! Bearer tokens: the four roles of `api.md`, county scopes, and the token file.
//!
//! Tokens are stored only as hashes (BLAKE3 derive-key) in `DATA/tokens.json`, written
//! atomically (temporary file, fsync, rename). A token is shown once, when it is created.
//! The server rereads the file when it changes, so `govrec token create` takes effect without
//! a restart.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime};

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

impl Principal {
    /// Whether this principal may append in every county (an admin, or a scope of `*`), so
    /// no append of it needs a county looked up.
    pub fn appends_everywhere(&self) -> bool {
        self.role == Role::Admin || self.scope.is_all()
    }

    /// The counties this principal's appends may touch, for the store to check.
    pub fn append_scope(&self) -> govrec_store::CountyScope {
        match &self.scope {
            Scope::Counties(counties) if !self.appends_everywhere() => {
                govrec_store::CountyScope::Only(counties.clone())
            }
            _ => govrec_store::CountyScope::Everywhere,
        }
    }
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
    /// The role reads the whole log and takes no county scope; create it with `--scope '*'`.
    #[error("{0}")]
    ScopeNotAllowed(String),
}

/// Whether a role can hold a scope: an auditor reads the whole log (its job is to check all of
/// it), so a scope would promise a limit that the log routes do not keep.
fn scope_fits_role(role: Role, scope: &Scope) -> Result<(), String> {
    match (role, scope) {
        (Role::Auditor, Scope::Counties(_)) => Err(
            "an auditor reads the whole log and takes no county scope; give --scope '*' or none".to_owned(),
        ),
        _ => Ok(()),
    }
}

pub(crate) fn token_hash(token: &str) -> [u8; 32] {
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
    scope_fits_role(role, &scope).map_err(TokenError::ScopeNotAllowed)?;
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

/// How long the token file's modification time is trusted before it is looked at again. A
/// token added to the file is accepted at once all the same (an unknown token makes the
/// registry look again before refusing); one removed from it is refused within this time.
/// Looking at the file on every request (a `stat`) was 2.4% of the server's CPU for single
/// appends and more for cached reads.
pub const TOKEN_FILE_RECHECK: Duration = Duration::from_millis(200);

/// The tokens the server accepts, reread when the file changes.
pub struct TokenRegistry {
    path: PathBuf,
    loaded: RwLock<Loaded>,
    /// When the file was last looked at, in nanoseconds after `opened`.
    checked: AtomicU64,
    opened: Instant,
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
            checked: AtomicU64::new(0),
            opened: Instant::now(),
        };
        registry.reload_if_changed()?;
        Ok(registry)
    }

    /// Rereads the file if it changed, unless it was looked at less than `recheck` ago.
    fn reload_if_stale(&self, recheck: Duration) {
        let now = u64::try_from(self.opened.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let checked = self.checked.load(Ordering::Relaxed);
        if now.saturating_sub(checked) < u64::try_from(recheck.as_nanos()).unwrap_or(u64::MAX) {
            return;
        }
        self.checked.store(now, Ordering::Relaxed);
        if let Err(error) = self.reload_if_changed() {
            tracing::error!(%error, "cannot reload the token file; keeping the tokens loaded before");
        }
    }

    fn lookup(&self, hash: &[u8; 32]) -> Option<Principal> {
        let loaded = self.loaded.read().expect("token lock");
        // The map lookup is on a hash of the secret, which an attacker cannot steer; the
        // final comparison is constant-time all the same.
        let (stored, principal) = loaded.by_hash.get_key_value(hash)?;
        bool::from(stored.ct_eq(hash)).then(|| principal.clone())
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
            if let Err(reason) = scope_fits_role(entry.role, &scope) {
                // Written by hand or by an older govrec: refused, not widened to everything.
                tracing::warn!(token = %entry.name, %reason, "token refused");
                continue;
            }
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

    /// The principal of a token known by its hash (a web session keeps only the hash). The
    /// file is looked at again when it was last looked at [`TOKEN_FILE_RECHECK`] ago or more.
    pub fn authenticate_hash(&self, hash: &[u8; 32]) -> Option<Principal> {
        self.reload_if_stale(TOKEN_FILE_RECHECK);
        self.lookup(hash)
    }

    /// The principal a bearer token names, if any.
    ///
    /// The file is looked at again when it was last looked at [`TOKEN_FILE_RECHECK`] ago or
    /// more, and always before a token is refused (it may have just been created).
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        let hash = token_hash(token);
        self.authenticate_hash(&hash).or_else(|| {
            self.reload_if_stale(Duration::ZERO);
            self.lookup(&hash)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token created while the server runs is accepted at once, though the file is looked at
    /// only every `TOKEN_FILE_RECHECK`: an unknown token makes the registry look again.
    #[test]
    fn a_new_token_is_accepted_at_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = create_token(dir.path(), Role::Office, Scope::All, "first").expect("token");
        let registry = TokenRegistry::open(dir.path()).expect("registry");
        assert_eq!(
            registry.authenticate(&first).map(|p| p.name),
            Some("first".to_owned())
        );
        let second = create_token(dir.path(), Role::Recorder, Scope::All, "second").expect("token");
        assert_eq!(
            registry.authenticate(&second).map(|p| p.name),
            Some("second".to_owned())
        );
        assert!(registry.authenticate("gvr_not-a-token").is_none());
    }

    /// A token removed from the file is refused once `TOKEN_FILE_RECHECK` has passed.
    #[test]
    fn a_removed_token_is_refused_after_the_recheck_interval() {
        let dir = tempfile::tempdir().expect("temp dir");
        let kept = create_token(dir.path(), Role::Office, Scope::All, "kept").expect("token");
        let removed = create_token(dir.path(), Role::Admin, Scope::All, "removed").expect("token");
        let registry = TokenRegistry::open(dir.path()).expect("registry");
        assert!(registry.authenticate(&removed).is_some());
        let path = dir.path().join(TOKEN_FILE);
        let mut contents = read_file(&path).expect("read");
        contents.tokens.retain(|entry| entry.name != "removed");
        // A later modification time than the file had, whatever the file system's granularity.
        std::thread::sleep(Duration::from_millis(20));
        write_file(&path, &contents).expect("write");
        std::thread::sleep(TOKEN_FILE_RECHECK + Duration::from_millis(50));
        assert!(registry.authenticate(&removed).is_none());
        assert!(registry.authenticate(&kept).is_some());
    }
}
