// The writer lock: in one process (flock locks belong to the open file
// description, so two `lock()` calls conflict like two processes would) and
// across processes with util-linux flock(1) holding it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import Synchronization
import Testing
@testable import VigilStore
import VigilTestSupport

@Suite struct StoreLockTests {
    @Test func secondLockWaitsThenFailsWithLocked() throws {
        try withTemporaryDirectory { dir in
            let file = StoreFile(path: dir + "/sessions.json")
            let first = try file.lock()
            let clock = ContinuousClock()
            let start = clock.now
            let error = storeError { () throws(StoreError) in _ = try file.lock(timeout: .milliseconds(200)) }
            let waited = clock.now - start
            #expect(error?.category == .locked)
            #expect(error?.exitCode == 75)
            #expect(error?.description == "store \(dir)/sessions.json: locked by another writer (pid \(getpid())) through \(dir)/sessions.json.lock; gave up after 200 ms")
            #expect(waited >= .milliseconds(190), "it must wait for the bound before giving up")

            first.release()
            let second = try file.lock(timeout: .milliseconds(200))
            #expect(second.lockPath == dir + "/sessions.json.lock")
            second.release()
        }
    }

    @Test func lockIsReleasedAtTheEndOfItsScope() throws {
        try withTemporaryDirectory { dir in
            let file = StoreFile(path: dir + "/sessions.json")
            do {
                let held = try file.lock()
                #expect(held.lockPath == file.lockPath)
            }
            let again = try file.lock(timeout: .zero)
            again.release()
            // The lock file stays: deleting it would let two writers lock
            // two different inodes.
            #expect(folderNames(dir) == ["sessions.json.lock"])
        }
    }

    @Test func lockInAMissingFolderIsNotFound() throws {
        try withTemporaryDirectory { dir in
            let error = storeError { () throws(StoreError) in _ = try StoreFile(path: dir + "/no/sessions.json").lock() }
            #expect(error?.category == .notFound)
            #expect(error?.message.contains("cannot create lock file") == true)
        }
    }

    @Test(.enabled(if: access("/usr/bin/flock", X_OK) == 0, "needs util-linux flock(1)"), .timeLimit(.minutes(1)))
    func lockHeldByAnotherProcess() throws {
        try withTemporaryDirectory { dir in
            let file = StoreFile(path: dir + "/sessions.json")
            let ready = dir + "/ready"
            // flock -o: the lock stays with the flock process (not the shell),
            // so killing flock releases it.
            let holder = try Child.spawn([
                "/usr/bin/flock", "-o", file.lockPath, "/bin/sh", "-c", "echo $$ > \(ready); exec sleep 30",
            ])
            #expect(waitUntil(milliseconds: 10_000) { (try? readText(ready))?.hasSuffix("\n") == true })
            let shellPID = Int32((try readText(ready)).split(separator: "\n").first ?? "") ?? 0
            defer { if shellPID > 0 { kill(shellPID, SIGKILL) } }

            let error = storeError { () throws(StoreError) in _ = try file.lock(timeout: .milliseconds(200)) }
            #expect(error?.category == .locked)
            #expect(error?.message.hasPrefix("locked by another writer through") == true, "flock(1) records no pid")

            holder.send(SIGKILL)
            holder.wait()
            let lock = try file.lock(timeout: .seconds(5))
            lock.release()
        }
    }

    @Test(.enabled(if: access("/usr/bin/flock", X_OK) == 0, "needs util-linux flock(1)"), .timeLimit(.minutes(1)))
    func waiterGetsTheLockWhenTheHolderLetsGo() throws {
        try withTemporaryDirectory { dir in
            let file = StoreFile(path: dir + "/sessions.json")
            let ready = dir + "/ready"
            let holder = try Child.spawn(["/usr/bin/flock", file.lockPath, "/bin/sh", "-c", "touch \(ready); sleep 0.3"])
            #expect(waitUntil(milliseconds: 10_000) { access(ready, F_OK) == 0 })
            let lock = try file.lock(timeout: .seconds(10))
            lock.release()
            holder.wait()
        }
    }
}

/// What both protocols refuse, and what they create.
@Suite struct LockFileSafetyTests {
    @Test(arguments: StoreLockProtocol.allCases)
    func aSymlinkAtTheLockPathIsRefusedAndNotFollowed(_ lockProtocol: StoreLockProtocol) throws {
        try withTemporaryDirectory { dir in
            let file = StoreFile(path: dir + "/sessions.json")
            // A link planted in a shared folder, to a file and to nowhere.
            try writeFile(dir + "/victim", "precious\n", mode: 0o600)
            for target in [dir + "/victim", dir + "/nowhere"] {
                unlink(file.lockPath)
                #expect(symlink(target, file.lockPath) == 0)
                let error = storeError { () throws(StoreError) in _ = try file.lock(lockProtocol, timeout: .milliseconds(100)) }
                #expect(error?.category == .cannotWrite)
                #expect(error?.exitCode == 73)
                #expect(error?.message == "lock file \(file.lockPath) is a symbolic link; refusing to follow it")
                #expect(try readText(dir + "/victim") == "precious\n")
                #expect(access(dir + "/nowhere", F_OK) != 0, "nothing created through the link")
                #expect(isSymbolicLink(file.lockPath))
            }
        }
    }

    @Test(arguments: StoreLockProtocol.allCases)
    func aLockPathThatIsNotARegularFileIsRefused(_ lockProtocol: StoreLockProtocol) throws {
        try withTemporaryDirectory { dir in
            let file = StoreFile(path: dir + "/sessions.json")
            #expect(mkdir(file.lockPath, 0o700) == 0)
            var error = storeError { () throws(StoreError) in _ = try file.lock(lockProtocol, timeout: .milliseconds(100)) }
            #expect(error?.exitCode == 73)
            #expect(error?.message == "lock file \(file.lockPath) is not a regular file")
            rmdir(file.lockPath)
            #expect(mkfifo(file.lockPath, 0o600) == 0)
            error = storeError { () throws(StoreError) in _ = try file.lock(lockProtocol, timeout: .milliseconds(100)) }
            #expect(error?.exitCode == 73, "a FIFO is refused, not opened for writing or waited on")
            #expect(error?.message == "lock file \(file.lockPath) is not a regular file")
        }
    }

    @Test(arguments: StoreLockProtocol.allCases, [0o600, 0o640, 0o664] as [UInt32])
    func aNewLockFileGetsTheStoresMode(_ lockProtocol: StoreLockProtocol, _ mode: UInt32) throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/sessions.json"
            try writeFile(path, sampleStore, mode: mode_t(mode))
            let lock = try StoreFile(path: path).lock(lockProtocol, timeout: .zero)
            #expect(permissions(path + ".lock") == mode)
            lock.release()
        }
    }

    @Test func anExistingFlockFileKeepsItsMode() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/sessions.json"
            try writeFile(path, sampleStore, mode: 0o600)
            try writeFile(path + ".lock", "", mode: 0o644)
            let lock = try StoreFile(path: path).lock(.flock, timeout: .zero)
            #expect(permissions(path + ".lock") == 0o644)
            lock.release()
        }
    }

    /// The async wait suspends its task: with more waiters than the
    /// cooperative pool has threads, a heartbeat task still ticks while they
    /// wait, and cancelling them ends their waits without the lock. (A
    /// blocking wait would starve the heartbeat until the waiters' ten-minute
    /// timeout, far past the time limit.)
    @Test(.timeLimit(.minutes(1)), arguments: StoreLockProtocol.allCases)
    func theAsyncWaitHoldsNoThreadAndEndsWhenCancelled(_ lockProtocol: StoreLockProtocol) async throws {
        let dir = try TemporaryDirectory()
        let file = StoreFile(path: dir.file("sessions.json"))
        let held = try file.lock(lockProtocol, timeout: .zero)
        let started = Counter()
        var waiters: [Task<StoreError?, Never>] = []
        for _ in 0..<8 {
            waiters.append(Task {
                started.value.add(1, ordering: .relaxed)
                do throws(StoreError) {
                    _ = try await file.lock(using: lockProtocol, timeout: .seconds(600))
                    return nil
                } catch {
                    return error
                }
            })
        }
        var ticks = 0
        while ticks < 50 || started.value.load(ordering: .relaxed) < 8 {
            try await Task.sleep(for: .milliseconds(2))
            ticks += 1
        }
        for waiter in waiters { waiter.cancel() }
        for waiter in waiters {
            let error = await waiter.value
            #expect(error?.category == .locked)
            #expect(error?.message.hasPrefix("cancelled while waiting for lock \(file.lockPath)") == true, "\(error?.message ?? "took the lock")")
        }
        held.release()
        // None of the cancelled waiters holds it.
        let again = try file.lock(lockProtocol, timeout: .zero)
        again.release()
        withExtendedLifetime(dir) {}
    }
}

/// A counter tasks can share.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
