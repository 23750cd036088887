// The store on disk: loading, creating, committing, permissions, symlinks and
// failed writes, all on real files in real temporary folders.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import VigilJSON
import Testing
@testable import VigilStore
import VigilTestSupport

@Suite struct StoreFileLoadTests {
    @Test func missingStoreIsNotFound() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/sessions.json"
            let error = storeError { () throws(StoreError) in try StoreFile(path: path).load() }
            #expect(error?.category == .notFound)
            #expect(error?.exitCode == 66)
            #expect(error?.description == "store \(path): no such file")
            #expect(folderNames(dir).isEmpty)
        }
    }

    @Test func createIfMissingWritesAnEmptyStore() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/sessions.json"
            var notices: [StoreNotice] = []
            let store = try StoreFile(path: path).load(createIfMissing: true) { notices.append($0) }
            #expect(store.records.isEmpty)
            #expect(try readText(path) == "{\"version\": 1, \"sessions\": []}\n")
            #expect(permissions(path) == 0o600)
            #expect(notices == [.created(path: path)])
            #expect(folderNames(dir) == ["sessions.json"])
            // And it is a valid store.
            #expect(try StoreFile(path: path).load().records.isEmpty)
        }
    }

    @Test func createIfMissingKeepsAnExistingStore() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/sessions.json"
            try writeFile(path, sampleStore)
            var notices: [StoreNotice] = []
            let store = try StoreFile(path: path).load(createIfMissing: true) { notices.append($0) }
            #expect(store.records.count == 3)
            #expect(notices.isEmpty)
            #expect(try readText(path) == sampleStore)
        }
    }

    @Test func createIfMissingRefusesADanglingSymlink() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/sessions.json"
            #expect(symlink(dir + "/nowhere/real.json", path) == 0)
            let error = storeError { () throws(StoreError) in try StoreFile(path: path).load(createIfMissing: true) }
            #expect(error?.category == .notFound)
            #expect(error?.message.contains("symlink") == true)
            #expect(isSymbolicLink(path))
        }
    }

    @Test(arguments: SessionStoreValidationTests.invalidStores)
    func invalidFileIsRefusedAndLeftUntouched(_ name: String, _ document: String, _ fragment: String) throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/sessions.json"
            try writeFile(path, document, mode: 0o640)
            let before = try readFile(path)
            let file = StoreFile(path: path)
            let error = storeError { () throws(StoreError) in try file.load(createIfMissing: true) }
            #expect(error?.category == .invalidData, "\(name)")
            #expect(error?.description.hasPrefix("store \(path): ") == true)
            #expect(error?.description.contains(fragment) == true, "\(name): \(error.map(\.description) ?? "accepted")")
            #expect(try readFile(path) == before)
            #expect(permissions(path) == 0o640)
            #expect(temporaryFiles(in: dir).isEmpty)
        }
    }

    @Test func aFolderIsNotAStore() throws {
        try withTemporaryDirectory { dir in
            let error = storeError { () throws(StoreError) in try StoreFile(path: dir).load() }
            #expect(error?.category == .cannotWrite)
            #expect(error?.message == "not a regular file")
        }
    }

    @Test func aPathUnderARegularFileCannotBeRead() throws {
        try withTemporaryDirectory { dir in
            try writeFile(dir + "/plain", "x")
            let error = storeError { () throws(StoreError) in try StoreFile(path: dir + "/plain/sessions.json").load() }
            #expect(error?.category == .cannotWrite)
            #expect(error?.underlyingErrno == ENOTDIR)
            #expect(error?.exitCode == 73)
        }
    }
}

@Suite struct StoreFileCommitTests {
    @Test func commitKeepsUntouchedRecordsByteIdenticalOnDisk() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/sessions.json"
            try writeFile(path, sampleStore)
            let original = try readFile(path)
            let file = StoreFile(path: path)
            let lock = try file.lock()
            var store = try file.load()
            let untouched = store.records.dropFirst().map { record -> [UInt8] in
                guard case .raw(_, let range) = record.body else { return [] }
                return Array(original[range])
            }
            store.records[0].close(at: "2026-11-25T10:00:00Z", reason: "backend-gone")
            try file.commit(&store, holding: lock)
            lock.release()

            let written = try readFile(path)
            let text = String(decoding: written, as: UTF8.self)
            for bytes in untouched {
                #expect(text.contains(String(decoding: bytes, as: UTF8.self)))
            }
            let reread = try file.load()
            #expect(reread.records.map(\.id) == ["s1", "s2", "s3"])
            #expect(reread.records[0].status == .closed)
            #expect(reread.records[0].closedAt == "2026-11-25T10:00:00Z")
            #expect(reread.records[0].closeReason == "backend-gone")
            #expect(reread.otherFields.members.map(\.key) == ["daemon", "trailer"])
            #expect(temporaryFiles(in: dir).isEmpty)
            #expect(folderNames(dir) == ["sessions.json", "sessions.json.lock"])
        }
    }

    @Test func storeFollowsTheFileAcrossCommits() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/sessions.json"
            try writeFile(path, sampleStore)
            let file = StoreFile(path: path)
            let lock = try file.lock()
            var store = try file.load()
            store.records[0].close(at: "2026-11-25T10:00:00Z", reason: "first")
            try file.commit(&store, holding: lock)
            #expect(store.modifiedCount == 0)
            store.records[1].close(at: "2026-11-25T10:00:01Z", reason: "second")
            try file.commit(&store, holding: lock)
            let reread = try file.load()
            #expect(reread.records.map(\.closeReason) == ["first", "second", "exited"])
            #expect(try readFile(path) == store.serialized())
        }
    }

    @Test func commitRefusesAFileChangedSinceLoading() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/sessions.json"
            try writeFile(path, sampleStore)
            let file = StoreFile(path: path)
            let lock = try file.lock()
            var store = try file.load()
            // The daemon (which knows nothing of our lock) rewrites the store.
            let theirs = generatedStore(count: 2)
            try writeFile(path, theirs)
            store.records[0].close(at: "2026-11-25T10:00:00Z", reason: "gone")
            let error = storeError { () throws(StoreError) in try file.commit(&store, holding: lock) }
            #expect(error?.category == .locked)
            #expect(error?.message.contains("changed on disk since it was loaded") == true)
            #expect(try readText(path) == theirs)
            #expect(temporaryFiles(in: dir).isEmpty)
        }
    }

    @Test(arguments: [0o600, 0o640, 0o604] as [UInt32])
    func commitKeepsTheFileMode(_ mode: UInt32) throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/sessions.json"
            try writeFile(path, sampleStore, mode: mode_t(mode))
            let file = StoreFile(path: path)
            let lock = try file.lock()
            var store = try file.load()
            store.records[0].close(at: "2026-11-25T10:00:00Z", reason: "gone")
            try file.commit(&store, holding: lock)
            #expect(permissions(path) == mode)
        }
    }

    @Test func symlinkedStoreWritesItsTargetAndKeepsTheLink() throws {
        try withTemporaryDirectory { dir in
            #expect(mkdir(dir + "/real", 0o700) == 0)
            let target = dir + "/real/sessions.json"
            let link = dir + "/sessions.json"
            try writeFile(target, sampleStore, mode: 0o600)
            #expect(symlink("real/sessions.json", link) == 0)

            let file = StoreFile(path: link)
            #expect(file.notices == [.writingSymlinkTarget(link: link, target: target)])
            let lock = try file.lock()
            var store = try file.load()
            store.records[0].close(at: "2026-11-25T10:00:00Z", reason: "gone")
            var notices: [StoreNotice] = []
            try file.commit(&store, holding: lock) { notices.append($0) }

            #expect(isSymbolicLink(link))
            #expect(notices == [.writingSymlinkTarget(link: link, target: target)])
            #expect(notices.first?.description == "store \(link) is a symlink; writing its target \(target)")
            #expect(try StoreFile(path: target).load().records[0].status == .closed)
            #expect(permissions(target) == 0o600)
            #expect(temporaryFiles(in: dir).isEmpty && temporaryFiles(in: dir + "/real").isEmpty)
        }
    }

    @Test func unwritableFolderIsCannotWriteAndLeavesTheStore() throws {
        try withTemporaryDirectory { dir in
            let folder = dir + "/store"
            #expect(mkdir(folder, 0o755) == 0)
            let path = folder + "/sessions.json"
            try writeFile(path, sampleStore)
            let file = StoreFile(path: path)
            let lock = try file.lock()
            var store = try file.load()
            store.records[0].close(at: "2026-11-25T10:00:00Z", reason: "gone")

            // chmod does not stop root (CAP_DAC_OVERRIDE); the immutable flag
            // does, where the file system and our capabilities allow it.
            let blocked: Bool
            if runningAsRoot {
                blocked = try run(["/usr/bin/chattr", "+i", folder]) == 0
            } else {
                blocked = chmod(folder, 0o555) == 0
            }
            defer {
                if runningAsRoot { _ = try? run(["/usr/bin/chattr", "-i", folder]) } else { chmod(folder, 0o755) }
            }
            guard blocked else {
                // Root without chattr/CAP_LINUX_IMMUTABLE: nothing here can make
                // the folder unwritable; the injected-failure tests cover the
                // cleanup path instead.
                return
            }
            let error = storeError { () throws(StoreError) in try file.commit(&store, holding: lock) }
            #expect(error?.category == .cannotWrite)
            #expect(error?.exitCode == 73)
            #expect(error?.description.hasPrefix("store \(path): cannot create a temporary file in \(folder)") == true)
            #expect(try readText(path) == sampleStore)
            #expect(temporaryFiles(in: folder).isEmpty)
            #expect(store.records[0].isModified, "a failed commit must leave the store modified")
        }
    }

    /// Runs a program and returns its raw wait status.
    func run(_ arguments: [String]) throws -> Int32 {
        guard access(arguments[0], X_OK) == 0 else { return -1 }
        return try Child.spawn(arguments).wait()
    }
}

@Suite struct StoreFileFailureTests {
    /// A failure at each step of the write: the store keeps its old bytes
    /// (or, past the rename, has the complete new ones) and no temporary
    /// file is left.
    @Test(arguments: [CommitFault.afterCreatingTemporary, .duringWrite, .beforeRename])
    func failedWriteLeavesTheStoreAndNoTemporary(_ fault: CommitFault) throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/sessions.json"
            try writeFile(path, sampleStore, mode: 0o600)
            let file = StoreFile(path: path)
            let lock = try file.lock()
            var store = try file.load()
            store.records[0].close(at: "2026-11-25T10:00:00Z", reason: "gone")
            let error = storeError { () throws(StoreError) in
                try file.commit(&store, holding: lock, strictLinks: false, notice: { _ in }, injecting: fault)
            }
            #expect(error?.category == .cannotWrite)
            #expect(try readText(path) == sampleStore)
            #expect(permissions(path) == 0o600)
            #expect(temporaryFiles(in: dir).isEmpty)
            #expect(try StoreFile(path: path).load().records[0].status == .active)

            // The same store commits fine without the fault.
            try file.commit(&store, holding: lock)
            #expect(try StoreFile(path: path).load().records[0].status == .closed)
        }
    }

    @Test func failureAfterTheRenameSaysTheNewDocumentIsInPlace() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/sessions.json"
            try writeFile(path, sampleStore)
            let file = StoreFile(path: path)
            let lock = try file.lock()
            var store = try file.load()
            store.records[0].close(at: "2026-11-25T10:00:00Z", reason: "gone")
            let error = storeError { () throws(StoreError) in
                try file.commit(&store, holding: lock, strictLinks: false, notice: { _ in }, injecting: .afterRename)
            }
            #expect(error?.category == .cannotWrite)
            #expect(error?.message.contains("the new document is in place") == true)
            #expect(try StoreFile(path: path).load().records[0].status == .closed)
            #expect(temporaryFiles(in: dir).isEmpty)
        }
    }

    @Test func staleTemporaryOfADeadWriterIsRemovedOnCommit() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/sessions.json"
            try writeFile(path, sampleStore)
            // What a writer killed mid-write leaves: a torn temporary file
            // named with its (now dead) pid.
            let child = try Child.spawn(["/bin/sh", "-c", "exit 0"])
            child.wait()
            let stale = dir + "/.sessions.json.vigil-tmp-\(child.pid)-1a2b"
            try writeFile(stale, "{\"version\": 1, \"sess")
            let live = dir + "/.sessions.json.vigil-tmp-1-ffff" // pid 1 is alive
            try writeFile(live, "{")

            let file = StoreFile(path: path)
            #expect(try file.load().records.count == 3, "a leftover temporary does not disturb loading")
            let lock = try file.lock()
            var store = try file.load()
            var notices: [StoreNotice] = []
            try file.commit(&store, holding: lock) { notices.append($0) }
            #expect(notices == [.removedStaleTemporary(path: stale)])
            #expect(temporaryFiles(in: dir) == [".sessions.json.vigil-tmp-1-ffff"])
        }
    }
}
