// The optimistic commit on real files: decisions made on a loaded document
// are applied only to records that are still byte for byte as loaded, another
// writer's changes survive, and every byte restore did not change stays put.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import Testing
@testable import VigilStore
import VigilJSON
import VigilTestSupport

@Suite struct CompareAndSetTests {
    /// A store laid out as a daemon might: a member before "sessions",
    /// "version" written as 1.0, odd spacing, no final newline.
    static let recordA = #"{"id": "a", "backend": "tmux", "status": "active", "x": 1}"#
    static let recordB = #"{"id": "b", "backend": "tmux",   "status": "active", "x": 2}"#
    static let recordC = #"{"id": "c", "backend": "pty", "status": "active"}"#
    static let document = """
    {
      "daemon": {"name": "chatd",   "n": 1.50},
      "version": 1.0,
      "sessions": [
        \(recordA),
        \(recordB),
        \(recordC)
      ],
      "trailer": [1, 2.0]
    }
    """

    func close(_ document: inout SessionStore, _ change: Int, _ position: Int) {
        document.records[position].close(at: "2026-11-25T10:00:00Z", reason: "gone")
    }

    /// The text before and after `part` in `text`.
    func around(_ part: String, in text: String) throws -> (before: String, after: String) {
        let range = try #require(text.firstRange(of: part))
        return (String(text[..<range.lowerBound]), String(text[range.upperBound...]))
    }

    @Test(arguments: StoreLockProtocol.allCases)
    func unchangedFileGetsThePreparedBytesAndOnlyTheRecordMoves(_ lockProtocol: StoreLockProtocol) async throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("sessions.json", Self.document, mode: 0o640)
        let file = StoreFile(path: path)
        var store = try file.load()
        let report = try await file.commit(&store, changes: [RecordChange(id: "b")], lock: lockProtocol, apply: close)
        #expect(report.verdicts == [.applied])
        #expect(report.wrote)
        #expect(!report.merged)
        #expect(report.lockHeld != nil)

        let written = try readText(path)
        let (before, after) = try around(Self.recordB, in: Self.document)
        #expect(written.hasPrefix(before), "every byte before the record, the members before \"sessions\" included")
        #expect(written.hasSuffix(after), "every byte after it, no newline added")
        let reread = try file.load()
        #expect(reread.records.map(\.status) == [.active, .closed, .active])
        #expect(permissions(path) == 0o640)
        #expect(temporaryFiles(in: dir.path).isEmpty)
        // flock keeps its lock file (see StoreLockProtocol); exclusive-create leaves none.
        #expect(lockProtocolFiles(in: dir.path) == (lockProtocol == .flock ? ["sessions.json.lock"] : []))
    }

    @Test("the file is compared with the bytes loaded before any change is applied, even when apply replaces the document")
    func comparedWithTheBytesAsLoaded() async throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("sessions.json", Self.document)
        let file = StoreFile(path: path)
        var store = try file.load()
        // Against the contract ("it must change only that record"): apply
        // closes the record and then re-reads the whole document from its
        // own serialization, so its source bytes are no longer the file's.
        let report = try await file.commit(&store, changes: [RecordChange(id: "b")]) { document, change, position in
            close(&document, change, position)
            document = try! SessionStore(parsing: document.serialized())
        }
        // The file is unchanged since the load, so it is the same version:
        // no merge, and the change is not taken for another writer's.
        #expect(report.verdicts == [.applied])
        #expect(!report.merged)
    }

    @Test func anotherWritersNewRecordAndTopLevelChangeSurvive() async throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("sessions.json", Self.document)
        let file = StoreFile(path: path)
        var store = try file.load()
        // The daemon saves while restore probes: a new record, a new trailer.
        let recordD = #"{"id": "d", "backend": "tmux", "status": "active", "new": true}"#
        let theirs = Self.document
            .replacingOnce(Self.recordC, with: Self.recordC + ",\n    " + recordD)
            .replacingOnce(#""trailer": [1, 2.0]"#, with: #""trailer": [3]"#)
        try writeFile(path, theirs)

        let report = try await file.commit(&store, changes: [RecordChange(id: "a"), RecordChange(id: "b")], apply: close)
        #expect(report.verdicts == [.applied, .applied])
        #expect(report.merged)
        let written = try readText(path)
        #expect(written.contains(recordD))
        #expect(written.contains(#""trailer": [3]"#))
        #expect(written.hasPrefix(try around(Self.recordA, in: theirs).before))
        let reread = try file.load()
        #expect(reread.records.map(\.id) == ["a", "b", "c", "d"])
        #expect(reread.records.map(\.status) == [.closed, .closed, .active, .active])
    }

    @Test func aRecordChangedMeanwhileIsLeftAsTheOtherWriterMadeIt() async throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("sessions.json", Self.document)
        let file = StoreFile(path: path)
        var store = try file.load()
        let changedA = Self.recordA.replacingOnce(#""x": 1"#, with: #""x": 9"#)
        try writeFile(path, Self.document.replacingOnce(Self.recordA, with: changedA))

        let report = try await file.commit(&store, changes: [RecordChange(id: "a"), RecordChange(id: "b")], apply: close)
        #expect(report.verdicts == [.changed, .applied])
        let written = try readText(path)
        #expect(written.contains(changedA), "their record, byte for byte")
        #expect(try file.load().records.map(\.status) == [.active, .closed, .active])
    }

    @Test func aRecordRemovedMeanwhileIsReportedAndNotRevived() async throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("sessions.json", Self.document)
        let file = StoreFile(path: path)
        var store = try file.load()
        let theirs = Self.document.replacingOnce(Self.recordB + ",\n    ", with: "")
        try writeFile(path, theirs)

        let report = try await file.commit(&store, changes: [RecordChange(id: "a"), RecordChange(id: "b")], apply: close)
        #expect(report.verdicts == [.applied, .removed])
        #expect(try file.load().records.map(\.id) == ["a", "c"])
    }

    @Test func checksOnlyTakeNoLockAndWriteNothing() async throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("sessions.json", Self.document)
        let file = StoreFile(path: path)
        var store = try file.load()
        let theirs = Self.document.replacingOnce(Self.recordA, with: Self.recordA.replacingOnce("1}", with: "2}"))
        try writeFile(path, theirs)
        let report = try await file.commit(&store, changes: [RecordChange(id: "a", writes: false), RecordChange(id: "b", writes: false)], apply: close)
        #expect(report.verdicts == [.changed, .applied])
        #expect(!report.wrote)
        #expect(report.lockHeld == nil)
        #expect(try readText(path) == theirs)
        #expect(folderNames(dir.path) == ["sessions.json"], "no lock file made")
    }

    @Test func anInvalidDocumentLeftByAnotherWriterIsNotOverwritten() async throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("sessions.json", Self.document)
        let file = StoreFile(path: path)
        var store = try file.load()
        let theirs = "{\"version\": 1, \"sessions\": [half"
        try writeFile(path, theirs)
        do {
            _ = try await file.commit(&store, changes: [RecordChange(id: "a")], apply: close)
            Issue.record("committed over an invalid document")
        } catch {
            #expect(error.category == .invalidData)
            #expect(error.message.hasPrefix("another writer left a document that is not valid; nothing written"))
        }
        #expect(try readText(path) == theirs)
        #expect(temporaryFiles(in: dir.path).isEmpty)
    }

    @Test func aLockHeldPastTheTimeoutWritesNothing() async throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("sessions.json", Self.document)
        let file = StoreFile(path: path)
        var store = try file.load()
        let held = try file.lock(.exclusiveCreate, timeout: .zero)
        do {
            _ = try await file.commit(&store, changes: [RecordChange(id: "a")], lock: .exclusiveCreate, lockTimeout: .milliseconds(100), apply: close)
            Issue.record("committed while another holder had the lock")
        } catch {
            #expect(error.category == .locked)
        }
        #expect(try readText(path) == Self.document)
        #expect(temporaryFiles(in: dir.path).isEmpty, "the temporary file written before the lock is removed")
        held.release()
    }

    /// The new version is written and synced before the lock is taken; under
    /// the lock an unchanged file only costs a compare and a rename. A mode
    /// changed in between (same bytes) is not lost: the file is written
    /// again with the new mode.
    @Test func theTemporaryFileIsReadyBeforeTheLockAndTakesAModeChangedMeanwhile() async throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("sessions.json", Self.document, mode: 0o600)
        let file = StoreFile(path: path)
        var store = try file.load()
        let held = try file.lock(.exclusiveCreate, timeout: .zero)
        let folder = dir.path
        let commit = Task { () throws(StoreError) -> CommitReport in
            try await file.commit(&store, changes: [RecordChange(id: "a")], lock: .exclusiveCreate,
                                  lockTimeout: .seconds(30), apply: { $0.records[$2].close(at: "2026-11-25T10:00:00Z", reason: "gone") })
        }
        // Wait (no upper bound on how long it takes) until the temporary file exists.
        while temporaryFiles(in: folder).isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        #expect(try readText(path) == Self.document, "nothing renamed while another holds the lock")
        #expect(chmod(path, 0o640) == 0)
        held.release()
        let report = try await commit.value
        #expect(report.verdicts == [.applied])
        #expect(report.wrote && !report.merged)
        #expect(permissions(path) == 0o640)
        #expect(try file.load().records.map(\.status) == [.closed, .active, .active])
        #expect(temporaryFiles(in: folder).isEmpty)
    }

    /// The pieces a commit writes are exactly `serialized()`: modified records
    /// patched into chunks, long unchanged stretches handed over directly.
    @Test(arguments: [1, 3, 1000])
    func streamedPiecesAreTheSerializedDocument(_ every: Int) throws {
        var text = "{\"version\": 1, \"daemon\": {\"a\": [1, 2]}, \"sessions\": [\n"
        for i in 0..<20_000 {
            text += #"{"id": "r\#(i)", "backend": "tmux", "status": "active", "note": "\#(String(repeating: "x", count: i % 40))"}"#
            text += i < 19_999 ? ",\n" : "\n"
        }
        text += "], \"tail\": null}"
        var store = try SessionStore(parsing: Array(text.utf8))
        for i in stride(from: 0, to: store.records.count, by: every) {
            store.records[i].close(at: "2026-11-25T10:00:00Z", reason: "gone")
        }
        store.records[store.records.count - 1][field: "killedAt"] = .string("2026-11-25T10:00:00Z")
        var pieces: [UInt8] = []
        var count = 0
        #expect(store.serialized { piece in
            pieces.append(contentsOf: piece)
            count += 1
            return true
        })
        #expect(pieces == store.serialized())
        #expect(count > 1, "a document of \(pieces.count) bytes goes out in pieces")
        var stopped = 0
        #expect(!store.serialized { _ in stopped += 1; return false })
        #expect(stopped == 1, "a sink that says stop is not called again")
    }

    @Test func otherHardLinksAreReportedOrRefused() async throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("sessions.json", Self.document)
        let other = dir.file("backup.json")
        #expect(link(path, other) == 0)
        let file = StoreFile(path: path)
        #expect(file.otherHardLinks == 1)

        var strict = try file.load()
        do {
            _ = try await file.commit(&strict, changes: [RecordChange(id: "a")], strictLinks: true, apply: close)
            Issue.record("--strict-links committed a store with two names")
        } catch {
            #expect(error.category == .cannotWrite)
            #expect(error.exitCode == 73)
            #expect(error.message.contains("1 other hard link"))
        }
        #expect(try readText(path) == Self.document)
        #expect(temporaryFiles(in: dir.path).isEmpty)

        var store = try file.load()
        var notices: [StoreNotice] = []
        _ = try await file.commit(&store, changes: [RecordChange(id: "a")], notice: { notices.append($0) }, apply: close)
        #expect(notices == [.hardLinksLeftBehind(path: path, otherLinks: 1)])
        #expect(notices.first?.description == "store \(path) had 1 other hard link; it still points at the previous version")
        #expect(try readText(other) == Self.document, "the other name keeps the old version")
        #expect(try file.load().records[0].status == .closed)
    }
}

extension String {
    /// `self` with the first occurrence of `part` replaced (the test fails
    /// later if it is absent: the result is unchanged).
    func replacingOnce(_ part: String, with replacement: String) -> String {
        guard let range = firstRange(of: part) else { return self }
        var copy = self
        copy.replaceSubrange(range, with: replacement)
        return copy
    }
}

/// A position hint saves the search by id; it never picks another record.
@Suite struct PositionHintTests {
    @Test func aHintAtAnotherRecordCostsTheSearchNotAWrongRecord() throws {
        let text = #"{"version": 1, "sessions": [{"id": "x", "backend": "tmux", "status": "active"}, {"id": "y", "backend": "tmux", "status": "active"}]}"#
        var store = try SessionStore(parsing: Array(text.utf8))
        let y = try #require(store.sourceLocation(ofRecord: "y"))
        #expect(store.sourceLocation(ofRecord: "y", near: 1) == y)
        #expect(store.sourceLocation(ofRecord: "y", near: 0) == y)
        #expect(store.sourceLocation(ofRecord: "y", near: 99) == y)
        // Ids swapped in memory: the loaded ids still decide.
        store.records[0].id = "y"
        store.records[1].id = "x"
        #expect(store.sourceLocation(ofRecord: "y", near: 0) == y)
        store.records[0].id = "new"
        #expect(store.sourceLocation(ofRecord: "new", near: 0) == nil)
    }
}
