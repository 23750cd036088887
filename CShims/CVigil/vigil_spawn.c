// CVigil: spawn one command without a shell and follow it to the end.
//
// The job is a small state machine driven by vigil_job_step(): the same code
// serves the synchronous path (vigil_job_wait polls one job on the calling
// thread) and Swift's reactor (one thread polls many jobs). Keeping it in one
// place is what makes both paths report identical outcomes.

#include "CVigil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if VIGIL_LINUX
#include <sys/syscall.h>
#endif

#if VIGIL_DARWIN
#include <crt_externs.h>
#endif

#define VIGIL_NO_DEADLINE INT64_MAX
#define VIGIL_BACKOFF_MIN_NS (50 * 1000)        /* 50 us */
#define VIGIL_BACKOFF_MAX_NS (5 * 1000 * 1000)  /* 5 ms */
#define VIGIL_READ_CHUNK 65536

/// One captured stream: a heap buffer that grows up to `limit` bytes.
/// Bytes past the limit are read and dropped so the child never blocks.
typedef struct {
    uint8_t *data;
    size_t length;
    size_t capacity;
    size_t limit;
    int truncated;
    int fd;          ///< read end, -1 when closed or not captured
} vigil_stream;

/// The job behind the opaque `vigil_job` of CVigil.h.
struct vigil_job {
    pid_t pid;                 ///< -1 when nothing was spawned
    int pidfd;                 ///< -1 on the portable path, and once reaped
    int uses_pidfd;            ///< the wait is on a pidfd (else the portable wait4 backoff)
    int kind;                  ///< a vigil_kind
    int status;                ///< exit code or signal number
    int error;                 ///< errno for SPAWN_FAILED / WAIT_FAILED
    int reaped;                ///< the child is reaped (or there never was one)
    int kill_sent;             ///< the deadline signal that was sent, 0 if none
    int cancelled;             ///< set by vigil_job_cancel: end now, as at the deadline
    int kill_group_after_exit; ///< from the request: SIGKILL the group's leftovers once the child exited
    int kill_signal;           ///< from the request: the deadline signal
    int64_t drain_ns;          ///< from the request
    int64_t kill_grace_ns;     ///< from the request
    int64_t start_ns;          ///< CLOCK_MONOTONIC
    int64_t end_ns;            ///< when the child was reaped (or the spawn failed)
    int64_t deadline_ns;       ///< absolute; VIGIL_NO_DEADLINE when none
    int64_t kill_at_ns;        ///< absolute time to escalate to SIGKILL
    int64_t drain_until_ns;    ///< absolute; set once reaped
    int64_t backoff_ns;        ///< portable path: current wait4 poll interval
    int64_t next_check_ns;     ///< portable path: when to call wait4(WNOHANG) next
    vigil_stream out;
    vigil_stream err;
    int has_usage;             ///< 1 once `usage` holds what the reaped child used
    vigil_usage usage;
};

int64_t vigil_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + (int64_t)ts.tv_nsec;
}

char *const *vigil_environ(void) {
#if VIGIL_DARWIN
    return *_NSGetEnviron();
#else
    extern char **environ;
    return environ;
#endif
}

// MARK: - pidfd

static int vigil_pidfd_open(pid_t pid) {
#if VIGIL_LINUX && defined(SYS_pidfd_open)
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    return fd; // pidfds are close-on-exec by default
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

int vigil_pidfd_supported(void) {
    int fd = vigil_pidfd_open(getpid());
    if (fd < 0) return 0;
    close(fd);
    return 1;
}

// MARK: - descriptors

static void vigil_close(int *fd) {
    if (*fd >= 0) {
        // Never retry close(2): on Linux the descriptor is gone even on EINTR.
        close(*fd);
        *fd = -1;
    }
}

/// A close-on-exec pipe whose ends are both >= 3, so a dup2 onto 0/1/2 in the
/// child never degenerates into a no-op that keeps FD_CLOEXEC set (which
/// happens when the host has closed its own stdio).
static int vigil_pipe(int fds[2]) {
#if VIGIL_LINUX
    if (pipe2(fds, O_CLOEXEC) != 0) return errno;
#else
    if (pipe(fds) != 0) return errno;
    for (int i = 0; i < 2; i++) {
        if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) {
            int e = errno;
            vigil_close(&fds[0]);
            vigil_close(&fds[1]);
            return e;
        }
    }
#endif
    for (int i = 0; i < 2; i++) {
        if (fds[i] < 3) {
            int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
            if (moved < 0) {
                int e = errno;
                vigil_close(&fds[0]);
                vigil_close(&fds[1]);
                return e;
            }
            close(fds[i]);
            fds[i] = moved;
        }
    }
    return 0;
}

/// Returns 0 or errno: a descriptor left blocking would stall a poller.
static int vigil_set_nonblock(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return errno;
    return 0;
}

/// A capture pipe (see vigil_pipe) whose read end does not block. Returns 0 or errno.
static int vigil_capture_pipe(int fds[2]) {
    int rc = vigil_pipe(fds);
    if (rc == 0 && (rc = vigil_set_nonblock(fds[0])) != 0) {
        vigil_close(&fds[0]);
        vigil_close(&fds[1]);
    }
    return rc;
}

// MARK: - streams

static void vigil_stream_init(vigil_stream *s, size_t limit) {
    s->data = NULL;
    s->length = 0;
    s->capacity = 0;
    s->limit = limit;
    s->truncated = 0;
    s->fd = -1;
}

static void vigil_stream_append(vigil_stream *s, const uint8_t *bytes, size_t n) {
    size_t room = s->limit - s->length;
    size_t take = n < room ? n : room;
    if (take < n) s->truncated = 1;
    if (take == 0) return;
    if (s->length + take > s->capacity) {
        size_t want = s->capacity ? s->capacity * 2 : 1024;
        while (want < s->length + take) want *= 2;
        if (want > s->limit) want = s->limit;
        uint8_t *grown = realloc(s->data, want);
        if (grown == NULL) { s->truncated = 1; return; }
        s->data = grown;
        s->capacity = want;
    }
    memcpy(s->data + s->length, bytes, take);
    s->length += take;
}

/// Reads whatever the pipe holds without blocking; closes it on EOF or error.
static void vigil_stream_drain(vigil_stream *s) {
    uint8_t chunk[VIGIL_READ_CHUNK];
    // At most 1 MiB per step, so one flooding child cannot keep a poller
    // (the reactor serves every run in flight) from the others' deadlines.
    for (int reads = 0; s->fd >= 0 && reads < 16; reads++) {
        ssize_t n = read(s->fd, chunk, sizeof chunk);
        if (n > 0) {
            vigil_stream_append(s, chunk, (size_t)n);
            if ((size_t)n < sizeof chunk) return; // likely empty now; poll will tell
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        vigil_close(&s->fd); // EOF, or an error that no retry will mend
    }
}

// MARK: - resource usage

/// Raises job->usage.self_maxrss to this process's ru_maxrss now. The mark only
/// grows, so a reading at the reap bounds whatever a child took over at its
/// exec (Linux: exec_mmap copies the caller's high-water mark into the
/// child's, after posix_spawn's parent has already been released).
/// RUSAGE_THREAD on Linux: the same ru_maxrss as RUSAGE_SELF (one address
/// space for all threads) without summing every thread's CPU time.
/// C because RUSAGE_THREAD is a GNU macro and the reap happens here.
static void vigil_note_self_maxrss(vigil_job *job) {
    struct rusage self;
#if VIGIL_LINUX
    int who = RUSAGE_THREAD;
#else
    int who = RUSAGE_SELF;
#endif
    if (getrusage(who, &self) == 0 && (int64_t)self.ru_maxrss > job->usage.self_maxrss)
        job->usage.self_maxrss = (int64_t)self.ru_maxrss;
}

static int64_t vigil_timeval_us(struct timeval t) {
    return (int64_t)t.tv_sec * 1000000LL + (int64_t)t.tv_usec;
}

/// Keeps what wait4 reported for the reaped child, and reads this
/// process's own mark again now that the child's exec is long done.
static void vigil_record_usage(vigil_job *job, const struct rusage *r) {
    job->has_usage = 1;
    job->usage.user_us = vigil_timeval_us(r->ru_utime);
    job->usage.system_us = vigil_timeval_us(r->ru_stime);
    job->usage.voluntary_switches = (int64_t)r->ru_nvcsw;
    job->usage.involuntary_switches = (int64_t)r->ru_nivcsw;
    job->usage.maxrss = (int64_t)r->ru_maxrss;
    vigil_note_self_maxrss(job);
}

// MARK: - start

static int64_t vigil_add_clamped(int64_t a, int64_t b) {
    if (b < 0) return VIGIL_NO_DEADLINE;
    if (a > VIGIL_NO_DEADLINE - b) return VIGIL_NO_DEADLINE;
    return a + b;
}

/// A log file is opened by the child's file actions, so the flags that keep
/// it safe live here: O_NOFOLLOW (a symbolic link planted at the log path is
/// not followed; the spawn fails with ELOOP), O_NOCTTY (a new session leader
/// must not acquire a terminal through its log), and a new file is 0600.
static int vigil_route_output(posix_spawn_file_actions_t *fa, int target, int pipe_write,
                              const char *path) {
    if (pipe_write >= 0) return posix_spawn_file_actions_adddup2(fa, pipe_write, target);
    if (path != NULL)
        return posix_spawn_file_actions_addopen(fa, target, path,
                                                O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NOCTTY, 0600);
    return posix_spawn_file_actions_addopen(fa, target, "/dev/null", O_WRONLY, 0);
}

/// The job as it stands before the spawn, with the request's settings.
static void vigil_job_init(vigil_job *job, const vigil_request *req) {
    memset(job, 0, sizeof *job);
    job->pid = -1;
    job->pidfd = -1;
    vigil_stream_init(&job->out, req->stdout_limit);
    vigil_stream_init(&job->err, req->stderr_limit);
    job->start_ns = vigil_now_ns();
    job->deadline_ns = vigil_add_clamped(job->start_ns, req->timeout_ns);
    job->kill_at_ns = VIGIL_NO_DEADLINE;
    job->drain_until_ns = VIGIL_NO_DEADLINE;
    job->drain_ns = req->drain_ns < 0 ? 0 : req->drain_ns;
    job->kill_grace_ns = req->kill_grace_ns < 0 ? 0 : req->kill_grace_ns;
    job->kill_signal = req->kill_signal > 0 ? req->kill_signal : SIGKILL;
    job->kill_group_after_exit = req->kill_group_after_exit;
    job->kind = VIGIL_KIND_RUNNING;
}

/// The child's descriptors: stdin from /dev/null, stdout and stderr to
/// their pipes or files, nothing else (closefrom where libc has it).
static int vigil_file_actions(posix_spawn_file_actions_t *fa, const vigil_request *req,
                              int out_write, int err_write) {
    int rc = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0) rc = vigil_route_output(fa, 1, out_write, req->log_path);
    if (rc == 0) rc = vigil_route_output(fa, 2, err_write, req->stdout_limit == 0 ? req->log_path : NULL);
#if VIGIL_HAVE_ADDCLOSEFROM
    // Closes every descriptor >= 3 in the child, including ones the host
    // opened without O_CLOEXEC.
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(fa, 3);
#endif
    if (rc == 0 && req->cwd != NULL) {
#if VIGIL_HAVE_ADDCHDIR
        rc = posix_spawn_file_actions_addchdir_np(fa, req->cwd);
#else
        rc = ENOTSUP;
#endif
    }
    return rc;
}

/// The child's process group (or session), every signal at its default
/// disposition and an empty signal mask.
static int vigil_attributes(posix_spawnattr_t *attr, int new_session) {
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
#if VIGIL_DARWIN
    // Darwin's counterpart of closefrom: only the dup2/open targets survive.
    flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;
#endif
#if defined(POSIX_SPAWN_SETSID)
    flags |= new_session ? POSIX_SPAWN_SETSID : POSIX_SPAWN_SETPGROUP;
#else
    (void)new_session;
    flags |= POSIX_SPAWN_SETPGROUP;
#endif
    // Every bit set, not sigfillset: glibc's sigfillset leaves out its two
    // reserved real-time signals (32, 33), and posix_spawn then sets them to
    // SIG_IGN in the child, an ignored disposition that survives exec into
    // the child's own children. With all bits set the child starts with no
    // signal ignored (SigIgn: 0 in /proc/<pid>/status).
    sigset_t all, none;
    memset(&all, 0xff, sizeof all);
    sigemptyset(&none);
    int rc = posix_spawnattr_setflags(attr, flags);
    if (rc == 0) rc = posix_spawnattr_setpgroup(attr, 0);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(attr, &all);
    if (rc == 0) rc = posix_spawnattr_setsigmask(attr, &none);
    return rc;
}

/// posix_spawnp with the file actions and attributes above. Returns 0 or errno.
static int vigil_spawn(pid_t *pid, const vigil_request *req, int out_write, int err_write) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) return rc;
    if ((rc = posix_spawnattr_init(&attr)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    rc = vigil_file_actions(&fa, req, out_write, err_write);
    if (rc == 0) rc = vigil_attributes(&attr, req->new_session);
    if (rc == 0) rc = posix_spawnp(pid, req->file, &fa, &attr, req->argv, req->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

/// Ends a job that spawned nothing: finished, with `error` as the reason.
static void vigil_job_fail_spawn(vigil_job *job, int error) {
    job->kind = VIGIL_KIND_SPAWN_FAILED;
    job->error = error;
    job->reaped = 1;
    job->end_ns = vigil_now_ns();
}

vigil_job *vigil_job_start(const vigil_request *req) {
    vigil_job *job = malloc(sizeof *job);
    if (job == NULL) return NULL;
    vigil_job_init(job, req);

    int out_pipe[2] = {-1, -1};
    int err_pipe[2] = {-1, -1};
    int rc = 0;
    if (req->stdout_limit > 0) rc = vigil_capture_pipe(out_pipe);
    if (rc == 0 && req->stderr_limit > 0) rc = vigil_capture_pipe(err_pipe);
    pid_t pid = -1;
    if (rc == 0) rc = vigil_spawn(&pid, req, out_pipe[1], err_pipe[1]);
    vigil_close(&out_pipe[1]);
    vigil_close(&err_pipe[1]);
    if (rc != 0) {
        vigil_close(&out_pipe[0]);
        vigil_close(&err_pipe[0]);
        vigil_job_fail_spawn(job, rc);
        return job;
    }

    job->pid = pid;
    vigil_note_self_maxrss(job);
    job->out.fd = out_pipe[0];
    job->err.fd = err_pipe[0];
    if (req->try_pidfd) job->pidfd = vigil_pidfd_open(pid);
    job->uses_pidfd = job->pidfd >= 0;
    job->backoff_ns = VIGIL_BACKOFF_MIN_NS;
    job->next_check_ns = job->start_ns + job->backoff_ns;
    return job;
}

vigil_job *vigil_job_refused(int error) {
    vigil_request none;
    memset(&none, 0, sizeof none);
    none.timeout_ns = -1;
    vigil_job *job = malloc(sizeof *job);
    if (job == NULL) return NULL;
    vigil_job_init(job, &none);
    vigil_job_fail_spawn(job, error);
    job->end_ns = job->start_ns;
    return job;
}

// MARK: - progress

int vigil_job_fds(const vigil_job *job, int *fds, short *events, int capacity) {
    int n = 0;
    if (!job->reaped && job->pidfd >= 0 && n < capacity) { fds[n] = job->pidfd; events[n] = POLLIN; n++; }
    if (job->out.fd >= 0 && n < capacity) { fds[n] = job->out.fd; events[n] = POLLIN; n++; }
    if (job->err.fd >= 0 && n < capacity) { fds[n] = job->err.fd; events[n] = POLLIN; n++; }
    return n;
}

/// The one rule for ending a job early: the deadline has passed, or the
/// caller cancelled, and the deadline signal has not been sent yet.
static int vigil_deadline_due(const vigil_job *job, int64_t now) {
    return !job->kill_sent && (now >= job->deadline_ns || job->cancelled);
}

/// How a job ends once we have sent it the deadline signal.
static int vigil_kind_after_our_signal(const vigil_job *job) {
    return job->cancelled ? VIGIL_KIND_CANCELLED : VIGIL_KIND_TIMED_OUT;
}

int64_t vigil_job_next_wakeup(const vigil_job *job) {
    if (job->kind != VIGIL_KIND_RUNNING && job->out.fd < 0 && job->err.fd < 0) return 0;
    if (job->reaped) return job->drain_until_ns;
    if (job->cancelled && !job->kill_sent) return 0;
    int64_t t = job->kill_sent ? job->kill_at_ns : job->deadline_ns;
    if (!job->uses_pidfd && job->next_check_ns < t) t = job->next_check_ns;
    return t;
}

/// Portable path: the next wait4 check comes soon (the backoff starts over).
static void vigil_check_soon(vigil_job *job, int64_t now) {
    job->backoff_ns = VIGIL_BACKOFF_MIN_NS;
    job->next_check_ns = now + job->backoff_ns;
}

/// Portable path: the next wait4 check comes later (the backoff doubles, to its cap).
static void vigil_check_later(vigil_job *job, int64_t now) {
    job->backoff_ns *= 2;
    if (job->backoff_ns > VIGIL_BACKOFF_MAX_NS) job->backoff_ns = VIGIL_BACKOFF_MAX_NS;
    job->next_check_ns = now + job->backoff_ns;
}

static void vigil_signal_group(vigil_job *job, int sig) {
    // The child leads its own group (or session), so -pid reaches the
    // grandchildren too. The pid itself as well, in case it left the group.
    kill(-job->pid, sig);
    kill(job->pid, sig);
    job->kill_sent = sig;
}

/// The child is gone: stop waiting on it, give the pipes `drain_ns` more.
static void vigil_mark_reaped(vigil_job *job, int64_t now) {
    job->reaped = 1;
    job->end_ns = now;
    job->drain_until_ns = vigil_add_clamped(now, job->drain_ns);
    vigil_close(&job->pidfd);
}

static void vigil_record_status(vigil_job *job, int status, int64_t now) {
    if (job->kill_sent) {
        // We sent the deadline signal: whatever the child did afterwards
        // (died of it, caught it and exited), the honest answer is "timed
        // out" (or "cancelled", when the caller asked for the end).
        job->kind = vigil_kind_after_our_signal(job);
        job->status = WIFSIGNALED(status) ? WTERMSIG(status) : job->kill_sent;
    } else if (WIFEXITED(status)) {
        job->kind = VIGIL_KIND_EXITED;
        job->status = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        job->kind = VIGIL_KIND_SIGNALED;
        job->status = WTERMSIG(status);
    } else {
        job->kind = VIGIL_KIND_WAIT_FAILED;
        job->error = EINVAL;
    }
    vigil_mark_reaped(job, now);
}

/// Once the child has exited but before it is reaped: SIGKILL whatever is
/// left of its process group. A polite signal (SIGTERM) may have ended the
/// child while a grandchild that ignores it lives on; the unreaped child
/// still holds the group id, so -pid cannot reach a recycled group.
static void vigil_kill_group_if_exited(vigil_job *job) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int r;
    do { r = waitid(P_PID, (id_t)job->pid, &info, WEXITED | WNOHANG | WNOWAIT); } while (r < 0 && errno == EINTR);
    if (r == 0 && info.si_pid == job->pid) kill(-job->pid, SIGKILL);
}

/// One wait4(pid, WNOHANG): never -1, never anyone else's child. wait4 is
/// waitpid plus the child's rusage (the kernel fills it in the same call).
/// Before it, while the exited child still holds its group id: SIGKILL what
/// is left of the group after a polite deadline signal, and for probes
/// (`kill_group_after_exit`) after any exit, so a probe's `cmd &` dies with it.
static void vigil_try_reap(vigil_job *job, int64_t now) {
    if ((job->kill_sent && job->kill_sent != SIGKILL) || job->kill_group_after_exit) vigil_kill_group_if_exited(job);
    int status = 0;
    struct rusage usage;
    pid_t r;
    do { r = wait4(job->pid, &status, WNOHANG, &usage); } while (r < 0 && errno == EINTR);
    if (r == job->pid) {
        vigil_record_usage(job, &usage);
        vigil_record_status(job, status, now);
    } else if (r < 0) {
        // ECHILD: the host ignores SIGCHLD (auto-reap) or reaped our child
        // itself. The exit status is lost; say so rather than guess, unless
        // we had already sent the deadline signal: then it timed out.
        if (job->kill_sent) {
            job->kind = vigil_kind_after_our_signal(job);
            job->status = job->kill_sent;
        } else {
            job->kind = VIGIL_KIND_WAIT_FAILED;
            job->error = errno;
        }
        vigil_mark_reaped(job, now);
    }
}

/// Before the reap: look for the child's exit when there is reason to (a
/// pidfd is ready, the portable backoff is up, or the deadline is due: on
/// the portable path the child may have exited since the last check, and
/// must then be reported as exited, not as timed out).
static void vigil_look_for_exit(vigil_job *job, int64_t now) {
    if (!job->uses_pidfd && now < job->next_check_ns && !vigil_deadline_due(job, now)) return;
    vigil_try_reap(job, now);
    if (!job->reaped && !job->uses_pidfd) vigil_check_later(job, now);
}

/// Before the reap: signal the group when the deadline is due, and
/// escalate to SIGKILL when a polite signal's grace has run out.
static void vigil_enforce_deadline(vigil_job *job, int64_t now) {
    if (vigil_deadline_due(job, now)) {
        vigil_signal_group(job, job->kill_signal);
        job->kill_at_ns = job->kill_signal == SIGKILL ? VIGIL_NO_DEADLINE
                                                      : vigil_add_clamped(now, job->kill_grace_ns);
        // Look again soon: the child dies within microseconds of SIGKILL.
        vigil_check_soon(job, now);
    } else if (job->kill_sent && job->kill_sent != SIGKILL && now >= job->kill_at_ns) {
        vigil_signal_group(job, SIGKILL);
        job->kill_at_ns = VIGIL_NO_DEADLINE;
        vigil_check_soon(job, now);
    }
}

int vigil_job_step(vigil_job *job, int64_t now) {
    if (!job->reaped) vigil_look_for_exit(job, now);
    vigil_stream_drain(&job->out);
    vigil_stream_drain(&job->err);
    if (!job->reaped) {
        vigil_enforce_deadline(job, now);
        return 0;
    }
    if (job->out.fd < 0 && job->err.fd < 0) return 1;
    if (now >= job->drain_until_ns) {
        // The child is gone but something it left behind still holds a pipe.
        // Stop listening; what was read so far is the output.
        vigil_close(&job->out.fd);
        vigil_close(&job->err.fd);
        return 1;
    }
    return 0;
}

void vigil_job_cancel(vigil_job *job) {
    if (job->kind == VIGIL_KIND_RUNNING && !job->reaped) job->cancelled = 1;
}

// MARK: - synchronous wait

int vigil_wake_pipe(int fds[2]) {
    int rc = vigil_pipe(fds);
    if (rc == 0) rc = vigil_set_nonblock(fds[0]);
    if (rc == 0) rc = vigil_set_nonblock(fds[1]);
    if (rc != 0) {
        vigil_close(&fds[0]);
        vigil_close(&fds[1]);
    }
    return rc;
}

int vigil_poll(struct pollfd *p, int n, int64_t wait_ns) {
    if (wait_ns < 0) return poll(p, (nfds_t)n, -1);
#if VIGIL_LINUX
    struct timespec ts;
    ts.tv_sec = (time_t)(wait_ns / 1000000000LL);
    ts.tv_nsec = (long)(wait_ns % 1000000000LL);
    // A NULL mask leaves the caller's signal mask alone.
    return ppoll(p, (nfds_t)n, &ts, NULL);
#else
    int64_t ms = (wait_ns + 999999) / 1000000;
    if (ms > INT_MAX) ms = INT_MAX;
    return poll(p, (nfds_t)n, (int)ms);
#endif
}

void vigil_job_wait(vigil_job *job) {
    for (;;) {
        int64_t now = vigil_now_ns();
        if (vigil_job_step(job, now)) return;
        int fds[3];
        short events[3];
        struct pollfd p[3];
        int n = vigil_job_fds(job, fds, events, 3);
        for (int i = 0; i < n; i++) { p[i].fd = fds[i]; p[i].events = events[i]; p[i].revents = 0; }
        int64_t wake = vigil_job_next_wakeup(job);
        int64_t wait_ns = wake == VIGIL_NO_DEADLINE ? 60LL * 1000000000LL : wake - vigil_now_ns();
        if (wait_ns < 0) wait_ns = 0;
        int rc = vigil_poll(p, n, wait_ns);
        if (rc < 0 && errno != EINTR) {
            // poll itself failed (ENOMEM): do not spin, do not give up on the child.
            struct timespec pause = {0, 1000000};
            nanosleep(&pause, NULL);
        }
    }
}

void vigil_job_free(vigil_job *job) {
    if (job == NULL) return;
    if (job->pid > 0 && !job->reaped) {
        vigil_signal_group(job, SIGKILL);
        int status;
        while (waitpid(job->pid, &status, 0) < 0 && errno == EINTR) {}
        job->reaped = 1;
    }
    vigil_close(&job->pidfd);
    vigil_close(&job->out.fd);
    vigil_close(&job->err.fd);
    free(job->out.data);
    free(job->err.data);
    free(job);
}

// MARK: - reading a job

int vigil_job_kind(const vigil_job *job) { return job->kind; }
int vigil_job_status(const vigil_job *job) { return job->status; }
int vigil_job_error(const vigil_job *job) { return job->error; }
pid_t vigil_job_pid(const vigil_job *job) { return job->pid; }
int64_t vigil_job_deadline_ns(const vigil_job *job) { return job->deadline_ns; }
int vigil_job_waits_on_pidfd(const vigil_job *job) { return job->uses_pidfd; }

int64_t vigil_job_elapsed_ns(const vigil_job *job) {
    int64_t end = job->reaped ? job->end_ns : vigil_now_ns();
    return end > job->start_ns ? end - job->start_ns : 0;
}

const uint8_t *vigil_job_output(const vigil_job *job, int fd, size_t *length, int *truncated) {
    const vigil_stream *s = fd == 2 ? &job->err : &job->out;
    *length = s->data != NULL ? s->length : 0;
    *truncated = s->truncated;
    return *length > 0 ? s->data : NULL;
}

int vigil_job_usage(const vigil_job *job, vigil_usage *usage) {
    if (!job->has_usage) return 0;
    *usage = job->usage;
    return 1;
}
