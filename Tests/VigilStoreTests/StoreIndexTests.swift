// StoreIndex, restore's compact reading of a store, against SessionStore:
// the same documents refused with the same messages, the same members read,
// and the same bytes written for the same edits, on hand-made and random
// documents; and its commits through the compare-and-set on real files.

import Testing
@testable import VigilStore
import VigilJSON
import VigilTestSupport

@Suite struct StoreIndexTests {
    @Test(arguments: SessionStoreValidationTests.invalidStores)
    func refusesWhatSessionStoreRefusesWithTheSameMessage(_ name: String, _ document: String, _ fragment: String) {
        let bytes = Array(document.utf8)
        let expected = storeError { () throws(StoreError) in try SessionStore(parsing: bytes, path: "/s.json") }
        let got = storeError { () throws(StoreError) in try StoreIndex(parsing: bytes, path: "/s.json") }
        #expect(got != nil, "\(name)")
        #expect(got?.description == expected?.description, "\(name)")
        #expect(got?.category == .invalidData)
    }

    /// Every member the index reads equals what the SessionStore read.
    func expectSameReading(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let bytes = Array(text.utf8)
        let store = try SessionStore(parsing: bytes)
        let index = try StoreIndex(parsing: bytes)
        try #require(index.count == store.records.count, sourceLocation: sourceLocation)
        for (position, record) in store.records.enumerated() {
            // What restore reads: the index's own answers and its views'.
            let view = index.views[position]
            #expect(index.id(at: position) == record.id && view.id == record.id, sourceLocation: sourceLocation)
            #expect(index.backend(at: position) == record.backend && view.backend == record.backend, sourceLocation: sourceLocation)
            #expect(view.status == record.status, sourceLocation: sourceLocation)
            #expect(index.backendSession(at: position) == record.backendSession && view.backendSession == record.backendSession,
                    sourceLocation: sourceLocation)
            #expect(view.socket == record.socket, sourceLocation: sourceLocation)
            #expect(view.cliId == record.cliId, sourceLocation: sourceLocation)
            #expect(view.killedAt == record[marker: .killedAt]?.stringValue, sourceLocation: sourceLocation)
            #expect(index.record(at: position).object == record.object, sourceLocation: sourceLocation)
            #expect(index.sourceLocation(ofRecord: record.id) == store.sourceLocation(ofRecord: record.id), sourceLocation: sourceLocation)
        }
        // The views' byte-level answers agree with the decoded members.
        let views = index.views
        for position in views.indices {
            let view = views[position]
            #expect(view.id == store.records[position].id && view.socket == store.records[position].socket, sourceLocation: sourceLocation)
            let plain = view.withPlainID { String(decoding: $0, as: UTF8.self) }
            #expect(plain == nil || plain == view.id, sourceLocation: sourceLocation)
            for other in views {
                #expect(view.hasSameSocket(as: other) == (view.socket == other.socket), sourceLocation: sourceLocation)
            }
        }
        #expect(!index.hasChanges)
        #expect(index.serialized() == bytes)
    }

    @Test func readsWhatSessionStoreReads() throws {
        try expectSameReading(sampleStore)
        try expectSameReading(generatedStore(count: 20))
        try expectSameReading(#"{"version": 1, "sessions": []}"#)
        try expectSameReading(#"""
        {"version": 1, "sessions": [
          {"id": "a\"b\u00e9", "backend": "tmux", "status": "active", "socket": "s\\1", "backendSession": null, "cliId": "c\u0301",
           "killedAt": "2026-11-25T10:00:00Z", "killReason": "other CLI"},
          {"id": "é", "backend": "zellij", "status": "closed", "closedAt": 17, "closeReason": null, "killedAt": 5},
          {"id": "e\u0301", "backend": "herdr", "status": "active"}
        ]}
        """#)
    }

    @Test func idsAreComparedByCodePointsInBothReaders() throws {
        // An escape spelling the same code points is the same id...
        let same = Array(#"{"version": 1, "sessions": [{"id": "ab", "backend": "tmux", "status": "active"}, {"id": "a\u0062", "backend": "tmux", "status": "active"}]}"#.utf8)
        let expected = storeError { () throws(StoreError) in try SessionStore(parsing: same) }
        let got = storeError { () throws(StoreError) in try StoreIndex(parsing: same) }
        #expect(expected?.description.contains(#"duplicate id "ab""#) == true)
        #expect(got?.description == expected?.description)
        // ...while a precomposed and a decomposed "é" are two ids, as in botmux's JavaScript.
        let two = #"{"version": 1, "sessions": [{"id": "\u00e9", "backend": "tmux", "status": "active"}, {"id": "e\u0301", "backend": "tmux", "status": "active"}]}"#
        let store = try SessionStore(parsing: Array(two.utf8))
        let index = try StoreIndex(parsing: Array(two.utf8))
        #expect(store.records.count == 2 && index.count == 2)
        #expect(index.sourceLocation(ofRecord: "e\u{301}")?.position == 1)
        #expect(index.sourceLocation(ofRecord: "\u{e9}")?.position == 0)
        #expect(store.sourceLocation(ofRecord: "e\u{301}")?.position == 1)
        #expect(store.firstIndex(ofID: "e\u{301}") == 1 && store.firstIndex(ofID: "\u{e9}") == 0)
    }

    @Test func aPositionHintIsCheckedAgainstTheLoadedID() throws {
        let index = try StoreIndex(parsing: Array(sampleStore.utf8))
        #expect(index.sourceLocation(ofRecord: "s3", near: 0)?.position == 2)
        #expect(index.sourceLocation(ofRecord: "s3", near: 2)?.position == 2)
        #expect(index.sourceLocation(ofRecord: "s3", near: 99)?.position == 2)
        #expect(index.sourceLocation(ofRecord: "nope", near: 1) == nil)
    }

    @Test func anIndexedRecordTakes64Bytes() {
        #expect(MemoryLayout<IndexedRecord>.stride <= 64)
    }

    // MARK: - Random documents, the same edits on both

    /// One random record: members in random order and spacing, some with
    /// escapes, optional members present, null, absent or not strings.
    static func randomRecord(_ n: Int, using rng: inout SplitMix) -> String {
        func pick<T>(_ options: [T]) -> T { options[rng.below(options.count)] }
        func space() -> String { pick(["", " ", "\n   ", "\t"]) }
        var members: [String] = [
            #""id": "\#(pick(["r", "r\\u00e9-", "r\\\"q-", "e\\u0301"]))\#(n)""#,
            #""backend": "\#(pick(["tmux", "zellij", "herdr", "pty", "t\\u006dux"]))""#,
            #""status": "\#(pick(["active", "closed", "act\\u0069ve"]))""#,
        ]
        for key in ["socket", "backendSession", "cliId"] {
            switch rng.next() % 4 {
            case 0: members.append(#""\#(key)": "\#(key)-\#(n % 3)\#(pick(["", "\\n", "é"]))""#)
            case 1: members.append(#""\#(key)": null"#)
            default: break
            }
        }
        for key in ["closedAt", "closeReason"] {
            switch rng.next() % 5 {
            case 0: members.append(#""\#(key)": "2026-11-25T10:00:00Z""#)
            case 1: members.append(#""\#(key)": "gone""#)
            case 2: members.append(#""\#(key)": \#(pick(["null", "7", "{\"a\": [1]}", "\"x\\ty\""]))"#)
            default: break
            }
        }
        if rng.next() % 4 == 0 { members.append(#""killedAt": \#(pick(["\"2026-11-20T00:00:00Z\"", "3", "null"]))"#) }
        if rng.next() % 2 == 0 { members.append(#""daemon": {"chat": \#(n), "tags": ["a", 1.5e3, true], "s": "\u00e9\\\\"}"#) }
        // Shuffle, keeping the record valid.
        for i in stride(from: members.count - 1, to: 0, by: -1) { members.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return "{" + space() + members.map { $0 + space() }.joined(separator: "," + space()) + "}"
    }

    @Test(arguments: 0..<40)
    func theSameEditsWriteTheSameBytes(_ seed: Int) throws {
        var rng = SplitMix(seed: UInt64(seed) &* 0x9E37_79B9 &+ 1)
        let count = 1 + Int(rng.next() % 30)
        let text = #"{"version": 1, "before": [1, {"x": null}], "sessions": [ "# + (0..<count).map { Self.randomRecord($0, using: &rng) }.joined(separator: " ,\n")
            + "\n ], \"after\": \"z\"}\n"
        try expectSameReading(text)
        let bytes = Array(text.utf8)
        var store = try SessionStore(parsing: bytes)
        var index = try StoreIndex(parsing: bytes)
        let stamps = ["2026-11-25T10:00:00Z", "2026-12-01T00:00:00Z"]
        let reasons = ["gone", "session is gone: not listed", "x\ty"]
        for position in 0..<count {
            switch rng.next() % 4 {
            case 0, 1:
                let stamp = stamps[Int(rng.next() % 2)]
                let reason = reasons[Int(rng.next() % 3)]
                store.records[position].close(at: stamp, reason: reason)
                index.close(position, at: stamp, reason: reason)
            case 2:
                store.records[position][marker: .killedAt] = .string(stamps[0])
                store.records[position][marker: .killReason] = .string("runs CLI x")
                index.modify(position) {
                    $0[marker: .killedAt] = .string(stamps[0])
                    $0[marker: .killReason] = .string("runs CLI x")
                }
            default:
                break
            }
        }
        #expect(index.hasChanges == store.hasChanges, "seed \(seed)")
        #expect(String(decoding: index.serialized(), as: UTF8.self) == String(decoding: store.serialized(), as: UTF8.self), "seed \(seed)")
        // Streamed in pieces: the same bytes.
        var pieces: [UInt8] = []
        #expect(index.serialized { pieces.append(contentsOf: $0); return true })
        #expect(pieces == store.serialized())
        for position in 0..<count {
            #expect(index.record(at: position).object == store.records[position].object, "seed \(seed), record \(position)")
        }
    }

    @Test func closingAsTheRecordAlreadyIsChangesNothing() throws {
        let text = #"{"version": 1, "sessions": [{"id": "a", "backend": "tmux", "status": "closed", "closedAt": "2026-11-25T10:00:00Z", "closeReason": "gone"}]}"#
        var index = try StoreIndex(parsing: Array(text.utf8))
        index.close(0, at: "2026-11-25T10:00:00Z", reason: "gone")
        #expect(!index.hasChanges)
        index.close(0, at: "2026-11-25T10:00:01Z", reason: "gone")
        #expect(index.hasChanges)
        index.close(0, at: "2026-11-25T10:00:00Z", reason: "gone")
        #expect(!index.hasChanges, "closed again as it was loaded: nothing to write")
        index.close(0, at: "2026-11-25T10:00:01Z", reason: "gone")
        #expect(String(decoding: index.serialized(), as: UTF8.self).contains(#""closedAt": "2026-11-25T10:00:01Z", "closeReason": "gone""#))
    }

    /// A member already equal to what a close sets, but spelled with an
    /// escape or in another canonically equivalent form, is left as it is
    /// (SessionRecord compares the decoded Strings); a different one is
    /// written.
    @Test(arguments: [
        (#""closeReason": "gone\u003a here""#, "gone: here"), (#""closeReason": "gone: h\u00e9re""#, "gone: h\u{e9}re"),
        (#""closeReason": "gone: he\u0301re""#, "gone: h\u{e9}re"), ("\"closeReason\": \"gone: he\u{301}re\"", "gone: h\u{e9}re"),
        ("\"closeReason\": \"gone: h\u{e9}re\"", "gone: he\u{301}re"), (#""closeReason": "gone\u003a there""#, "gone: here"),
        (#""closeReason": "gone: here ""#, "gone: here"), (#""closeReason": null"#, "gone: here"), (#""closeReason": 5"#, "gone: here"),
        (#""closedAt": "2026\u002d11-25T10:00:00Z""#, "gone: here"),
    ])
    func aCloseWritesWhatSessionStoreWritesWhenAMemberIsAlreadyEqual(_ member: String, _ reason: String) throws {
        let text = #"{"version": 1, "sessions": [{"id": "a", "backend": "tmux", "status": "active", "# + member + "}]}"
        let bytes = Array(text.utf8)
        var store = try SessionStore(parsing: bytes)
        var index = try StoreIndex(parsing: bytes)
        store.records[0].close(at: "2026-11-25T10:00:00Z", reason: reason)
        index.close(0, at: "2026-11-25T10:00:00Z", reason: reason)
        let written = String(decoding: index.serialized(), as: UTF8.self)
        #expect(written == String(decoding: store.serialized(), as: UTF8.self), "\(member)")
        // An equal member keeps its bytes; a different one is replaced.
        let loaded = try SessionStore(parsing: bytes).records[0]
        let equal = loaded.closeReason == reason || loaded.closedAt == "2026-11-25T10:00:00Z"
        #expect(written.utf8.elementsEqual(text.utf8) == false)
        #expect(Array(written.utf8).firstRange(of: Array(member.utf8)) != nil || !equal, "\(member)")
        #expect(Array(written.utf8).firstRange(of: Array(member.utf8)) == nil || equal || member.contains("null") || member.contains("5"), "\(member)")
    }

    // MARK: - Commits on real files

    @Test func aCommitMergesIntoAnotherWritersVersionAsSessionStoreDoes() async throws {
        let dir = try TemporaryDirectory()
        let document = CompareAndSetTests.document
        let changedA = CompareAndSetTests.recordA.replacingOnce(#""x": 1"#, with: #""x": 9"#)
        let recordD = #"{"id": "d", "backend": "tmux", "status": "active"}"#
        let theirs = document.replacingOnce(CompareAndSetTests.recordA, with: changedA)
            .replacingOnce(CompareAndSetTests.recordC, with: CompareAndSetTests.recordC + ",\n    " + recordD)
        var results: [String] = []
        for way in 0..<3 {
            let useIndex = way > 0
            let path = try dir.write(["store.json", "index.json", "positions.json"][way], document)
            let file = StoreFile(path: path)
            let changes = [RecordChange(id: "a"), RecordChange(id: "b", position: 1), RecordChange(id: "c", writes: false)]
            let report: CommitReport
            if way == 2 {
                // By positions (restore's way): the ids are made only for the merge.
                var index = try file.loadIndex()
                try writeFile(path, theirs)
                report = try await file.commit(index: &index, positions: [0, 1, 2], writes: [true, true, false], lock: .flock,
                                               lockTimeout: .seconds(5), strictLinks: false, notice: { _ in }) { document, _, position in
                    document.close(position, at: "2026-11-25T10:00:00Z", reason: "gone")
                }
            } else if useIndex {
                var index = try file.loadIndex()
                try writeFile(path, theirs)
                report = try await file.commit(&index, changes: changes) { document, _, position in
                    document.close(position, at: "2026-11-25T10:00:00Z", reason: "gone")
                }
            } else {
                var store = try file.load()
                try writeFile(path, theirs)
                report = try await file.commit(&store, changes: changes) { document, _, position in
                    document.records[position].close(at: "2026-11-25T10:00:00Z", reason: "gone")
                }
            }
            #expect(report.verdicts == [.changed, .applied, .applied])
            #expect(report.merged && report.wrote)
            results.append(try readText(path))
        }
        #expect(results[0] == results[1] && results[0] == results[2])
        #expect(results[1].contains(changedA) && results[1].contains(recordD))
        #expect(try StoreFile(path: dir.path + "/index.json").load().records.map(\.status) == [.active, .closed, .active, .active])
    }

    @Test func anUnchangedFileGetsThePreparedBytes() async throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("sessions.json", CompareAndSetTests.document)
        let file = StoreFile(path: path)
        var index = try file.loadIndex()
        let report = try await file.commit(&index, changes: [RecordChange(id: "b")]) { document, _, position in
            document.close(position, at: "2026-11-25T10:00:00Z", reason: "gone")
        }
        #expect(report.verdicts == [.applied] && report.wrote && !report.merged)
        let written = try readText(path)
        #expect(written == CompareAndSetTests.document.replacingOnce(CompareAndSetTests.recordB,
            with: #"{"id": "b", "backend": "tmux",   "status": "closed", "x": 2,"closedAt":"2026-11-25T10:00:00Z","closeReason":"gone"}"#))
        #expect(temporaryFiles(in: dir.path).isEmpty)
    }
}
