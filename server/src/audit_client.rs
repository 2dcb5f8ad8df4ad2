//! The auditor's client behind `govrec audit`: fetches checkpoints and proofs from a govrec
//! server and trusts nothing it did not verify itself (`docs/merkle.md`). Every check that
//! fails is an [`AuditFailure`] (exit 1); transport and usage problems are plain errors.

use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use govrec_store::merkle::{leaf_hash, root_of_leaves, verify_consistency, verify_inclusion};
use govrec_store::{Checkpoint, Hash32, NoteVerifier, Record, RecordJson, Redaction};
use serde::{Deserialize, Serialize};

/// A check failed: the server or file is not what it claims (a bad signature, a fork, a
/// rollback, a record or proof that does not verify).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuditFailure(pub String);

fn fail<T>(message: impl Into<String>) -> anyhow::Result<T> {
    Err(AuditFailure(message.into()).into())
}

/// What the auditor trusts, kept between runs (`--state FILE`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrustedState {
    /// The pinned verifier key.
    pub verifier_key: String,
    /// The last checkpoint trusted (a signed note).
    pub checkpoint: String,
}

/// A blocking HTTP client for one server and token.
pub struct Server {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Server {
    pub fn new(url: &str, token: &str) -> Server {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(60)))
            .build();
        Server {
            base: url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            agent: config.into(),
        }
    }

    fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let url = format!("{}{path}", self.base);
        let mut response = self
            .agent
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .with_context(|| format!("GET {url}"))?;
        response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .with_context(|| format!("reading the answer of GET {url}"))
    }

    pub(crate) fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let text = self.get_text(path)?;
        serde_json::from_str(&text)
            .with_context(|| format!("the answer of GET {path} is not the expected JSON"))
    }

    /// The server's latest checkpoint, verified with `verifier`.
    fn checkpoint(&self, verifier: &NoteVerifier) -> anyhow::Result<(Checkpoint, String)> {
        let note = self.get_text("/v1/audit/checkpoint")?;
        match verifier.verify_checkpoint(&note) {
            Ok(checkpoint) => Ok((checkpoint, note)),
            Err(error) => fail(format!(
                "BAD CHECKPOINT: the server's checkpoint does not verify with the trusted key: {error}"
            )),
        }
    }
}

#[derive(Deserialize)]
struct KeyAnswer {
    verifier_key: String,
}

#[derive(Deserialize)]
struct ConsistencyAnswer {
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct InclusionAnswer {
    proof: Vec<String>,
}

fn parse_hashes(hex: &[String]) -> anyhow::Result<Vec<Hash32>> {
    hex.iter()
        .map(|text| {
            Hash32::from_hex(text).ok_or_else(|| AuditFailure(format!("{text:?} is not a hash")).into())
        })
        .collect()
}

fn read_state(path: &Path) -> anyhow::Result<Option<TrustedState>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| {
            format!("{} is not a govrec audit state file", path.display())
        })?)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes the state atomically (a temporary file renamed over it).
fn write_state(path: &Path, state: &TrustedState) -> anyhow::Result<()> {
    let temporary = path.with_extension("tmp");
    let text = serde_json::to_string_pretty(state)?;
    {
        use std::io::Write;
        let mut file =
            std::fs::File::create(&temporary).with_context(|| format!("writing {}", temporary.display()))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// `govrec audit checkpoint`: fetch, verify the signature, verify consistency with the last
/// trusted checkpoint, then trust the new one. Returns a line to print.
pub fn checkpoint(server: &Server, state_path: &Path, key: Option<&str>) -> anyhow::Result<String> {
    let state = read_state(state_path)?;
    let mut notes = Vec::new();
    let verifier_key = match (key, &state) {
        (Some(given), Some(state)) if given.trim() != state.verifier_key => {
            return fail(format!(
                "KEY CHANGED: --key is not the key pinned in {} ({})",
                state_path.display(),
                state.verifier_key
            ))
        }
        (Some(given), _) => given.trim().to_owned(),
        (None, Some(state)) => state.verifier_key.clone(),
        (None, None) => {
            let answer: KeyAnswer = server.get_json("/v1/audit/key")?;
            notes.push(format!(
                "note: no key given and no state yet; trusting the server's key on first use: {}",
                answer.verifier_key
            ));
            answer.verifier_key
        }
    };
    let verifier = NoteVerifier::parse(&verifier_key).map_err(|error| anyhow::anyhow!("--key: {error}"))?;
    let (new, note) = server.checkpoint(&verifier)?;
    if let Some(state) = &state {
        let old = verifier.verify_checkpoint(&state.checkpoint).map_err(|error| {
            AuditFailure(format!(
                "the trusted checkpoint in {} does not verify: {error}",
                state_path.display()
            ))
        })?;
        if new.size < old.size {
            return fail(format!(
                "ROLLBACK: the server's log has {} records, fewer than the {} of the trusted checkpoint",
                new.size, old.size
            ));
        }
        if new.size == old.size && new.root != old.root {
            return fail(format!(
                "FORK: the server signed two different roots for size {}: {} (trusted) and {}",
                new.size, old.root, new.root
            ));
        }
        let answer: ConsistencyAnswer = server.get_json(&format!(
            "/v1/audit/proof/consistency?from_size={}&to_size={}",
            old.size, new.size
        ))?;
        let proof = parse_hashes(&answer.proof)?;
        if let Err(error) = verify_consistency(old.size, new.size, &old.root, &new.root, &proof) {
            return fail(format!(
                "FORK: the checkpoint of size {} does not extend the trusted one of size {}: {error}",
                new.size, old.size
            ));
        }
    }
    write_state(
        state_path,
        &TrustedState {
            verifier_key,
            checkpoint: note,
        },
    )?;
    notes.push(format!(
        "ok: trusted checkpoint of {} at size {} root {}",
        new.origin, new.size, new.root
    ));
    Ok(notes.join("\n"))
}

/// `govrec audit prove SEQ`: fetch the record and its inclusion proof against the server's
/// latest checkpoint (verified with the key), recompute the record's hashes, verify the proof.
pub fn prove(server: &Server, seq: u64, key: &str) -> anyhow::Result<String> {
    let verifier = NoteVerifier::parse(key).map_err(|error| anyhow::anyhow!("--key: {error}"))?;
    let (checkpoint, _) = server.checkpoint(&verifier)?;
    if seq >= checkpoint.size {
        return fail(format!(
            "seq {seq} is not in the checkpoint of size {}",
            checkpoint.size
        ));
    }
    let json: RecordJson = server.get_json(&format!("/v1/events/{seq}"))?;
    let record = Record::from_json(json).map_err(|error| AuditFailure(format!("record {seq}: {error}")))?;
    if record.seq != seq {
        return fail(format!("asked for record {seq}, got {}", record.seq));
    }
    if let Err(reason) = record.self_check() {
        return fail(format!("record {seq} does not match its hashes: {reason}"));
    }
    let answer: InclusionAnswer = server.get_json(&format!(
        "/v1/audit/proof/inclusion?seq={seq}&size={}",
        checkpoint.size
    ))?;
    let proof = parse_hashes(&answer.proof)?;
    if let Err(error) = verify_inclusion(
        seq,
        checkpoint.size,
        &leaf_hash(&record.hash),
        &proof,
        &checkpoint.root,
    ) {
        return fail(format!(
            "record {seq} is not proven in the checkpoint of size {}: {error}",
            checkpoint.size
        ));
    }
    Ok(format!(
        "ok: record {seq} (hash {}) is in the log {} of size {} root {}",
        record.hash, checkpoint.origin, checkpoint.size, checkpoint.root
    ))
}

/// The redaction markers met in records read in seq order (`record-format.md`, "Redacted
/// records"): record K of each marker must be the `Redacted` event naming the marked record
/// and exactly its fields. Shared by `verify-export` and `govrec backup`.
#[derive(Default)]
pub(crate) struct Promises(std::collections::BTreeMap<u64, (u64, Redaction)>);

impl Promises {
    /// Checks `record` against the marker that named it as record K, if any, then keeps its own
    /// marker; the reason when either fails.
    pub(crate) fn take(&mut self, record: &Record) -> Result<(), String> {
        if let Some((target, marker)) = self.0.remove(&record.seq) {
            if !govrec_store::redaction_matches(&record.event, target, &marker) {
                return Err(format!(
                    "record {target} is marked redacted by this record, which is not the \
                     Redacted event naming it and its fields"
                ));
            }
        }
        if let Some(redaction) = &record.redaction {
            if self
                .0
                .insert(redaction.by_seq, (record.seq, redaction.clone()))
                .is_some()
            {
                return Err(format!(
                    "two records are marked redacted by record {}",
                    redaction.by_seq
                ));
            }
        }
        Ok(())
    }

    /// A marker whose record K never came: `(marked record, K)`.
    pub(crate) fn unkept(self) -> Option<(u64, u64)> {
        self.0
            .into_iter()
            .next()
            .map(|(by_seq, (target, _))| (target, by_seq))
    }
}

/// `govrec audit verify-export FILE --checkpoint NOTE --key KEY`, offline: the checkpoint's
/// signature, the export's chain (as `record-format.md` says), and that the Merkle root of its
/// first `size` records is the checkpoint's root.
pub fn verify_export(file: &Path, note: &str, key: &str) -> anyhow::Result<String> {
    let verifier = NoteVerifier::parse(key).map_err(|error| anyhow::anyhow!("--key: {error}"))?;
    let checkpoint = match verifier.verify_checkpoint(note) {
        Ok(checkpoint) => checkpoint,
        Err(error) => return fail(format!("BAD CHECKPOINT: {error}")),
    };
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
    );
    let mut leaves = Vec::new();
    let mut prev_hash = Hash32::ZERO;
    let mut promised = Promises::default();
    for (index, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", file.display()))?;
        let number = index + 1;
        let json: RecordJson = match serde_json::from_str(&line) {
            Ok(json) => json,
            Err(error) => return fail(format!("line {number}: not a record: {error}")),
        };
        let record = match Record::from_json(json) {
            Ok(record) => record,
            Err(error) => return fail(format!("line {number}: {error}")),
        };
        if record.seq != index as u64 {
            return fail(format!("line {number}: seq {} where {index} belongs", record.seq));
        }
        if record.prev_hash != prev_hash {
            return fail(format!(
                "line {number} (seq {index}): prev_hash is not the previous record's hash"
            ));
        }
        if let Err(reason) = record.self_check() {
            return fail(format!("line {number} (seq {index}): {reason}"));
        }
        if let Err(reason) = promised.take(&record) {
            return fail(format!("line {number} (seq {index}): {reason}"));
        }
        prev_hash = record.hash;
        leaves.push(leaf_hash(&record.hash));
    }
    if let Some((target, by_seq)) = promised.unkept() {
        return fail(format!(
            "record {target} is marked redacted by record {by_seq}, which the export does not hold"
        ));
    }
    if (leaves.len() as u64) < checkpoint.size {
        return fail(format!(
            "the export has {} records, fewer than the checkpoint's {}",
            leaves.len(),
            checkpoint.size
        ));
    }
    let root = root_of_leaves(&leaves[..checkpoint.size as usize]);
    if root != checkpoint.root {
        return fail(format!(
            "the export's first {} records have root {root}, not the checkpoint's {}",
            checkpoint.size, checkpoint.root
        ));
    }
    Ok(format!(
        "ok: {} records, chain intact; the first {} match the checkpoint of {} (root {})",
        leaves.len(),
        checkpoint.size,
        checkpoint.origin,
        checkpoint.root
    ))
}
