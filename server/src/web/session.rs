//! Sign-in sessions of the web page. The cookie holds a random session id, never the API token:
//! a copied cookie is worth a session (ended by signing out, by its expiry, or by revoking the
//! token), not the token itself. Only the BLAKE3 hash of each id is kept, in memory; a restart
//! signs everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;

use crate::auth::{Principal, TokenRegistry};

/// Sessions kept at once; past it the one closest to its end is dropped.
pub const SESSIONS_MAX: usize = 10_000;
/// What a session id starts with.
const SESSION_PREFIX: &str = "gvs_";
const SESSION_HASH_CONTEXT: &str = "govrec 2026-12 web session id";

struct Session {
    token_hash: [u8; 32],
    expires: Instant,
}

/// The open sessions, by the hash of their id.
#[derive(Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
}

fn id_hash(id: &str) -> [u8; 32] {
    blake3::derive_key(SESSION_HASH_CONTEXT, id.as_bytes())
}

impl Sessions {
    /// Opens a session for `token` (already checked) lasting `lifetime`; returns its id.
    pub fn open(&self, token: &str, lifetime: Duration) -> String {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let id = format!("{SESSION_PREFIX}{}", hex::encode(secret));
        let now = Instant::now();
        let mut sessions = self.by_hash.lock().expect("sessions lock");
        sessions.retain(|_, session| session.expires > now);
        if sessions.len() >= SESSIONS_MAX {
            let closest = sessions
                .iter()
                .min_by_key(|(_, session)| session.expires)
                .map(|(hash, _)| *hash);
            if let Some(hash) = closest {
                sessions.remove(&hash);
            }
        }
        sessions.insert(
            id_hash(&id),
            Session {
                token_hash: crate::auth::token_hash(token),
                expires: now + lifetime,
            },
        );
        id
    }

    /// The principal of a live session whose token is still valid.
    pub fn principal(&self, id: &str, tokens: &TokenRegistry) -> Option<Principal> {
        let token_hash = {
            let sessions = self.by_hash.lock().expect("sessions lock");
            let session = sessions.get(&id_hash(id))?;
            (session.expires > Instant::now()).then_some(session.token_hash)?
        };
        tokens.authenticate_hash(&token_hash)
    }

    /// Ends a session.
    pub fn close(&self, id: &str) {
        self.by_hash.lock().expect("sessions lock").remove(&id_hash(id));
    }
}
