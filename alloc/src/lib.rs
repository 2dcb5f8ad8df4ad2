//! The memory allocator of the programs that hold read models: jemalloc, with settings that
//! bound what it keeps.
//!
//! The binaries that hold models or serve appends (`govrec` in `server/src/main.rs`,
//! `http-bench` and `replay-bench` in `bench/`; not `store-bench`, which measures the store
//! on the system allocator) start with
//! [`govrec_alloc::use_jemalloc!()`](crate::use_jemalloc), which makes jemalloc the global
//! allocator and gives it [`JEMALLOC_CONF`].
//!
//! Why jemalloc (`docs/performance.md`, "Second session of 2026-11-28", which has the
//! figures): glibc's malloc and free were a fifth of all CPU on the append path, with threads
//! waiting on arena locks (records are allocated on the runtime's workers and freed on the
//! store's threads). Alternated with glibc over HTTP, jemalloc made single appends and batches
//! faster and reads no slower. It keeps more memory than glibc: the `govrec` server's peak RSS
//! at about a million events rose by 35–75 MiB, under the 1 GiB of issue 3. Purging at once
//! (`dirty_decay_ms:0`) kept the least memory but made `as_of` answers 30–70% slower, so freed
//! pages are returned after a second instead.
//!
//! Before, glibc was tuned (a limit of arenas per core, a fixed 4 MiB mmap threshold) to bound
//! the RSS; mimalloc was measured twice and not adopted (a first start at 1,153 MiB).

/// jemalloc's settings, read when it starts:
/// - `background_thread:true`: a jemalloc thread returns freed pages to the system, so a
///   program that frees a whole model and then sleeps does not keep it resident;
/// - `dirty_decay_ms:1000`: freed pages go back after about a second (jemalloc's default is
///   ten), which bounds what the `as_of` answers and rebuilds leave behind them;
/// - `muzzy_decay_ms:0`: pages released lazily are released for good at once;
/// - `tcache_max:131072`: each thread keeps freed blocks of up to 128 KiB for reuse (jemalloc's
///   default is 32 KiB). Cached read answers are 10–40 KB of JSON, and the buffers that carry
///   them to the socket went back to the arena on every request: ledger pages and scores
///   over HTTP fell from 17–25k to 8–12k requests/s with the default, page faults and TLB
///   shootdowns showing in the profile; with this they reach 19–32k, as with glibc.
///
/// The environment variable `_RJEM_MALLOC_CONF` can override them for an experiment.
pub const JEMALLOC_CONF: &[u8] =
    b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,tcache_max:131072\0";

/// jemalloc reads its settings from a C string named `malloc_conf` (with the prefix of the
/// jemalloc build that `tikv-jemallocator` links: `_rjem_`).
#[doc(hidden)]
#[repr(transparent)]
pub struct ConfPointer(pub *const u8);

// SAFETY: the pointer is to a `'static`, immutable byte string that nothing writes.
unsafe impl Sync for ConfPointer {}

#[doc(hidden)]
pub use tikv_jemallocator::Jemalloc;

/// Makes jemalloc the program's global allocator with [`JEMALLOC_CONF`]. Invoke it once, at
/// the top level of a binary's main file (the settings' symbol must be in the binary itself:
/// jemalloc only looks it up, so a library's copy would not be linked in).
#[macro_export]
macro_rules! use_jemalloc {
    () => {
        #[global_allocator]
        static GLOBAL_ALLOCATOR: $crate::Jemalloc = $crate::Jemalloc;

        #[unsafe(export_name = "_rjem_malloc_conf")]
        static JEMALLOC_CONF_POINTER: $crate::ConfPointer =
            $crate::ConfPointer($crate::JEMALLOC_CONF.as_ptr());
    };
}

/// Returns the pages jemalloc holds freed to the system now, rather than after its decay time
/// (for a benchmark that measures a phase's memory apart from the one before it).
pub fn release_freed_memory() {
    const ALL_ARENAS_PURGE: &[u8] = b"arena.4096.purge\0";
    // SAFETY: a documented mallctl name that takes and returns nothing (MALLCTL_ARENAS_ALL =
    // 4096 in jemalloc 5); null pointers and zero lengths are what it expects.
    let _ = unsafe {
        tikv_jemalloc_sys::mallctl(
            ALL_ARENAS_PURGE.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
}
