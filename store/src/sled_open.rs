//! Opening a sled 0.34.7 database: waiting for its lock, and setting aside the snapshot a
//! kill left half-written.
//!
//! sled writes its snapshot (its page table, the starting point of recovery) only while it
//! opens, at the end of recovery. It writes `snap.{lsn}.generating`, syncs it, and renames it
//! to `snap.{lsn}`: the rename is the commit. But when it reads one back, it takes the
//! highest-sorted file that starts with `snap.`, `.generating` files included
//! (`Config::get_snapshot_files` leaves out only `.in___motion`). So a process killed while
//! sled was writing that file leaves a later, torn snapshot, and every later open fails with
//! `Corruption { at: None }` (spacejam/sled#1527 and #1533; our crash test hit it).
//!
//! A `.generating` file was never committed, so the database is exactly what it was before
//! that open began: the previous snapshot plus the log after it. [`open_sled`] removes such
//! files before opening, while it holds the exclusive lock sled itself takes on the `db` file
//! for as long as a database is open. A live process's file is therefore never removed.

use std::fs::{File, TryLockError};
use std::io::ErrorKind;
use std::path::Path;
use std::time::{Duration, Instant};

/// Opens the sled database `config` points at (its directory is `dir`).
///
/// - Uncommitted `snap.*.generating` files are removed first (see the module doc).
/// - A lock held by another `Db` is waited for up to `lock_wait`: after a `Db` is dropped,
///   sled's background threads can hold it for a moment (sled's own tests block on it for the
///   same reason), so an immediate reopen in the same process would fail spuriously.
pub fn open_sled(config: &sled::Config, dir: &Path, lock_wait: Duration) -> sled::Result<sled::Db> {
    let deadline = Instant::now() + lock_wait;
    loop {
        remove_uncommitted_snapshots(dir)?;
        // sled panics on some damage (a page that decodes to nothing, a truncated segment)
        // instead of answering `Corruption`: caught here, it is reported as corruption.
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.open()))
            .unwrap_or_else(|panic| Err(corruption_from_panic(panic.as_ref())));
        match opened {
            Err(sled::Error::Io(error))
                if error.to_string().contains("could not acquire lock") && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// A sled panic as the `Corruption` error it stands for (logged with the panic's message).
pub(crate) fn corruption_from_panic(panic: &(dyn std::any::Any + Send)) -> sled::Error {
    tracing::error!(panic = %panic_message(panic), "sled panicked on its files: treating them as damaged");
    sled::Error::Corruption { at: None, bt: () }
}

/// The message of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Removes the `snap.*.generating` files in `dir` if no process has the database open; the
/// count removed (0 when another process holds the lock: its open reports that).
pub fn remove_uncommitted_snapshots(dir: &Path) -> std::io::Result<usize> {
    let db_file = match File::open(dir.join("db")) {
        Ok(file) => file,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error),
    };
    // The same flock sled's `try_lock_exclusive` takes; released when `db_file` closes.
    match db_file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(0),
        Err(TryLockError::Error(error)) => return Err(error),
    }
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("snap.") && name.ends_with(".generating") {
            std::fs::remove_file(dir.join(name))?;
            tracing::warn!(
                file = name,
                dir = %dir.display(),
                "removed a sled snapshot that a crash left unfinished (it was never committed)"
            );
            removed += 1;
        }
    }
    if removed > 0 {
        File::open(dir)?.sync_all()?;
    }
    Ok(removed)
}
