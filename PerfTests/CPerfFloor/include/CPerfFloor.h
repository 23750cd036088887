// CPerfFloor: the floor that Vigil's probes are measured against.
//
// A bare posix_spawnp + waitpid loop with no capture, no deadline, no process
// group and no Swift: the least a program can do to run a command and learn
// how it ended. Whatever Vigil costs beyond this is its own overhead.

#ifndef CPERFFLOOR_H
#define CPERFFLOOR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// CLOCK_MONOTONIC in nanoseconds, the clock every figure is timed with (and
/// the one Vigil's deadlines use). C because CLOCK_MONOTONIC is a macro.
int64_t cperf_now_ns(void);

/// Runs `file` (looked up on PATH like Vigil does) `iterations` times, one
/// after the other: posix_spawnp, then a blocking waitpid. stdin reads from
/// /dev/null and stdout/stderr go to /dev/null, the same I/O shape as a probe
/// except that nothing is captured. The file actions are built once, outside
/// the loop. Returns 0, or the errno of the first spawn or wait that failed.
/// C so that the floor contains no Swift at all.
int cperf_floor_loop(const char *file, char *const argv[], char *const envp[], int iterations);

/// Runs `file` once as cperf_floor_loop does and stores the child's raw wait
/// status in `*status` (decode with cperf_exit_code). Returns 0 or errno.
/// Used once before measuring, to check that the floor runs the same probe
/// (for example that `tmux has-session` really answers 0).
int cperf_floor_once(const char *file, char *const argv[], char *const envp[], int *status);

/// cperf_floor_loop with what Vigil adds to collect each child's figures:
/// wait4 with an rusage instead of waitpid, and this process's own
/// ru_maxrss read twice (after the spawn and at the reap, getrusage
/// RUSAGE_THREAD on Linux), exactly the calls the shim makes. The children's
/// user + system time is added to `*child_cpu_us`. The difference to
/// cperf_floor_loop, measured in the same run, is the cost of the figures.
/// C so that the comparison contains no Swift at all.
int cperf_floor_loop_usage(const char *file, char *const argv[], char *const envp[], int iterations,
                           int64_t *child_cpu_us);

/// Nanoseconds per getrusage(RUSAGE_THREAD) (RUSAGE_SELF off Linux), over
/// `iterations` calls in a row: the read of its own mark that Vigil makes
/// twice per child, timed alone. C for the same reason as the loops.
double cperf_self_maxrss_ns(int iterations);

/// This process's CPU time (all threads, user + system) in nanoseconds:
/// CLOCK_PROCESS_CPUTIME_ID. C because the clock id is a macro.
int64_t cperf_process_cpu_ns(void);

/// User + system time of the children this process has waited for, in
/// microseconds: getrusage(RUSAGE_CHILDREN). C because RUSAGE_CHILDREN is a
/// macro (an enum on glibc).
int64_t cperf_children_cpu_us(void);

/// The I/O floor of a restore: everything a store rewrite cannot avoid, in C
/// with raw syscalls. Reads `store` whole (one fstat, reads into one buffer
/// of its size), writes the same bytes to `temporary` (created O_EXCL, mode
/// 0600) in writes of at most 8 MiB, fsyncs it, renames it over `store`, and
/// fsyncs the folder `folder`. The store keeps its bytes (it is replaced by
/// a copy of itself). Returns 0, or the errno of the first call that failed.
/// C so that the floor contains no Swift at all.
int cperf_io_floor(const char *store, const char *temporary, const char *folder);

/// Runs the program at `path` with `argv` (NULL-terminated) in a forked
/// child, its standard output on /dev/null, waits for it, and returns its
/// wait status in `*status` and its peak resident set (`ru_maxrss` from
/// wait4, KiB) in `*maxrss_kib`. Forked, not spawned: a vfork-style child
/// shares this process's memory until it execs, and Linux would count this
/// process's peak as the child's (a forked child carries over only its own
/// pages, so the figure is the program's peak or, for a program smaller
/// than this process, this process's resident size). `*elapsed_ns`: from
/// just before the fork to the reap. Returns 0, or errno.
int cperf_run_measured(const char *path, char *const argv[], int *status, long *maxrss_kib, int64_t *elapsed_ns);

/// `cperf_io_floor` in a forked child (no exec: a C process of this one's
/// pages, no runtime to start), timed like `cperf_run_measured`; the
/// child exits 0, or 70 if the floor failed. Returns 0, or errno.
int cperf_io_floor_measured(const char *store, const char *temporary, const char *folder,
                            int *status, long *maxrss_kib, int64_t *elapsed_ns);

/// The exit code (0...255) of a wait status, or -1 when the child did not
/// exit normally. C because WIFEXITED/WEXITSTATUS are macros.
int cperf_exit_code(int status);

#ifdef __cplusplus
}
#endif

#endif // CPERFFLOOR_H
