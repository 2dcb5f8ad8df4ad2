//! Process-wide memory settings for the programs that hold read models.

/// Limits glibc's malloc to one arena per core.
///
/// glibc gives threads that allocate at the same time their own arenas, up to eight per core,
/// and each arena keeps what is freed in it. Replays, snapshot decodes and `as_of` answers
/// allocate and free hundreds of MiB on several threads (the replay's reader, the snapshot's
/// two decoders, the runtime's workers), so those arenas hold a lot of free memory: at 1M
/// records the peak RSS while serving was 10–15% higher with the default
/// (`docs/performance.md`). Call it first thing in `main`, before any thread starts. Does
/// nothing on other platforms.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |cores| cores.get());
        let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only changes a malloc tunable; M_ARENA_MAX takes any positive count.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}
