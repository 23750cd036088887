// One writer at a time: an advisory flock(2) on `<store>.lock`.
//
// Decisions and hazards:
// - flock, not fcntl/POSIX record locks: POSIX locks belong to the process and
//   vanish when *any* descriptor of the file is closed (a library closing its
//   own descriptor would drop ours), and two threads of one process never
//   exclude each other. flock locks belong to the open file description, so a
//   second `lock()` in the same process conflicts like another process would.
// - A separate lock file, not the store: the store is replaced by rename on
//   every commit, so a lock on its inode would guard a file that is no longer
//   the store.
// - The lock file is never deleted. Unlinking it on release races: a waiter
//   that already opened the old inode would lock a file nobody else can
//   find, while a newcomer creates and locks a fresh one, and both "hold" it.
// - LOCK_NB polled with a short backoff instead of a blocking flock, so the
//   wait has a bound and no signal or thread is needed to interrupt it.
// - The descriptor is O_CLOEXEC: a child spawned while we hold the lock must
//   not keep it alive after we release it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)

/// A held store lock. Released exactly once: by `release()`, or when the
/// value goes out of scope.
public struct StoreLock: ~Copyable, Sendable {
    /// The lock file, `<store path>.lock`.
    public let lockPath: String
    private let descriptor: Int32

    fileprivate init(lockPath: String, descriptor: Int32) {
        self.lockPath = lockPath
        self.descriptor = descriptor
    }

    /// Releases the lock now (closing the descriptor drops the flock).
    public consuming func release() {
        // Ending the value's lifetime runs deinit, which closes the descriptor.
    }

    deinit {
        _ = system_close(descriptor)
    }
}

extension StoreFile {
    /// Takes the store's writer lock, waiting up to `timeout` for another
    /// holder to let go.
    ///
    /// Hold it across load, modify and commit; while it is held the lock
    /// file records this process's id so a waiter can name the holder. The
    /// wait blocks the calling thread (short sleeps, at most 50 ms each).
    /// - Parameter timeout: how long to wait for another holder; zero tries once.
    /// - Returns: the held lock.
    /// - Throws: `.locked` if the lock is still held after `timeout`;
    ///   `.notFound` if the store's folder does not exist; `.cannotWrite` if
    ///   the lock file cannot be created or opened.
    public func lock(timeout: Duration = .seconds(5)) throws(StoreError) -> StoreLock {
        let lockPath = self.lockPath
        var writable = true
        var descriptor: Int32
        switch system_open(lockPath, O_RDWR | O_CREAT | O_NOCTTY, mode: 0o644) {
        case .success(let fd): descriptor = fd
        case .failure(let error) where error == Errno(EACCES) || error == Errno(EROFS):
            // Someone else's lock file we may read but not write: flock works
            // on a read-only descriptor too; we just cannot record our pid.
            guard case .success(let fd) = system_open(lockPath, O_RDONLY | O_NOCTTY) else {
                throw StoreError.fromErrno(error, path: path, doing: "cannot open lock file \(lockPath)")
            }
            descriptor = fd
            writable = false
        case .failure(let error):
            throw StoreError.fromErrno(error, path: path, doing: "cannot create lock file \(lockPath)")
        }

        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var backoff = Duration.milliseconds(1)
        while true {
            switch system_flock(descriptor, LOCK_EX | LOCK_NB) {
            case .success:
                if writable { recordHolder(descriptor) }
                return StoreLock(lockPath: lockPath, descriptor: descriptor)
            case .failure(let error) where error == .wouldBlock:
                let now = clock.now
                guard now < deadline else {
                    let holder = Self.recordedHolder(descriptor)
                    _ = system_close(descriptor)
                    let by = holder.map { "another writer (pid \($0))" } ?? "another writer"
                    throw StoreError(
                        .locked, path: path,
                        message: "locked by \(by) through \(lockPath); gave up after \(Self.format(timeout))",
                        underlyingErrno: error.rawValue
                    )
                }
                system_sleep(min(backoff, now.duration(to: deadline)))
                backoff = min(backoff * 2, .milliseconds(50))
            case .failure(let error):
                _ = system_close(descriptor)
                throw StoreError.fromErrno(error, path: path, doing: "cannot lock \(lockPath)")
            }
        }
    }

    /// Writes "<pid>\n" into the held lock file (best effort: the lock works
    /// without it, only the waiter's message is less precise).
    private func recordHolder(_ descriptor: Int32) {
        _ = system_ftruncate(descriptor, 0)
        _ = system_pwrite(descriptor, Array("\(system_getpid())\n".utf8), at: 0)
    }

    /// The pid recorded in the lock file, if it names a live process. A
    /// holder that is not Vigil (flock(1), say) records nothing, and the pid
    /// left by an earlier holder may be stale, hence the liveness check.
    private static func recordedHolder(_ descriptor: Int32) -> Int32? {
        var bytes = [UInt8](repeating: 0, count: 32)
        let count = bytes.withUnsafeMutableBytes { raw in
            (try? valueOrErrno { pread(descriptor, raw.baseAddress, raw.count, 0) }.get()) ?? 0
        }
        let text = String(decoding: bytes.prefix(count), as: UTF8.self)
        guard let pid = Int32(text.split(separator: "\n").first ?? ""), pid > 0,
              system_processExists(pid) else { return nil }
        return pid
    }

    /// "5 s", "200 ms".
    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
}
