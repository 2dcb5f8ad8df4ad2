//! A small cache of read-model answers. An answer is a pure function of the route, its query,
//! the caller's scope and the log position, so the key holds all four and entries never need
//! invalidating: a new record moves the head and with it every key. Bounded, oldest first out.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// Answers kept.
pub const ANSWER_CACHE_ENTRIES_MAX: usize = 512;
/// Larger answers are not kept.
pub const ANSWER_CACHE_BODY_BYTES_MAX: usize = 1024 * 1024;

/// A finished answer: its content type, an optional download name, and the body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub content_type: &'static str,
    pub disposition: Option<String>,
    pub body: Bytes,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = ([(header::CONTENT_TYPE, self.content_type)], self.body).into_response();
        if let Some(disposition) = self.disposition.and_then(|d| d.parse().ok()) {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, disposition);
        }
        response
    }
}

#[derive(Default)]
pub struct AnswerCache {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<String, Answer>,
    order: VecDeque<String>,
}

impl AnswerCache {
    pub fn get(&self, key: &str) -> Option<Answer> {
        self.inner.lock().expect("cache lock").by_key.get(key).cloned()
    }

    pub fn put(&self, key: String, answer: Answer) {
        if answer.body.len() > ANSWER_CACHE_BODY_BYTES_MAX {
            return;
        }
        let mut entries = self.inner.lock().expect("cache lock");
        if entries.by_key.insert(key.clone(), answer).is_none() {
            entries.order.push_back(key);
        }
        while entries.order.len() > ANSWER_CACHE_ENTRIES_MAX {
            if let Some(oldest) = entries.order.pop_front() {
                entries.by_key.remove(&oldest);
            }
        }
    }
}
