#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilSystem

/// The threads the `vigil` command runs its tasks on: the main thread, and
/// up to one more per further processor, started when a task is waiting
/// and every thread is busy. The command's root task prefers this executor,
/// and its child tasks (`async let`, task groups) inherit the preference.
///
/// Why not the default pool: the first task sent there starts libdispatch's
/// threads (a worker, a manager with its epoll set, a second worker) before
/// the command runs a line, about 0.4 ms of a 10,000-record restore (issue
/// 11, figure 9); here the root task starts on the main thread at once, and
/// a second thread exists only when two tasks want to run. The executor is
/// the host's choice (the `vigil` executable); the library runs on whatever
/// executor its caller's tasks use.
///
/// A task that blocks its thread (a synchronous wait) holds one of these
/// threads as it would hold a pool thread; tasks the command starts
/// unstructured (`Task.detached`) still go to the default pool.
final class CommandExecutor: TaskExecutor, @unchecked Sendable {
    // Everything below is read and written with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Jobs waiting to run, oldest at `next`.
    private var jobs: [UnownedJob] = []
    private var next = 0
    /// Threads not running a job: waiting for one, just started, or (the
    /// main thread, before `runJobs`) about to. A thread starts only when
    /// more jobs wait than these threads can take.
    private var idle = 1
    /// Threads running jobs or waiting for them, the main thread included.
    private var threads = 1
    private let maximumThreads: Int

    init(threads: Int = system_onlineProcessors()) {
        maximumThreads = max(1, threads)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pthread_mutex_lock(mutex)
        jobs.append(job)
        var startThread = false
        if jobs.count - next > idle && threads < maximumThreads {
            threads += 1
            idle += 1
            startThread = true
        }
        pthread_cond_signal(wake)
        pthread_mutex_unlock(mutex)
        if startThread && !system_startThread({ [self] in runJobs() }) {
            // No thread: the threads there are take the job.
            pthread_mutex_lock(mutex)
            threads -= 1
            idle -= 1
            pthread_mutex_unlock(mutex)
        }
    }

    /// Runs jobs on the calling thread, for ever (the command ends the
    /// process with `exit`). The main thread calls it once its root task
    /// is made.
    func runJobs() -> Never {
        pthread_mutex_lock(mutex)
        while true {
            while next == jobs.count { pthread_cond_wait(wake, mutex) }
            let job = jobs[next]
            next += 1
            if next == jobs.count {
                // Drained: start the array over rather than let it grow.
                jobs.removeAll(keepingCapacity: true)
                next = 0
            }
            idle -= 1
            pthread_mutex_unlock(mutex)
            job.runSynchronously(on: asUnownedTaskExecutor())
            pthread_mutex_lock(mutex)
            idle += 1
        }
    }
}
