// The system calls more than one module makes, each written once: EINTR is
// retried the way swift-system's `valueOrErrno(retryOnInterrupt:)` does,
// errno is read right after the failing call, and the caller gets an `Errno`.
// Named after swift-system's `system_open` & co. so that no wrapper shadows
// the libc function it calls.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Runs `body` until it returns something other than -1 with `EINTR` (when
/// `retryOnInterrupt`); -1 with any other errno becomes `.failure`.
@inline(__always)
package func valueOrErrno<I: FixedWidthInteger>(
    retryOnInterrupt: Bool = true, _ body: () -> I
) -> Result<I, Errno> {
    while true {
        let result = body()
        if result != -1 { return .success(result) }
        let error = Errno.current
        if !retryOnInterrupt || error != .interrupted { return .failure(error) }
    }
}

/// `open(2)`. Always adds `O_CLOEXEC`: a child spawned by another thread of the
/// embedding program must not inherit the descriptor (an inherited lock
/// descriptor would keep the lock alive in the child after we release it).
package func system_open(_ path: String, _ flags: Int32, mode: UInt32 = 0) -> Result<Int32, Errno> {
    valueOrErrno { open(path, flags | O_CLOEXEC, mode_t(mode)) }
}

/// `close(2)`. Not retried on EINTR: on Linux the descriptor is gone whatever
/// close returns, and a retry could close a descriptor another thread has
/// just been given.
@discardableResult
package func system_close(_ fd: Int32) -> Result<Void, Errno> {
    close(fd) == -1 ? .failure(.current) : .success(())
}

/// Writes all of `bytes` with `write(2)`, looping over short writes and
/// EINTR. A large buffer goes out in few big calls (Linux caps one call just
/// under 2 GiB). A write that makes no progress is `EIO`.
package func system_writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Result<Void, Errno> {
    var offset = 0
    while offset < bytes.count {
        let chunk = min(bytes.count - offset, 1 << 30)
        switch valueOrErrno({ write(fd, bytes.baseAddress! + offset, chunk) }) {
        case .success(0): return .failure(Errno(EIO))
        case .success(let written): offset += written
        case .failure(let error): return .failure(error)
        }
    }
    return .success(())
}

/// `system_writeAll` of an array.
package func system_writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Result<Void, Errno> {
    bytes.withUnsafeBytes { system_writeAll(fd, $0) }
}

/// The names in folder `path` (without "." and ".."), in the order
/// `readdir(3)` gives them, with `opendir(3)`. The failure is `opendir`'s
/// errno; a `readdir` error ends the list early, as the end of the folder does.
package func system_listFolder(_ path: String) -> Result<[String], Errno> {
    guard let dir = opendir(path) else { return .failure(.current) }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return .success(names)
}

/// `nanosleep(2)` for `duration`, resumed after signals.
package func system_sleep(_ duration: Duration) {
    let (seconds, attoseconds) = duration.components
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR {
        request = remaining
    }
}

/// The body a thread started by `system_startThread` runs, kept alive by
/// the thread until it has run.
private final class ThreadBody {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// Starts a detached thread that runs `body` once. `false` when
/// `pthread_create(3)` fails: then nothing runs, `body` is released, and
/// the caller falls back to doing without the thread.
package func system_startThread(_ body: @escaping @Sendable () -> Void) -> Bool {
    guard let thread = createThread(body) else { return false }
    pthread_detach(thread)
    return true
}

/// A new thread running `body` once; nil (and `body` released) when
/// `pthread_create(3)` fails.
private func createThread(_ body: @escaping @Sendable () -> Void) -> pthread_t? {
    let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { raw in
        Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().run()
        return nil
    }, context)
    guard rc == 0 else {
        Unmanaged<ThreadBody>.fromOpaque(context).release()
        return nil
    }
    return thread
}

/// A thread that runs a body once and is waited for: for work split across
/// cores for a moment (the store file's second half), never left running.
package final class JoinableThread: @unchecked Sendable {
    // Set once by `start`, before the handle is shared.
    private var thread = pthread_t()
    /// Whether the thread was joined or detached: the first of `join`,
    /// `detach` (from any thread) does it, the others return at once.
    private let joined = Atomic<Bool>(false)

    private init() {}

    /// Starts a thread running `body`; nil when `pthread_create(3)` fails
    /// (then nothing runs, and the caller does the work itself).
    package static func start(_ body: @escaping @Sendable () -> Void) -> JoinableThread? {
        guard let thread = createThread(body) else { return nil }
        let handle = JoinableThread()
        handle.thread = thread
        return handle
    }

    /// Waits until the body has returned (the first call; later ones, and
    /// any made while the first waits, return at once).
    package func join() {
        guard !joined.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pthread_join(thread, nil)
    }

    /// Lets the thread end on its own, unwaited (for one whose work is
    /// known to be done: it has only to return).
    package func detach() {
        guard !joined.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pthread_detach(thread)
    }

    deinit { join() }
}

/// A thread started before its work is known, waiting for it: `begin`
/// hands it its body (once), `join` waits until the body has run and the
/// thread has ended, or, when no body was given, ends it without one. For
/// a second thread that should be running by the time the work comes (the
/// store reader's parts, whose thread starts while the file is read:
/// starting a thread costs a tenth of a millisecond on the machine of
/// figure 9, a 10,000-record restore's reading 3 ms).
package final class ParkedThread: Sendable {
    private let slot: Slot
    private let thread: JoinableThread

    private init(slot: Slot, thread: JoinableThread) {
        self.slot = slot
        self.thread = thread
    }

    /// Starts a thread that waits for `begin` or `join`; nil when
    /// `pthread_create(3)` fails.
    package static func start() -> ParkedThread? {
        let slot = Slot()
        guard let thread = JoinableThread.start({ slot.waitAndRun() }) else { return nil }
        return ParkedThread(slot: slot, thread: thread)
    }

    /// Gives the thread its body, which it runs at once.
    package func begin(_ body: @escaping @Sendable () -> Void) { slot.hand(body) }

    /// Waits until the body given has returned (what it wrote is then
    /// visible here), not for the thread to end; without a body, ends the
    /// thread. Waits by spinning for up to `spinLimit` first: a thread
    /// woken from a sleep takes a tenth of a millisecond to run again on
    /// the machine of figure 9, and the other half of a split is mostly a
    /// moment away.
    package func waitForBody() {
        slot.hand(nil)
        slot.waitUntilFinished(spinning: Self.spinLimit)
    }

    /// How long `waitForBody` spins before it sleeps.
    package static let spinLimit: Duration = .milliseconds(1)

    /// Waits until the body given has run and the thread has ended; without
    /// a body, ends the thread. (Also when the handle dies, unless the body
    /// has returned: the thread then ends unwaited.)
    package func join() {
        slot.hand(nil)
        thread.join()
    }

    deinit {
        slot.hand(nil)
        if slot.isFinished { thread.detach() } else { thread.join() }
    }

    /// What the thread waits on: its body, or word that none will come.
    private final class Slot: @unchecked Sendable {
        private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        private let given = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        // Under `mutex`.
        private var body: (@Sendable () -> Void)?
        private var decided = false
        private var finished = false
        /// `finished`, for a spinning waiter.
        private let done = Atomic<Bool>(false)

        init() {
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(given, nil)
        }

        deinit {
            pthread_cond_destroy(given)
            pthread_mutex_destroy(mutex)
            given.deallocate()
            mutex.deallocate()
        }

        /// The body, or nil for none; only the first call counts.
        func hand(_ body: (@Sendable () -> Void)?) {
            pthread_mutex_lock(mutex)
            if !decided {
                decided = true
                self.body = body
                pthread_cond_signal(given)
            }
            pthread_mutex_unlock(mutex)
        }

        func waitAndRun() {
            pthread_mutex_lock(mutex)
            while !decided { pthread_cond_wait(given, mutex) }
            let work = body
            body = nil
            pthread_mutex_unlock(mutex)
            work?()
            pthread_mutex_lock(mutex)
            finished = true
            done.store(true, ordering: .releasing)
            pthread_cond_broadcast(given)
            pthread_mutex_unlock(mutex)
        }

        var isFinished: Bool { done.load(ordering: .acquiring) }

        /// Returns once the body (or none) has run: spinning for up to
        /// `limit`, then asleep.
        func waitUntilFinished(spinning limit: Duration) {
            let clock = ContinuousClock()
            let until = clock.now + limit
            while !done.load(ordering: .acquiring) {
                if clock.now >= until { break }
            }
            pthread_mutex_lock(mutex)
            while !finished { pthread_cond_wait(given, mutex) }
            pthread_mutex_unlock(mutex)
        }
    }
}

/// How many processors are online (at least 1).
package func system_onlineProcessors() -> Int {
    max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}
