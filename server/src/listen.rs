//! Accepting connections, with the limits that keep a flood of idle or slow clients from
//! taking the service down (`axum::serve` sets none of them):
//!
//! - at most [`ConnectionLimits::connections_max`] connections at once, below the process's
//!   file-descriptor limit (raised to its hard limit at start, [`raise_fd_limit`]), so `accept`
//!   never fails with "too many open files"; a connection that finds every slot taken closes
//!   the oldest connection that has not sent a request yet (a flood of silent sockets pays
//!   for itself), or else waits for one to end;
//! - a connection that has not sent a whole request head within
//!   [`ConnectionLimits::header_read_timeout`] is closed: a socket opened and left silent, and
//!   a keep-alive connection idle that long between requests (hyper starts the same timer
//!   while it waits for the next request);
//! - request bodies are read within a time limit before any handler runs (`router`'s
//!   `read_body`), so slow bodies hold connections, never the global concurrency limit.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Limits on connections, in `Limits` (`app.rs`) beside the per-request ones.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub connections_max: usize,
    pub header_read_timeout: Duration,
}

/// File descriptors kept for everything but client connections (the databases' files, the
/// log, the models, threads' pipes).
pub const FDS_RESERVED: u64 = 1024;

/// Raises the soft limit on open files to the hard one and returns the soft limit now in
/// force (unchanged when it cannot be raised).
pub fn raise_fd_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(hard)) = (limit.current, limit.maximum) {
        if current < hard {
            let raised = rustix::process::Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                return hard;
            }
        }
    }
    limit.current.unwrap_or(u64::MAX)
}

/// The connection cap for a process allowed `fd_limit` open files: all but
/// [`FDS_RESERVED`], and never more than `configured`.
pub fn connections_for(fd_limit: u64, configured: usize) -> usize {
    let room = fd_limit.saturating_sub(FDS_RESERVED).max(16);
    configured.min(usize::try_from(room).unwrap_or(usize::MAX))
}

/// The connections that have not sent a request yet, oldest first: the ones given up when a
/// new connection finds every slot taken. A flood of sockets opened and left silent then costs
/// its own oldest sockets, not the service's real clients.
#[derive(Default)]
struct Waiting {
    next_id: std::sync::atomic::AtomicU64,
    by_age: std::sync::Mutex<std::collections::BTreeMap<u64, Arc<tokio::sync::Notify>>>,
}

impl Waiting {
    fn add(&self) -> (u64, Arc<tokio::sync::Notify>) {
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let evict = Arc::new(tokio::sync::Notify::new());
        self.by_age
            .lock()
            .expect("waiting lock")
            .insert(id, evict.clone());
        (id, evict)
    }

    /// The connection sent its first request, or ended.
    fn remove(&self, id: u64) {
        self.by_age.lock().expect("waiting lock").remove(&id);
    }

    /// Tells the oldest connection still waiting for its first request to close; false when
    /// there is none.
    fn evict_oldest(&self) -> bool {
        let oldest = self.by_age.lock().expect("waiting lock").pop_first();
        match oldest {
            Some((_, evict)) => {
                evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections finish
/// their requests (hyper's graceful shutdown) and returns once every one has closed.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let connections_max = limits.connections_max.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(connections_max));
    let waiting = Arc::new(Waiting::default());
    let (closing, _) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of descriptors or memory for a moment: wait, never spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                // Every slot is taken: the oldest silent connection makes room, if there is
                // one; otherwise this one waits for a connection to end.
                if waiting.evict_oldest() {
                    metrics::counter!("govrec_connections_evicted_total").increment(1);
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let (id, evict) = waiting.add();
        let first_request = waiting.clone();
        // Only the first request takes the lock to leave the waiting list; the rest of a
        // keep-alive connection's requests find the flag set.
        let spoken = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let service =
            TowerToHyperService::new(router.clone().map_request(move |request: Request<Incoming>| {
                if !spoken.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    first_request.remove(id);
                }
                request.map(Body::new)
            }));
        let mut closing = closing.subscribe();
        let header_read_timeout = limits.header_read_timeout;
        let ended = waiting.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .keep_alive(true);
            let connection = builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = evict.notified() => Ok(()),
                _ = closing.changed() => {
                    // Finish the request under way, then close.
                    connection.as_mut().graceful_shutdown();
                    connection.as_mut().await
                }
            };
            ended.remove(id);
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended");
            }
        });
    }
    drop(listener);
    closing.send_replace(true);
    // Every connection holds a slot until it ends.
    let all = u32::try_from(connections_max).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}
