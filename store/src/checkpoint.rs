//! Signed checkpoints (`docs/merkle.md`): a C2SP `tlog-checkpoint` body (origin, tree size,
//! base64 root) signed as a C2SP signed note with the store's Ed25519 key, the key's file in
//! the data directory, and the verification an auditor runs on a note.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::{BadRequestCode, StoreError};
use crate::hash::Hash32;

/// The private key's file in the data directory (mode 0600), in the text form of Go's
/// `golang.org/x/mod/sumdb/note`: `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>`.
pub const SIGNING_KEY_FILE: &str = "checkpoint-signing.key";
/// The signature algorithm byte of Ed25519 in C2SP signed notes.
const ALGORITHM_ED25519: u8 = 0x01;
/// The most bytes a note may have (a checkpoint is about 100).
pub const NOTE_BYTES_MAX: usize = 64 * 1024;
/// The most signature lines a note may carry.
pub const NOTE_SIGNATURES_MAX: usize = 100;

/// A checkpoint: the tree of the first `size` records has root `root`, in the log `origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash32,
}

impl Checkpoint {
    /// The `tlog-checkpoint` body: origin, decimal size, base64 root, each ending in `\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root.to_bytes())
        )
    }

    /// Parses a `tlog-checkpoint` body (extension lines after the root are allowed and
    /// ignored, as C2SP says).
    pub fn parse_body(text: &str) -> Result<Checkpoint, CheckpointError> {
        let bad = |why: &'static str| CheckpointError::Malformed(why);
        let body = text
            .strip_suffix('\n')
            .ok_or(bad("the body does not end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|line| !line.is_empty())
            .ok_or(bad("no origin line"))?;
        let size_text = lines.next().ok_or(bad("no tree size line"))?;
        let canonical = size_text == "0" || !size_text.starts_with('0');
        let size: u64 = size_text
            .parse()
            .ok()
            .filter(|_| canonical && size_text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(bad("the tree size is not a decimal number"))?;
        let root_bytes = BASE64
            .decode(lines.next().ok_or(bad("no root hash line"))?)
            .map_err(|_| bad("the root hash is not base64"))?;
        let root: [u8; 32] = root_bytes
            .try_into()
            .map_err(|_| bad("the root hash is not 32 bytes"))?;
        if lines.any(str::is_empty) {
            return Err(bad("an empty line inside the body"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root: Hash32::from_bytes(root),
        })
    }
}

/// Why a note or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The note, body or key text does not have the required form.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// No signature line of the expected key (name and key id) is on the note.
    #[error("the note carries no signature by key {0}")]
    NoSignature(String),
    /// A signature line of the expected key does not verify: the note was changed or signed
    /// by another key of the same name.
    #[error("the signature by key {0} does not verify")]
    BadSignature(String),
    /// The checkpoint's origin is not the key's name.
    #[error("the checkpoint's origin {found:?} is not the key's name {expected:?}")]
    WrongOrigin { found: String, expected: String },
}

/// The key id of C2SP signed notes: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key).
fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', ALGORITHM_ED25519]);
    hasher.update(public.as_bytes());
    hasher.finalize()[..4].try_into().expect("4 bytes")
}

/// A key name of a signed note: not empty, no whitespace, no `+`.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(char::is_whitespace)
}

/// The store's signing key and the log's name (the key's name and every checkpoint's origin).
pub struct CheckpointSigner {
    name: String,
    key: SigningKey,
    key_id: [u8; 4],
}

impl CheckpointSigner {
    /// Loads the key from `dir`, creating it (and the name) when the file is absent. The name
    /// is `origin` when given, else `govrec/` and 16 hex digits of BLAKE3 of the public key;
    /// it is stored in the key file, so it never changes afterwards.
    pub fn load_or_create(dir: &Path, origin: Option<&str>) -> Result<CheckpointSigner, StoreError> {
        let path = dir.join(SIGNING_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => CheckpointSigner::parse(text.trim_end()).map_err(|error| StoreError::Corrupt {
                seq: 0,
                reason: format!("{}: {error}", path.display()),
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|error| std::io::Error::other(error.to_string()))?;
                let key = SigningKey::from_bytes(&seed);
                let name = match origin {
                    Some(name) => name.to_owned(),
                    None => {
                        let digest = blake3::hash(key.verifying_key().as_bytes());
                        format!("govrec/{}", hex::encode(&digest.as_bytes()[..8]))
                    }
                };
                if !valid_name(&name) {
                    return Err(StoreError::bad_request(
                        BadRequestCode::InvalidOrigin,
                        None,
                        None,
                        format!("the log name {name:?} is empty or has whitespace or '+'"),
                    ));
                }
                let signer = CheckpointSigner {
                    key_id: key_id(&name, &key.verifying_key()),
                    name,
                    key,
                };
                write_private(&path, &signer.private_text())?;
                Ok(signer)
            }
            Err(error) => Err(error.into()),
        }
    }

    fn private_text(&self) -> String {
        let mut secret = vec![ALGORITHM_ED25519];
        secret.extend_from_slice(&self.key.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            BASE64.encode(secret)
        )
    }

    fn parse(text: &str) -> Result<CheckpointSigner, CheckpointError> {
        let bad = CheckpointError::Malformed("the private key file");
        let rest = text.strip_prefix("PRIVATE+KEY+").ok_or(bad.clone())?;
        let parts: Vec<&str> = rest.splitn(3, '+').collect();
        let [name, id_hex, secret] = parts[..] else {
            return Err(bad);
        };
        let secret = BASE64.decode(secret).map_err(|_| bad.clone())?;
        let [ALGORITHM_ED25519, seed @ ..] = &secret[..] else {
            return Err(bad);
        };
        let seed: [u8; 32] = seed.try_into().map_err(|_| bad.clone())?;
        let key = SigningKey::from_bytes(&seed);
        let key_id = key_id(name, &key.verifying_key());
        if !valid_name(name) || hex::encode(key_id) != id_hex {
            return Err(bad);
        }
        Ok(CheckpointSigner {
            name: name.to_owned(),
            key,
            key_id,
        })
    }

    /// The log's name: the origin line of its checkpoints and the key's name.
    pub fn origin(&self) -> &str {
        &self.name
    }

    /// The verifier key, `name+<key id hex>+<base64(0x01 || public key)>`.
    pub fn verifier_key(&self) -> String {
        let mut public = vec![ALGORITHM_ED25519];
        public.extend_from_slice(self.key.verifying_key().as_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            BASE64.encode(public)
        )
    }

    /// The signed note of the checkpoint `size`, `root` of this log.
    pub fn sign(&self, size: u64, root: Hash32) -> String {
        let body = Checkpoint {
            origin: self.name.clone(),
            size,
            root,
        }
        .body();
        let signature = self.key.sign(body.as_bytes());
        let mut blob = self.key_id.to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        format!("{body}\n\u{2014} {} {}\n", self.name, BASE64.encode(blob))
    }
}

/// Writes the private key file: created new with mode 0600, synced, and its directory synced.
fn write_private(path: &Path, text: &str) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    if let Some(dir) = path.parent() {
        crate::log::sync_directory(dir)?;
    }
    Ok(())
}

/// An auditor's trusted key, parsed from a verifier key string.
#[derive(Debug, Clone)]
pub struct NoteVerifier {
    name: String,
    key_id: [u8; 4],
    public: VerifyingKey,
}

impl NoteVerifier {
    /// Parses `name+<key id hex>+<base64(0x01 || public key)>`, checking that the key id is
    /// the one the name and key give.
    pub fn parse(text: &str) -> Result<NoteVerifier, CheckpointError> {
        let bad = CheckpointError::Malformed("the verifier key is not name+keyid+base64key");
        let parts: Vec<&str> = text.trim().splitn(3, '+').collect();
        let [name, id_hex, key] = parts[..] else {
            return Err(bad);
        };
        let key = BASE64.decode(key).map_err(|_| bad.clone())?;
        let [ALGORITHM_ED25519, public @ ..] = &key[..] else {
            return Err(CheckpointError::Malformed(
                "the verifier key is not an Ed25519 key",
            ));
        };
        let public: [u8; 32] = public.try_into().map_err(|_| bad.clone())?;
        let public = VerifyingKey::from_bytes(&public).map_err(|_| bad.clone())?;
        let key_id = key_id(name, &public);
        if !valid_name(name) || hex::encode(key_id) != id_hex {
            return Err(CheckpointError::Malformed(
                "the verifier key's id does not match its name and key",
            ));
        }
        Ok(NoteVerifier {
            name: name.to_owned(),
            key_id,
            public,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Verifies a signed note with this key and parses its checkpoint, whose origin must be
    /// the key's name. Signatures by other keys are ignored, as C2SP says.
    pub fn verify_checkpoint(&self, note: &str) -> Result<Checkpoint, CheckpointError> {
        if note.len() > NOTE_BYTES_MAX {
            return Err(CheckpointError::Malformed("the note is too large"));
        }
        let split = note
            .rfind("\n\n")
            .ok_or(CheckpointError::Malformed("no blank line before the signatures"))?;
        let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
        let signatures = signatures.strip_suffix('\n').ok_or(CheckpointError::Malformed(
            "the signatures do not end with a newline",
        ))?;
        let mut ours = None;
        for (count, line) in signatures.split('\n').enumerate() {
            if count >= NOTE_SIGNATURES_MAX {
                return Err(CheckpointError::Malformed("too many signatures"));
            }
            let rest = line.strip_prefix("\u{2014} ").ok_or(CheckpointError::Malformed(
                "a signature line does not start with '— '",
            ))?;
            let (name, blob) = rest
                .split_once(' ')
                .ok_or(CheckpointError::Malformed("a signature line has no signature"))?;
            let blob = BASE64
                .decode(blob)
                .map_err(|_| CheckpointError::Malformed("a signature is not base64"))?;
            if blob.len() < 4 {
                return Err(CheckpointError::Malformed("a signature is too short"));
            }
            if name == self.name && blob[..4] == self.key_id {
                ours = Some(blob[4..].to_vec());
            }
        }
        let key_text = format!("{}+{}", self.name, hex::encode(self.key_id));
        let signature = ours.ok_or_else(|| CheckpointError::NoSignature(key_text.clone()))?;
        let signature = ed25519_dalek::Signature::from_slice(&signature)
            .map_err(|_| CheckpointError::BadSignature(key_text.clone()))?;
        self.public
            .verify_strict(text.as_bytes(), &signature)
            .map_err(|_| CheckpointError::BadSignature(key_text))?;
        let checkpoint = Checkpoint::parse_body(text)?;
        if checkpoint.origin != self.name {
            return Err(CheckpointError::WrongOrigin {
                found: checkpoint.origin,
                expected: self.name.clone(),
            });
        }
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_checkpoint_verifies_and_a_changed_or_foreign_one_does_not() {
        let dir = tempfile_dir();
        let signer = CheckpointSigner::load_or_create(&dir, Some("example.org/log")).unwrap();
        let reloaded = CheckpointSigner::load_or_create(&dir, None).unwrap();
        assert_eq!(reloaded.verifier_key(), signer.verifier_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(SIGNING_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let verifier = NoteVerifier::parse(&signer.verifier_key()).unwrap();
        let note = signer.sign(42, Hash32::from_bytes([7; 32]));
        assert!(note.starts_with(
            "example.org/log\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n\u{2014} example.org/log "
        ));
        let checkpoint = verifier.verify_checkpoint(&note).unwrap();
        assert_eq!(
            (checkpoint.size, checkpoint.root),
            (42, Hash32::from_bytes([7; 32]))
        );
        let changed = note.replacen("\n42\n", "\n43\n", 1);
        assert!(matches!(
            verifier.verify_checkpoint(&changed),
            Err(CheckpointError::BadSignature(_))
        ));
        let other_dir = tempfile_dir();
        let other = CheckpointSigner::load_or_create(&other_dir, Some("example.org/log")).unwrap();
        assert!(verifier
            .verify_checkpoint(&other.sign(42, Hash32::from_bytes([7; 32])))
            .is_err());
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::remove_dir_all(other_dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).unwrap();
        let dir = std::env::temp_dir().join(format!("govrec-checkpoint-{}", hex::encode(seed)));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
