// CVigil: the C layer under Vigil's prober.
//
// It runs one command without a shell (posix_spawnp), in its own process
// group, with a clean descriptor table, every signal at its default
// disposition (none ignored, glibc's reserved ones included) and an
// empty signal mask, and waits for it with a deadline while draining its
// stdout and stderr. Every outcome stays apart: a spawn errno, an exit code,
// a terminating signal, a timeout and a wait failure are different kinds.
//
// Guest rules: no signal handlers, no waitpid(-1), no change to the caller's
// signal mask or working directory, no global mutable state. Every function
// here is reentrant; one job is owned by one thread at a time.

#ifndef CVIGIL_H
#define CVIGIL_H

#include "vigil_platform.h"

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// How the end of a job came about. Mirrors Swift's `Termination`.
typedef enum {
    VIGIL_KIND_RUNNING = 0,       ///< not finished yet
    VIGIL_KIND_SPAWN_FAILED = 1,  ///< posix_spawnp (or its setup) failed: `error` holds errno
    VIGIL_KIND_EXITED = 2,        ///< normal exit: `status` holds the code 0..255
    VIGIL_KIND_SIGNALED = 3,      ///< killed by a signal we did not send: `status` holds it
    VIGIL_KIND_TIMED_OUT = 4,     ///< deadline passed; we killed the group with signal `status`
    VIGIL_KIND_WAIT_FAILED = 5,   ///< waitpid/poll failed (ECHILD when the host auto-reaps): `error`
    VIGIL_KIND_CANCELLED = 6,     ///< the caller cancelled; we killed the group with signal `status`
} vigil_kind;

/// What a reaped child used, from the rusage of the wait4 that reaped it
/// (the child and the descendants it waited for), flattened to integers.
typedef struct {
    int64_t user_us;              ///< ru_utime in microseconds
    int64_t system_us;            ///< ru_stime in microseconds
    int64_t voluntary_switches;   ///< ru_nvcsw
    int64_t involuntary_switches; ///< ru_nivcsw
    int64_t maxrss;               ///< ru_maxrss as the platform gives it (KiB on Linux, bytes on Darwin)
    int64_t self_maxrss;          ///< this process's own ru_maxrss (getrusage), same unit: the larger
                                  ///< of the readings right after the spawn and at the reap; 0 if unread
} vigil_usage;

/// What to run. All pointers are borrowed for the duration of vigil_job_start.
typedef struct {
    const char *file;          ///< name looked up on PATH by libc, or a path with '/'
    char *const *argv;         ///< NULL-terminated, argv[0] included
    char *const *envp;         ///< NULL-terminated; the child's whole environment
    const char *cwd;           ///< NULL to inherit the caller's
    int64_t timeout_ns;        ///< relative deadline; < 0 means none
    int64_t drain_ns;          ///< after the child is reaped, how long to wait for pipe EOF
    int64_t kill_grace_ns;     ///< when kill_signal != SIGKILL, wait this long before SIGKILL
    size_t stdout_limit;       ///< bytes of stdout kept; 0: stdout is not captured
    size_t stderr_limit;       ///< bytes of stderr kept; 0: stderr is not captured
    int kill_signal;           ///< signal sent to the group at the deadline (SIGKILL default)
    int try_pidfd;             ///< wait on a pidfd where the kernel gives one; else (and when
                               ///< refused) the portable wait4(WNOHANG) backoff
    int new_session;           ///< setsid() in the child instead of a new process group
    const char *log_path;      ///< where output that is not captured goes, appended (NULL: /dev/null):
                               ///< stdout when stdout_limit == 0, and stderr when neither is captured
    int kill_group_after_exit; ///< once the child has exited, SIGKILL what is left of its group (probes)
} vigil_request;

/// A running or finished job: opaque, owned by the caller from vigil_job_start
/// (or vigil_job_refused) to vigil_job_free, touched by one thread at a time.
typedef struct vigil_job vigil_job;

/// Monotonic clock in nanoseconds. C because clock_gettime's macros
/// (CLOCK_MONOTONIC) are not uniformly importable.
int64_t vigil_now_ns(void);

/// Spawns the request and returns the job, running, or finished as
/// VIGIL_KIND_SPAWN_FAILED with vigil_job_error() set; never a shell.
/// NULL only when the job itself cannot be allocated.
/// C because posix_spawn attributes and file actions are macros and
/// non-portable extensions (addclosefrom_np, POSIX_SPAWN_CLOEXEC_DEFAULT).
vigil_job *vigil_job_start(const vigil_request *request);

/// A job that spawned nothing, finished as VIGIL_KIND_SPAWN_FAILED with
/// `error`: for a request refused before the spawn (a NUL byte in a string).
/// NULL only when the job itself cannot be allocated.
vigil_job *vigil_job_refused(int error);

/// Fills up to 3 pollfd-style (fd, events) pairs that the job waits on and
/// returns how many. `events` uses POLLIN. The caller polls them (poll, epoll)
/// with a timeout no later than vigil_job_next_wakeup().
int vigil_job_fds(const vigil_job *job, int *fds, short *events, int capacity);

/// The absolute CLOCK_MONOTONIC time at which the job needs attention even if
/// no descriptor is ready (deadline, escalation, drain end, portable backoff).
int64_t vigil_job_next_wakeup(const vigil_job *job);

/// Advances the job: reads whatever its pipes hold without blocking, reaps the
/// child if it exited, enforces the deadline. Returns 1 when the job is
/// finished (all descriptors closed, child reaped), 0 otherwise.
int vigil_job_step(vigil_job *job, int64_t now_ns);

/// Asks a running job to end now: the next vigil_job_step signals its group
/// as the deadline would (same signal, same escalation) and the job ends as
/// VIGIL_KIND_CANCELLED. No effect on a job that has already been reaped.
void vigil_job_cancel(vigil_job *job);

/// Runs a started job to the end on the calling thread with poll(2).
/// Returns when vigil_job_step reports it finished.
void vigil_job_wait(vigil_job *job);

/// Closes anything still open and frees the job. If the child was never
/// reaped (caller abandoned the job), it is killed and reaped first.
void vigil_job_free(vigil_job *job);

// MARK: - Reading a job

/// A vigil_kind: VIGIL_KIND_RUNNING until the child is reaped (or the spawn failed).
int vigil_job_kind(const vigil_job *job);
/// The exit code (EXITED) or the signal number (SIGNALED, TIMED_OUT, CANCELLED).
int vigil_job_status(const vigil_job *job);
/// The errno of SPAWN_FAILED or WAIT_FAILED; 0 otherwise.
int vigil_job_error(const vigil_job *job);
/// The child's pid; -1 when nothing was spawned.
pid_t vigil_job_pid(const vigil_job *job);
/// The absolute CLOCK_MONOTONIC deadline; INT64_MAX when there is none.
int64_t vigil_job_deadline_ns(const vigil_job *job);
/// From the start to the reap (so far, while running).
int64_t vigil_job_elapsed_ns(const vigil_job *job);
/// 1 when the job waits (or waited) on a pidfd, 0 on the portable path.
int vigil_job_waits_on_pidfd(const vigil_job *job);
/// The bytes captured from fd 1 or 2 (NULL when none) and their count; sets
/// `*truncated` to 1 when the stream passed its limit.
const uint8_t *vigil_job_output(const vigil_job *job, int fd, size_t *length, int *truncated);
/// Fills `*usage` and returns 1 once the reaped child's rusage is known; 0 otherwise.
int vigil_job_usage(const vigil_job *job, vigil_usage *usage);

// MARK: - Polling

/// poll(2) with a nanosecond timeout: ppoll on Linux (with a NULL mask, so
/// the caller's signal mask is untouched), poll elsewhere. `wait_ns` < 0
/// waits without limit. EINTR is returned to the caller, who recomputes.
int vigil_poll(struct pollfd *fds, int count, int64_t wait_ns);

/// A close-on-exec, non-blocking pipe for waking a poller. Returns 0 or errno.
int vigil_wake_pipe(int fds[2]);

/// The process environment (`environ`), read-only. C because `environ` is
/// not exported the same way on every libc.
char *const *vigil_environ(void);

/// Whether this kernel and libc give us pidfd_open(2). Probed per call, no cache.
int vigil_pidfd_supported(void);

#ifdef __cplusplus
}
#endif

#endif // CVIGIL_H
