// The writer lock: in one process (flock locks belong to the open file
// description, so two `lock()` calls conflict like two processes would) and
// across processes with util-linux flock(1) holding it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
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
