//! Process-wide memory settings for the programs that hold read models.

/// glibc's default is eight per core (on 64-bit); see [`tune_malloc`].
const ARENAS_PER_CORE: usize = 4;

/// Allocations of at least this size get their own mapping, returned to the system on free.
const MMAP_THRESHOLD_BYTES: i32 = 4 << 20;

/// Tunes glibc's malloc for a process that builds and drops whole read models.
///
/// - **Four arenas per core** ([`ARENAS_PER_CORE`]). glibc gives threads that allocate at the
///   same time their own arenas, up to eight per core, and each keeps what is freed in it.
///   Replays, snapshot decodes and `as_of` answers allocate and free hundreds of MiB on
///   several threads (the replay's reader, the snapshot's two decoders, the runtime's
///   workers). One arena per core kept the RSS lowest, but the append path's threads (two
///   runtime workers, the store's writer, applier and syncer, sled's I/O threads) then waited
///   on the arena locks: batches of 100 from 64 clients went from 96–107k to 104–121k
///   events/s with four per core, for 10–28 MiB more peak RSS on the 1M-event server
///   (`docs/performance.md`, 2026-11-28).
/// - **A fixed mmap threshold of 4 MiB.** glibc raises its threshold up to 32 MiB whenever a
///   mapped block is freed, after which the big buffers of a snapshot decode (the 36 MiB
///   snapshot, the entity `Vec`s, the id index) come from the heap and stay resident after
///   they are freed, beside the next model built.
///
/// When these settings were chosen, at 1M events the peak RSS while serving (`replay-bench`)
/// was 1,056–1,245 MiB with glibc's defaults, 1,009–1,023 MiB with one arena per core, and
/// 862–867 MiB with that and the threshold, with no measurable change in `as_of` times
/// (`docs/performance.md`). mimalloc was measured as a
/// replacement twice and not adopted: faster in the benchmarks, but the server's peak RSS on
/// a first start at 1M events went from 782 MiB to 1,153 MiB (`docs/performance.md`, fourth
/// session). Call it
/// first thing in `main`, before any thread starts. Does nothing on other platforms.
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |cores| cores.get());
        let arenas = libc::c_int::try_from(cores.max(2) * ARENAS_PER_CORE).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only changes malloc tunables; both take any positive value.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
        }
    }
}
