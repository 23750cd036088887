// CPerfFloor: a bare posix_spawnp + waitpid loop, the floor for probe costs.

#include "CPerfFloor.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

int64_t cperf_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + (int64_t)ts.tv_nsec;
}

int cperf_exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// stdin from /dev/null, stdout and stderr to /dev/null.
static int cperf_null_stdio(posix_spawn_file_actions_t *fa) {
    int rc = posix_spawn_file_actions_init(fa);
    if (rc != 0) return rc;
    rc = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0) rc = posix_spawn_file_actions_addopen(fa, 1, "/dev/null", O_WRONLY, 0);
    if (rc == 0) rc = posix_spawn_file_actions_addopen(fa, 2, "/dev/null", O_WRONLY, 0);
    if (rc != 0) posix_spawn_file_actions_destroy(fa);
    return rc;
}

/// One spawn and one blocking wait; EINTR retried.
static int cperf_spawn_wait(const char *file, const posix_spawn_file_actions_t *fa,
                            char *const argv[], char *const envp[], int *status) {
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, file, fa, NULL, argv, envp);
    if (rc != 0) return rc;
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR) return errno;
    }
    return 0;
}

int cperf_floor_loop(const char *file, char *const argv[], char *const envp[], int iterations) {
    posix_spawn_file_actions_t fa;
    int rc = cperf_null_stdio(&fa);
    if (rc != 0) return rc;
    int status = 0;
    for (int i = 0; i < iterations && rc == 0; i++) {
        rc = cperf_spawn_wait(file, &fa, argv, envp, &status);
    }
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

int cperf_floor_once(const char *file, char *const argv[], char *const envp[], int *status) {
    posix_spawn_file_actions_t fa;
    int rc = cperf_null_stdio(&fa);
    if (rc != 0) return rc;
    rc = cperf_spawn_wait(file, &fa, argv, envp, status);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

static int64_t cperf_timeval_us(struct timeval t) {
    return (int64_t)t.tv_sec * 1000000LL + (int64_t)t.tv_usec;
}

static long cperf_self_maxrss(void) {
    struct rusage self;
#if defined(__linux__)
    getrusage(RUSAGE_THREAD, &self);
#else
    getrusage(RUSAGE_SELF, &self);
#endif
    return self.ru_maxrss;
}

int cperf_floor_loop_usage(const char *file, char *const argv[], char *const envp[], int iterations,
                           int64_t *child_cpu_us) {
    posix_spawn_file_actions_t fa;
    int rc = cperf_null_stdio(&fa);
    if (rc != 0) return rc;
    volatile long mark = 0;
    for (int i = 0; i < iterations && rc == 0; i++) {
        pid_t pid = -1;
        rc = posix_spawnp(&pid, file, &fa, NULL, argv, envp);
        if (rc != 0) break;
        mark = cperf_self_maxrss();
        int status = 0;
        struct rusage usage;
        while (wait4(pid, &status, 0, &usage) < 0) {
            if (errno != EINTR) { rc = errno; break; }
        }
        if (rc != 0) break;
        long now = cperf_self_maxrss();
        if (now > mark) mark = now;
        *child_cpu_us += cperf_timeval_us(usage.ru_utime) + cperf_timeval_us(usage.ru_stime);
    }
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

int64_t cperf_process_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + (int64_t)ts.tv_nsec;
}

int64_t cperf_children_cpu_us(void) {
    struct rusage children;
    getrusage(RUSAGE_CHILDREN, &children);
    return cperf_timeval_us(children.ru_utime) + cperf_timeval_us(children.ru_stime);
}

double cperf_self_maxrss_ns(int iterations) {
    volatile long sink = 0;
    int64_t start = cperf_now_ns();
    for (int i = 0; i < iterations; i++) sink += cperf_self_maxrss();
    (void)sink;
    return (double)(cperf_now_ns() - start) / (double)(iterations > 0 ? iterations : 1);
}

// MARK: - The I/O floor of a restore

#include <stdlib.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int cperf_io_floor(const char *store, const char *temporary, const char *folder) {
    int in = open(store, O_RDONLY | O_CLOEXEC);
    if (in < 0) return errno;
    struct stat info;
    if (fstat(in, &info) != 0) { int e = errno; close(in); return e; }
    size_t size = (size_t)info.st_size;
    char *buffer = malloc(size > 0 ? size : 1);
    if (buffer == NULL) { close(in); return ENOMEM; }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(in, buffer + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { int e = errno; free(buffer); close(in); return e; }
        if (n == 0) break;
        got += (size_t)n;
    }
    close(in);
    int out = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) { int e = errno; free(buffer); return e; }
    size_t put = 0;
    while (put < got) {
        size_t chunk = got - put > (8u << 20) ? (8u << 20) : got - put;
        ssize_t n = write(out, buffer + put, chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { int e = n < 0 ? errno : EIO; free(buffer); close(out); unlink(temporary); return e; }
        put += (size_t)n;
    }
    free(buffer);
    if (fsync(out) != 0) { int e = errno; close(out); unlink(temporary); return e; }
    if (close(out) != 0) { int e = errno; unlink(temporary); return e; }
    if (rename(temporary, store) != 0) { int e = errno; unlink(temporary); return e; }
    int dir = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return errno;
    int rc = fsync(dir) == 0 || errno == EINVAL ? 0 : errno;
    close(dir);
    return rc;
}

/// Waits for `pid`; its wait status, peak RSS and the time since `started`.
static int cperf_wait_measured(pid_t pid, int64_t started, int *status, long *maxrss_kib, int64_t *elapsed_ns) {
    struct rusage usage;
    while (wait4(pid, status, 0, &usage) < 0) {
        if (errno != EINTR) return errno;
    }
    *elapsed_ns = cperf_now_ns() - started;
    *maxrss_kib = usage.ru_maxrss;
    return 0;
}

int cperf_run_measured(const char *path, char *const argv[], int *status, long *maxrss_kib, int64_t *elapsed_ns) {
    int64_t started = cperf_now_ns();
    pid_t pid = fork();
    if (pid < 0) return errno;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, 1);
        execv(path, argv);
        _exit(127);
    }
    return cperf_wait_measured(pid, started, status, maxrss_kib, elapsed_ns);
}

int cperf_io_floor_measured(const char *store, const char *temporary, const char *folder,
                            int *status, long *maxrss_kib, int64_t *elapsed_ns) {
    int64_t started = cperf_now_ns();
    pid_t pid = fork();
    if (pid < 0) return errno;
    if (pid == 0) {
        int rc = cperf_io_floor(store, temporary, folder);
        _exit(rc == 0 ? 0 : 70);
    }
    return cperf_wait_measured(pid, started, status, maxrss_kib, elapsed_ns);
}
