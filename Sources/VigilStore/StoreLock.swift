// One writer at a time: `<store>.lock`, by one of two protocols (see
// StoreLockProtocol). The lock is meant to be held for milliseconds, around
// read, compare, write and rename; never across a probe or a spawn.
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
// - The flock file is never deleted. Unlinking it on release races: a waiter
//   that already opened the old inode would lock a file nobody else can
//   find, while a newcomer creates and locks a fresh one, and both "hold" it.
//   (Unlink-on-release is safe only if every writer re-checks the path after
//   locking; plain `flock(1)` does not, and a daemon's writer should be able
//   to use it.) The exclusive-create file is deleted on release: there the
//   file's existence *is* the lock.
// - Lock paths are opened with O_NOFOLLOW and must be regular files: a link
//   planted at `<store>.lock` in a shared folder must not make Vigil create,
//   truncate or write the file it points to. New lock files get the store's
//   permission bits (0600 for a new store), never more.
// - Waiting polls (flock with LOCK_NB, or a new O_EXCL attempt) with short
//   pauses, so the wait has a bound and needs no signal or thread. The async
//   form suspends the task between polls (Task.sleep): it holds no thread of
//   the cooperative pool and ends as soon as the task is cancelled.
// - Descriptors are O_CLOEXEC (system_open): a child spawned while we hold
//   the lock must not keep it alive after we release it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import VigilSystem

/// A held store lock. Released exactly once: by `release()`, or when the
/// value goes out of scope (an exclusive-create lock file is then removed,
/// if it is still the one this lock created).
public struct StoreLock: ~Copyable, Sendable {
    /// The lock file, `<store path>.lock`.
    public let lockPath: String
    /// The protocol it was taken with.
    public let lockProtocol: StoreLockProtocol
    private let descriptor: Int32
    /// exclusive-create: the file this lock created.
    private let created: FileIdentity?

    fileprivate init(lockPath: String, lockProtocol: StoreLockProtocol, descriptor: Int32, created: FileIdentity?) {
        self.lockPath = lockPath
        self.lockProtocol = lockProtocol
        self.descriptor = descriptor
        self.created = created
    }

    /// Releases the lock now.
    public consuming func release() {
        // Ending the value's lifetime runs deinit.
    }

    deinit {
        // exclusive-create: unlink first, while the descriptor still pins the
        // inode, and only if the name still points at our file (botmux's
        // `releaseOwnedLock`). flock: unlock explicitly before closing. A
        // child that another thread is spawning holds a copy of the
        // descriptor until its exec, and a bare close would leave the lock
        // with that copy until then.
        if let created { unlinkIfSameInode(lockPath, created) }
        if lockProtocol == .flock { _ = system_flock(descriptor, LOCK_UN) }
        _ = system_close(descriptor)
    }
}

extension StoreFile {
    /// Takes the store's writer lock, blocking the calling thread while
    /// another holder has it (short sleeps, at most 50 ms each).
    ///
    /// For a synchronous caller that owns its thread. In `async` code use
    /// `lock(using:timeout:notice:)`, which suspends instead.
    /// - Parameters:
    ///   - lockProtocol: the protocol every writer of this store uses.
    ///   - timeout: how long to wait for another holder; zero tries once.
    ///   - notice: told when a stale exclusive-create lock is removed.
    /// - Returns: the held lock.
    /// - Throws: `.locked` if the lock is still held after `timeout`;
    ///   `.notFound` if the store's folder does not exist; `.cannotWrite` if
    ///   the lock file cannot be created or opened, or is a symbolic link or
    ///   not a regular file.
    public func lock(
        _ lockProtocol: StoreLockProtocol = .flock,
        timeout: Duration = .seconds(5),
        notice: (StoreNotice) -> Void = { _ in }
    ) throws(StoreError) -> StoreLock {
        var acquirer = LockAcquirer(file: self, lockProtocol: lockProtocol, timeout: timeout)
        while true {
            if let lock = try acquirer.attempt(notice: notice) { return lock }
            guard let pause = acquirer.nextPause() else { throw acquirer.timeoutError() }
            if pause > .zero { system_sleep(pause) }
        }
    }

    /// Takes the store's writer lock, suspending the task while another
    /// holder has it.
    ///
    /// The wait occupies no thread: between polls the task sleeps
    /// (`Task.sleep`), and cancelling the task ends the wait at once with
    /// `.locked` ("cancelled"), having taken nothing.
    /// - Parameters:
    ///   - lockProtocol: the protocol every writer of this store uses.
    ///   - timeout: how long to wait for another holder; zero tries once.
    ///   - notice: told when a stale exclusive-create lock is removed.
    /// - Returns: the held lock.
    /// - Throws: as `lock(_:timeout:notice:)`, and `.locked` when cancelled.
    public func lock(
        using lockProtocol: StoreLockProtocol,
        timeout: Duration,
        notice: (StoreNotice) -> Void = { _ in }
    ) async throws(StoreError) -> StoreLock {
        var acquirer = LockAcquirer(file: self, lockProtocol: lockProtocol, timeout: timeout)
        while true {
            if Task.isCancelled { throw acquirer.cancelledError() }
            if let lock = try acquirer.attempt(notice: notice) { return lock }
            guard let pause = acquirer.nextPause() else { throw acquirer.timeoutError() }
            do {
                if pause > .zero { try await Task.sleep(for: pause) } else { await Task.yield() }
            } catch {
                throw acquirer.cancelledError()
            }
        }
    }

    /// The permission bits for a new lock (or store) file: the store's own
    /// (read and write bits only), 0600 when there is no store yet.
    var newFileMode: UInt32 {
        guard case .success(let info) = system_stat(path) else { return 0o600 }
        return FileIdentity(info).permissions & 0o666
    }

    /// "5 s", "200 ms".
    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
}

/// The state of one lock wait: the protocol's single attempt, the pause
/// before the next, and what to say when time runs out.
struct LockAcquirer: ~Copyable {
    let storePath: String
    let lockPath: String
    let lockProtocol: StoreLockProtocol
    let timeout: Duration
    let mode: UInt32
    let clock = ContinuousClock()
    let deadline: ContinuousClock.Instant
    /// exclusive-create: what we write into the lock file.
    let payload: [UInt8]
    /// exclusive-create: the least age of a dead holder's lock before it is broken.
    static let minimumStaleAgeMilliseconds: Double = 1000

    /// flock: the open lock file, kept across attempts.
    private var flockDescriptor: Int32?
    private var flockWritable = true
    private var backoff = Duration.milliseconds(1)
    /// The pause the last attempt asks for before the next one.
    private var pause = Duration.zero
    /// Consecutive "try again at once" answers (bounded, then a pause).
    private var immediateRetries = 0
    /// Who held the lock at the last attempt, for the timeout message.
    private var heldBy = "another writer"

    init(file: StoreFile, lockProtocol: StoreLockProtocol, timeout: Duration) {
        storePath = file.path
        lockPath = file.lockPath
        self.lockProtocol = lockProtocol
        self.timeout = timeout
        mode = file.newFileMode
        deadline = clock.now.advanced(by: timeout)
        payload = lockProtocol == .exclusiveCreate ? LockHolder.current().payload : []
    }

    deinit {
        if let flockDescriptor { _ = system_close(flockDescriptor) }
    }

    /// One try: the lock, or nil with `nextPause()` to wait before the next.
    mutating func attempt(notice: (StoreNotice) -> Void) throws(StoreError) -> StoreLock? {
        switch lockProtocol {
        case .flock: return try attemptFlock()
        case .exclusiveCreate: return try attemptExclusiveCreate(notice: notice)
        }
    }

    /// The pause before the next attempt, cut to the time left; nil when the
    /// time is up.
    mutating func nextPause() -> Duration? {
        let now = clock.now
        if pause == .zero && immediateRetries < 8 {
            immediateRetries += 1
            return .zero
        }
        immediateRetries = 0
        guard now < deadline else { return nil }
        return max(.milliseconds(1), min(pause, now.duration(to: deadline)))
    }

    func timeoutError() -> StoreError {
        StoreError(.locked, path: storePath,
                   message: "locked by \(heldBy) through \(lockPath); gave up after \(StoreFile.format(timeout))",
                   underlyingErrno: EWOULDBLOCK)
    }

    func cancelledError() -> StoreError {
        StoreError(.locked, path: storePath, message: "cancelled while waiting for lock \(lockPath) (held by \(heldBy)); nothing written")
    }

    /// A refusal naming the lock path: a symbolic link or not a regular file.
    func refusal() -> StoreError {
        if case .success(let info) = system_lstat(lockPath), FileIdentity(info).isSymbolicLink {
            return StoreError(.cannotWrite, path: storePath, message: "lock file \(lockPath) is a symbolic link; refusing to follow it")
        }
        return StoreError(.cannotWrite, path: storePath, message: "lock file \(lockPath) is not a regular file")
    }

    // MARK: - flock

    private mutating func attemptFlock() throws(StoreError) -> StoreLock? {
        let descriptor = try openFlockFile()
        switch system_flock(descriptor, LOCK_EX | LOCK_NB) {
        case .success:
            if flockWritable { recordHolder(descriptor) }
            flockDescriptor = nil
            return StoreLock(lockPath: lockPath, lockProtocol: .flock, descriptor: descriptor, created: nil)
        case .failure(let error) where error == .wouldBlock:
            heldBy = Self.recordedHolder(descriptor).map { "another writer (pid \($0))" } ?? "another writer"
            pause = backoff
            backoff = min(backoff * 2, .milliseconds(50))
            return nil
        case .failure(let error):
            throw StoreError.fromErrno(error, path: storePath, doing: "cannot lock \(lockPath)")
        }
    }

    /// Opens (creating if needed) the flock file once per wait.
    private mutating func openFlockFile() throws(StoreError) -> Int32 {
        if let flockDescriptor { return flockDescriptor }
        if case .success(let info) = system_lstat(lockPath), !FileIdentity(info).isRegularFile { throw refusal() }
        var descriptor: Int32 = -1
        // Created with O_EXCL so that only a file made here gets the store's
        // mode; an existing one is opened without following a link.
        for _ in 0..<8 where descriptor < 0 {
            switch system_open(lockPath, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, mode: mode) {
            case .success(let fd):
                _ = system_fchmod(fd, mode) // the umask must not widen or narrow it
                descriptor = fd
                continue
            case .failure(let error) where error == .exists:
                break
            case .failure(let error):
                throw StoreError.fromErrno(error, path: storePath, doing: "cannot create lock file \(lockPath)")
            }
            switch system_open(lockPath, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) {
            case .success(let fd):
                descriptor = fd
            case .failure(let error) where error == .noSuchFile:
                continue // removed meanwhile: create it again
            case .failure(let error) where error == Errno(ELOOP):
                throw refusal()
            case .failure(let error) where error == Errno(EACCES) || error == Errno(EROFS):
                // Someone else's lock file we may read but not write: flock works
                // on a read-only descriptor too; we just cannot record our pid.
                guard case .success(let fd) = system_open(lockPath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) else {
                    throw StoreError.fromErrno(error, path: storePath, doing: "cannot open lock file \(lockPath)")
                }
                descriptor = fd
                flockWritable = false
            case .failure(let error):
                throw StoreError.fromErrno(error, path: storePath, doing: "cannot open lock file \(lockPath)")
            }
        }
        guard descriptor >= 0 else {
            throw StoreError(.cannotWrite, path: storePath, message: "cannot open lock file \(lockPath): it keeps disappearing")
        }
        guard case .success(let info) = system_fstat(descriptor), FileIdentity(info).isRegularFile else {
            _ = system_close(descriptor)
            throw refusal()
        }
        flockDescriptor = descriptor
        return descriptor
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

    // MARK: - exclusive-create

    private mutating func attemptExclusiveCreate(notice: (StoreNotice) -> Void) throws(StoreError) -> StoreLock? {
        switch system_open(lockPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY, mode: 0o600) {
        case .success(let descriptor):
            return try publish(descriptor)
        case .failure(let error) where error == .exists:
            break
        case .failure(let error):
            throw StoreError.fromErrno(error, path: storePath, doing: "cannot create lock file \(lockPath)")
        }
        pause = .milliseconds(Int.random(in: 25...50)) // botmux: 25 ms + up to 25 ms
        switch readPinned(lockPath) {
        case .missing:
            pause = .zero // released between our open and our look
        case .notRegular:
            throw refusal()
        case .unstable:
            pause = .milliseconds(1) // being written or replaced: look again soon
        case .observed(let observation):
            let age = Int(max(0, observation.ageMilliseconds))
            guard let holder = observation.holder else {
                heldBy = "an unidentified holder (empty or unreadable payload, \(age) ms old; never broken automatically: remove it if no writer runs)"
                return nil
            }
            let breaker = StaleLockBreaker(lockPath: lockPath, payload: payload,
                                           minimumAgeMilliseconds: Self.minimumStaleAgeMilliseconds, mode: mode)
            switch holder.liveness() {
            case .alive:
                heldBy = "pid \(holder.pid) (running; held for \(age) ms)"
            case .dead(let why) where observation.ageMilliseconds < Self.minimumStaleAgeMilliseconds:
                heldBy = "pid \(holder.pid) (\(why); broken once the lock is 1 s old, it is \(age) ms)"
            case .dead(let why):
                heldBy = "pid \(holder.pid) (\(why); another process is breaking the stale lock)"
                if breaker.breakLock(observed: observation, reason: "\(why); \(age) ms old", notice: notice) {
                    pause = .zero
                }
            }
        }
        return nil
    }

    /// Writes our payload into the lock file we just created and gives it
    /// the store's mode. On failure the file is removed again.
    private func publish(_ descriptor: Int32) throws(StoreError) -> StoreLock {
        guard case .success(let info) = system_fstat(descriptor) else {
            _ = system_close(descriptor)
            _ = system_unlink(lockPath)
            throw StoreError(.cannotWrite, path: storePath, message: "cannot stat the new lock file \(lockPath)")
        }
        let created = FileIdentity(info)
        let written = payload.withUnsafeBytes { system_writeAll(descriptor, $0) }
        var failure: Errno?
        if case .failure(let error) = written { failure = error }
        if failure == nil, case .failure(let error) = system_fchmod(descriptor, mode) { failure = error }
        if let failure {
            unlinkIfSameInode(lockPath, created)
            _ = system_close(descriptor)
            throw StoreError.fromErrno(failure, path: storePath, doing: "cannot write lock file \(lockPath)")
        }
        return StoreLock(lockPath: lockPath, lockProtocol: .exclusiveCreate, descriptor: descriptor, created: created)
    }
}
