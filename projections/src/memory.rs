//! Memory of the programs that hold read models: they run on mimalloc.
//!
//! `govrec`, `http-bench` and `replay-bench` declare [`mimalloc::MiMalloc`] as their global
//! allocator (`#[global_allocator]` in each `main`; the test binaries keep the system one).
//! Replays, snapshot decodes and `as_of` answers allocate and free hundreds of MiB on several
//! threads, and the append path allocates per field of every event. Measured against glibc's
//! malloc (tuned with one arena per core and a fixed 4 MiB mmap threshold, which it had been
//! until then), alternated on the same 2-core machine (`docs/performance.md`, fourth session):
//!
//! - restart from the snapshot at 1M events: 0.26–0.32 s against 0.52–0.56 s;
//! - the worst `as_of` at 950k records: 147–156 ms against 203–219 ms in `replay-bench`'s
//!   sequence;
//! - batches of 100 over HTTP: 87–96k against 71–82k events/s;
//! - peak RSS while serving 1M events: 834–839 MiB against 653–656 MiB. mimalloc keeps freed
//!   memory for a short delay (10 ms) before it returns it to the system; that is the price,
//!   under the 1 GiB target.
//!
//! jemalloc was measured too and not adopted: its `as_of` and restart were no better than
//! glibc's, at 742–747 MiB.

/// Returns the memory mimalloc holds free to the system now, as `malloc_trim` does for
/// glibc (the benchmark calls it before it measures the serving phase's peak).
pub fn release_free_memory() {
    // SAFETY: mi_collect only frees what no allocation uses; it has no preconditions.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
