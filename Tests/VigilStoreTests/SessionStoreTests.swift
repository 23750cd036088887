// The store document in memory: what survives a rewrite, what close() does,
// and which documents are refused with which message.

import VigilJSON
import Testing
@testable import VigilStore

@Suite struct SessionStoreRoundTripTests {
    @Test func typedFieldsAreRead() throws {
        let store = try SessionStore(parsing: Array(sampleStore.utf8))
        #expect(store.records.map(\.id) == ["s1", "s2", "s3"])
        #expect(store.records.map(\.backend) == [.tmux, .zellij, .pty])
        #expect(store.records.map(\.status) == [.active, .active, .closed])
        #expect(store.records[0].socket == "vigil-test")
        #expect(store.records[0].backendSession == "chat-s1")
        #expect(store.records[1].cliId == "claude")
        #expect(store.records[2].closedAt == "2025-12-31T23:59:59Z")
        #expect(store.records[2].closeReason == "exited")
        #expect(store.otherFields.members.map(\.key) == ["daemon", "trailer"])
        #expect(store.modifiedCount == 0)
    }

    @Test func unmodifiedRewriteKeepsEveryRecordByteForByte() throws {
        let bytes = Array(sampleStore.utf8)
        let store = try SessionStore(parsing: bytes)
        let written = store.serialized()
        for record in store.records {
            guard case .raw(_, let range) = record.body else { Issue.record("record not raw"); continue }
            #expect(contains(written, Array(bytes[range])), "record \(record.id) changed")
        }
        // Nothing changed, so nothing moves: the whole document comes back
        // byte for byte, the members before "sessions" included.
        #expect(written == bytes)
    }

    @Test func closingOneRecordLeavesTheOthersByteIdentical() throws {
        let bytes = Array(sampleStore.utf8)
        var store = try SessionStore(parsing: bytes)
        let untouched = store.records.dropFirst().map { record -> [UInt8] in
            guard case .raw(_, let range) = record.body else { return [] }
            return Array(bytes[range])
        }
        store.records[0].close(at: "2026-11-25T10:00:00Z", reason: "backend-gone")
        #expect(store.modifiedCount == 1)
        let written = store.serialized()
        for original in untouched {
            #expect(contains(written, original))
        }
        let reread = try SessionStore(parsing: written)
        #expect(reread.records.map(\.id) == ["s1", "s2", "s3"])
        #expect(reread.records[0].status == .closed)
    }

    @Test func modifiedRecordKeepsUnknownFieldsOrderNumbersAndText() throws {
        var store = try SessionStore(parsing: Array(sampleStore.utf8))
        store.records[0].close(at: "2026-11-25T10:00:00Z", reason: "backend-gone")
        let reread = try SessionStore(parsing: store.serialized())
        let object = reread.records[0].object
        #expect(object.members.map(\.key) == [
            "meta", "id", "backend", "status", "socket", "backendSession", "title", "raw", "closedAt", "closeReason",
        ])
        #expect(object["meta"] == .object([
            "created": .string("2026-01-02T03:04:05Z"),
            "tags": .array([.string("a"), .string("b"), .object(["deep": .array([.number("1e400"), .number("-0.5E-3"), .null, .bool(true)])])]),
        ]))
        #expect(object["title"] == .string("café 😀 \"quoted\" back\\slash\ttab / /"))
        #expect(object["raw"] == .string("naïve 日本語"))
        #expect(reread.otherFields["daemon"] == .object([
            "name": .string("chatd"), "build": .number("12345678901234567890"), "ratio": .number("1.0"),
        ]))
        #expect(reread.otherFields["trailer"] == .array([.integer(1), .number("2.0"), .string("x")]))
    }

    @Test func emptyStoreIsTheCanonicalDocument() {
        #expect(String(decoding: SessionStore().serialized(), as: UTF8.self) == "{\"version\": 1, \"sessions\": []}\n")
    }

    @Test func closingARecordChangesOnlyItsBytes() throws {
        let text = "{\"daemon\": {\"a\": 1.50},\n \"version\": 1.0,  \"sessions\": [\n\t{\"id\": \"x\", \"backend\": \"tmux\", \"status\": \"active\"} ,\n\t{\"id\": \"y\", \"backend\": \"tmux\", \"status\": \"active\"}\n ] , \"z\": [] }"
        var store = try SessionStore(parsing: Array(text.utf8))
        store.records[1].close(at: "2026-11-25T10:00:00Z", reason: "gone")
        let written = String(decoding: store.serialized(), as: UTF8.self)
        let y = "{\"id\": \"y\", \"backend\": \"tmux\", \"status\": \"active\"}"
        // Spliced: the record's own bytes, whitespace included, with the
        // status replaced where it stands and Vigil's members appended.
        let patched = "{\"id\": \"y\", \"backend\": \"tmux\", \"status\": \"closed\",\"closedAt\":\"2026-11-25T10:00:00Z\",\"closeReason\":\"gone\"}"
        var expected = text
        expected.replaceSubrange(expected.firstRange(of: y)!, with: patched)
        #expect(written == expected)
    }

    @Test func addingARecordRewritesOnlyTheSessionsArray() throws {
        let text = "{\"daemon\": 1,   \"version\": 1, \"sessions\": [ {\"id\": \"x\", \"backend\": \"pty\", \"status\": \"active\"} ], \"z\": 2}"
        var store = try SessionStore(parsing: Array(text.utf8))
        store.records.append(SessionRecord(id: "n", backend: .tmux, status: .active))
        let written = String(decoding: store.serialized(), as: UTF8.self)
        #expect(written == "{\"daemon\": 1,   \"version\": 1, \"sessions\": [\n{\"id\": \"x\", \"backend\": \"pty\", \"status\": \"active\"},\n{\"id\":\"n\",\"backend\":\"tmux\",\"status\":\"active\"}\n], \"z\": 2}")
    }

    @Test func changingATopLevelMemberUsesVigilsLayout() throws {
        let bytes = Array(sampleStore.utf8)
        var store = try SessionStore(parsing: bytes)
        store.otherFields["trailer"] = .string("new")
        let written = store.serialized()
        var expected = try JSONValue.parse(bytes)
        if case .object(var object) = expected {
            object["trailer"] = .string("new")
            expected = .object(object)
        }
        #expect(try JSONValue.parse(written) == normalized(expected))
    }

    @Test func versionOnePointZeroIsVersionOne() throws {
        let store = try SessionStore(parsing: Array(#"{"sessions": [], "version": 1.0}"#.utf8))
        #expect(store.records.isEmpty)
    }

    @Test func newRecordsPutTheTypedMembersFirst() throws {
        var store = SessionStore()
        store.records.append(SessionRecord(
            id: "n1", backend: .herdr, status: .active, cliId: "codex",
            otherFields: ["note": .string("hi"), "status": .string("ignored")]
        ))
        let text = String(decoding: store.serialized(), as: UTF8.self)
        #expect(text == "{\"version\": 1, \"sessions\": [\n{\"id\":\"n1\",\"backend\":\"herdr\",\"status\":\"active\",\"cliId\":\"codex\",\"note\":\"hi\"}\n]}\n")
    }

    @Test func daemonFieldsCanBeSetButReservedOnesGoThroughProperties() throws {
        var store = try SessionStore(parsing: Array(sampleStore.utf8))
        store.records[1][field: "z"] = .string("changed")
        store.records[1][field: "new"] = .bool(false)
        store.records[1].socket = "other"
        #expect(store.records[1].isModified)
        let reread = try SessionStore(parsing: store.serialized())
        #expect(reread.records[1].object.members.map(\.key) == ["id", "backend", "status", "cliId", "z", "a", "new", "socket"])
        #expect(reread.records[1][field: "z"] == .string("changed"))
        #expect(reread.records[1].socket == "other")
    }

    @Test func clearingAnOptionalRemovesItsMember() throws {
        var store = try SessionStore(parsing: Array(sampleStore.utf8))
        store.records[0].socket = nil
        let reread = try SessionStore(parsing: store.serialized())
        #expect(reread.records[0].socket == nil)
        #expect(reread.records[0][field: "socket"] == nil)
    }

    /// A modified record loaded from disk is patched in its bytes; one built
    /// in memory is serialized from its object. Both must give the same
    /// object, whatever was changed.
    @Test(arguments: 0..<3)
    func patchedRecordsAgreeWithTheirObject(_ index: Int) throws {
        let edits: [(inout SessionRecord) -> Void] = [
            { $0.close(at: "2026-11-25T10:00:00Z", reason: "gone") },
            { $0.socket = nil; $0.backendSession = nil; $0.cliId = "x\"y" },
            { $0.id = "renamed-é"; $0.backend = .herdr; $0.status = .active; $0.closedAt = nil; $0.closeReason = "kept" },
            { $0[field: "killedAt"] = .string("2026-11-25T10:00:00Z"); $0[field: "killReason"] = .string("cli changed") },
            { $0[field: "meta"] = .array([.integer(1)]); $0[field: "z"] = nil; $0[field: "extra"] = .null },
            { $0[field: "title"] = .integer(1); $0[field: "title"] = nil; $0[field: "title"] = .string("back") },
            { $0[field: "new"] = .bool(true); $0.close(at: "2026-11-25T10:00:00Z", reason: "gone"); $0[field: "new"] = nil },
        ]
        for edit in edits {
            var store = try SessionStore(parsing: Array(sampleStore.utf8))
            edit(&store.records[index])
            let expected = store.records[index].object
            let reread = try SessionStore(parsing: store.serialized())
            #expect(reread.records[index].object == expected)
        }
    }

    @Test func duplicateDaemonKeysFollowTheObjectRule() throws {
        let text = #"{"version": 1, "sessions": [{"id": "d", "x": 1, "backend": "tmux", "x": 2, "status": "active", "x": 3}]}"#
        for value in [JSONValue.string("new"), nil] {
            var store = try SessionStore(parsing: Array(text.utf8))
            store.records[0][field: "x"] = value
            let expected = store.records[0].object
            #expect(try SessionStore(parsing: store.serialized()).records[0].object == expected)
            #expect(expected.members.filter { $0.key == "x" }.count == (value == nil ? 0 : 3))
        }
    }

    @Test func readingAndSettingAFieldKeepsTheRecordRaw() throws {
        var store = try SessionStore(parsing: Array(sampleStore.utf8))
        #expect(store.records[0][field: "raw"] == .string("naïve 日本語"))
        #expect(store.records[0][field: "missing"] == nil)
        #expect(store.records[0][field: "status"] == .string("active"))
        store.records[0][field: "killedAt"] = .string("2026-11-25T10:00:00Z")
        #expect(store.records[0][field: "killedAt"] == .string("2026-11-25T10:00:00Z"))
        guard case .raw = store.records[0].body else {
            Issue.record("a field access built the record's tree")
            return
        }
        let text = String(decoding: store.serialized(), as: UTF8.self)
        #expect(text.contains(#""raw":"naïve 日本語","killedAt":"2026-11-25T10:00:00Z"}"#))
    }

    /// The loader notes which records hold a `killedAt` member, so that
    /// restore's question costs no second scan; the answer must not change.
    @Test func killedAtIsFoundWhereverAndHoweverItIsSpelled() throws {
        let text = #"""
        {"version": 1, "sessions": [
        {"id": "a", "backend": "tmux", "status": "active", "x": {"killedAt": "nested, not it"}},
        {"id": "b", "backend": "tmux", "status": "active", "killedAt": "2026-11-25T10:00:00Z", "y": 1},
        {"id": "c", "backend": "tmux", "status": "active", "killedAt": "escaped"},
        {"id": "d", "backend": "tmux", "status": "active", "killedAt": null},
        {"id": "e", "backend": "tmux", "status": "active", "killedAtX": "not it"}
        ]}
        """#
        var store = try SessionStore(parsing: Array(text.utf8))
        #expect(store.records.map { $0[field: "killedAt"] } == [nil, .string("2026-11-25T10:00:00Z"), .string("escaped"), .null, nil])
        // Set on a record that had none, then written and read back: found.
        store.records[0][field: "killedAt"] = .string("2026-11-26T00:00:00Z")
        #expect(store.records[0][field: "killedAt"] == .string("2026-11-26T00:00:00Z"))
        let written = store.serializedWithLayout()
        store.adopt(written)
        #expect(store.records[0][field: "killedAt"] == .string("2026-11-26T00:00:00Z"))
        #expect(try SessionStore(parsing: written.bytes).records[0][field: "killedAt"] == .string("2026-11-26T00:00:00Z"))
    }

    /// A record of 64 KiB or more has no patch points: its close is patched
    /// by a scan, with the same members.
    @Test func aHugeRecordIsClosedByTheScanningPatcher() throws {
        let big = String(repeating: "x", count: 70_000)
        let text = "{\"version\": 1, \"sessions\": [{\"id\": \"h\", \"note\": \"\(big)\", \"backend\": \"tmux\", \"status\": \"active\"}]}"
        var store = try SessionStore(parsing: Array(text.utf8))
        store.records[0].close(at: "T", reason: "R")
        let expected = store.records[0].object
        let written = String(decoding: store.serialized(), as: UTF8.self)
        #expect(written.contains("\"backend\":\"tmux\",\"status\":\"closed\",\"closedAt\":\"T\",\"closeReason\":\"R\"}"))
        #expect(try SessionStore(parsing: Array(written.utf8)).records[0].object == expected)
    }

    @Test func patchingKeepsTheDaemonMembersBytes() throws {
        // Closed (spliced): every byte of the record but the status value stays.
        var store = try SessionStore(parsing: Array(sampleStore.utf8))
        store.records[0].close(at: "2026-11-25T10:00:00Z", reason: "gone")
        var text = String(decoding: store.serialized(), as: UTF8.self)
        #expect(text.contains(#"    "title": "caf\u00e9 \ud83d\ude00 \"quoted\" back\\slash\ttab / \/",\#n"#))
        #expect(text.contains(#""meta": {"created": "2026-01-02T03:04:05Z", "tags": ["a", "b", {"deep": [1e400, -0.5E-3, null, true]}]},\#n"#))
        #expect(text.contains(#""status": "closed",\#n"#))
        #expect(text.contains(#""raw": "naïve 日本語","closedAt":"2026-11-25T10:00:00Z","closeReason":"gone"\#n        }"#))
        // Another member changed too (patched by a scan): the members keep
        // their bytes, the whitespace between them goes.
        store = try SessionStore(parsing: Array(sampleStore.utf8))
        store.records[0].close(at: "2026-11-25T10:00:00Z", reason: "gone")
        store.records[0].socket = "moved"
        text = String(decoding: store.serialized(), as: UTF8.self)
        #expect(text.contains(#""title":"caf\u00e9 \ud83d\ude00 \"quoted\" back\\slash\ttab / \/""#))
        #expect(text.contains(#""meta":{"created": "2026-01-02T03:04:05Z", "tags": ["a", "b", {"deep": [1e400, -0.5E-3, null, true]}]}"#))
        #expect(text.contains(#""status":"closed""#))
        #expect(text.contains(#""socket":"moved""#))
    }

    /// A close is spliced into the record's bytes: values replaced where
    /// they stand (whatever the members' order, a lenient non-string
    /// `closedAt` included), missing members appended after the last one.
    @Test func closingSplicesTheValuesWhereTheyStand() throws {
        let records = [
            (#"{"closedAt" : null,"status":"active" , "id": "a", "backend": "tmux"  }"#,
             #"{"closedAt" : "T","status":"closed" , "id": "a", "backend": "tmux","closeReason":"R"  }"#),
            (#"{ "id": "b", "closeReason": "old", "backend": "tmux", "status": "active", "closedAt": 5 }"#,
             #"{ "id": "b", "closeReason": "R", "backend": "tmux", "status": "closed", "closedAt": "T" }"#),
            ("{\n\t\"id\": \"c\",\n\t\"backend\": \"tmux\",\n\t\"status\": \"active\",\n\t\"x\": [1, {\"status\": \"active\"}]\n}",
             "{\n\t\"id\": \"c\",\n\t\"backend\": \"tmux\",\n\t\"status\": \"closed\",\n\t\"x\": [1, {\"status\": \"active\"}],\"closedAt\":\"T\",\"closeReason\":\"R\"\n}"),
        ]
        for (before, after) in records {
            var store = try SessionStore(parsing: Array("{\"version\": 1, \"sessions\": [\(before)]}".utf8))
            store.records[0].close(at: "T", reason: "R")
            let expected = store.records[0].object
            let written = String(decoding: store.serialized(), as: UTF8.self)
            #expect(written == "{\"version\": 1, \"sessions\": [\(after)]}")
            #expect(try SessionStore(parsing: Array(written.utf8)).records[0].object == expected)
        }
    }

    /// `version` first, `sessions` second, others after: the writer's layout.
    func normalized(_ value: JSONValue) -> JSONValue {
        guard case .object(let object) = value else { return value }
        var result: JSONObject = ["version": .integer(1), "sessions": object["sessions"] ?? .array([])]
        for member in object.members where member.key != "version" && member.key != "sessions" {
            result.append(member.key, member.value)
        }
        return .object(result)
    }

    func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= haystack.count else { return needle.isEmpty }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}

@Suite struct SessionRecordCloseTests {
    @Test func closeSetsStatusAndAppendsTimeAndReason() throws {
        var store = try SessionStore(parsing: Array(sampleStore.utf8))
        store.records[1].close(at: "2026-11-25T10:00:00Z", reason: "backend-gone")
        let record = store.records[1]
        #expect(record.status == .closed)
        #expect(record.closedAt == "2026-11-25T10:00:00Z")
        #expect(record.closeReason == "backend-gone")
        #expect(record.isModified)
        let keys = record.object.members.map(\.key)
        #expect(keys == ["id", "backend", "status", "cliId", "z", "a", "closedAt", "closeReason"])
        #expect(record.object["status"] == .string("closed"))
    }

    @Test func closeUpdatesExistingMembersInPlace() throws {
        var store = try SessionStore(parsing: Array(sampleStore.utf8))
        store.records[2].close(at: "2026-11-25T10:00:00Z", reason: "restart")
        let keys = store.records[2].object.members.map(\.key)
        #expect(keys == ["id", "backend", "status", "closedAt", "closeReason", "extra"])
        #expect(store.records[2].object["closedAt"] == .string("2026-11-25T10:00:00Z"))
    }

    @Test func closingTwiceIsStable() throws {
        var store = try SessionStore(parsing: Array(sampleStore.utf8))
        store.records[0].close(at: "2026-11-25T10:00:00Z", reason: "backend-gone")
        let once = store.serialized()
        store.records[0].close(at: "2026-11-25T10:00:00Z", reason: "backend-gone")
        #expect(store.serialized() == once)

        var reread = try SessionStore(parsing: once)
        reread.records[0].close(at: "2026-11-25T10:00:00Z", reason: "backend-gone")
        #expect(!reread.records[0].isModified, "same close again must not dirty the record")
        #expect(reread.serialized() == once)
    }

    @Test func closeReplacesANonStringClosedAt() throws {
        let text = #"{"version": 1, "sessions": [{"id": "x", "backend": "tmux", "status": "active", "closedAt": 1700000000, "closeReason": null}]}"#
        var store = try SessionStore(parsing: Array(text.utf8))
        #expect(store.records[0].closedAt == nil)
        store.records[0].close(at: "2026-11-25T10:00:00Z", reason: "gone")
        #expect(store.records[0].object.members.map(\.key) == ["id", "backend", "status", "closedAt", "closeReason"])
        #expect(store.records[0].object["closedAt"] == .string("2026-11-25T10:00:00Z"))
    }

    @Test func clockFormatsUTC() {
        #expect(StoreClock.iso8601(secondsSinceEpoch: 0) == "1970-01-01T00:00:00Z")
        #expect(StoreClock.iso8601(secondsSinceEpoch: 951_782_400) == "2000-02-29T00:00:00Z")
        #expect(StoreClock.iso8601(secondsSinceEpoch: 1_795_600_800) == "2026-11-25T10:00:00Z")
        #expect(StoreClock.iso8601(secondsSinceEpoch: -1) == "1969-12-31T23:59:59Z")
        #expect(StoreClock.iso8601(secondsSinceEpoch: 4_107_542_399) == "2100-02-28T23:59:59Z")
        let now = StoreClock.nowISO8601()
        #expect(now.count == 20 && now.hasSuffix("Z") && now.hasPrefix("20"))
    }
}

@Suite struct SessionStoreValidationTests {
    /// One row per way a store is refused: name, document, message fragment.
    static let invalidStores: [(String, String, String)] = [
        ("syntax error", "{\"version\": 1,\n \"sessions\": [\n  {\"id\": \"a\" \"backend\": \"tmux\"}]}", "line 3, column 14: expected ',' or '}'"),
        ("empty file", "", "the file is empty"),
        ("whitespace only", " \n", "the file is empty"),
        ("not an object", "[1, 2]", "the document is an array, expected an object"),
        ("trailing garbage", "{\"version\": 1, \"sessions\": []} x", "line 1, column 32: unexpected data after the end of the document"),
        ("version 2", "{\"version\": 2, \"sessions\": []}", "unsupported version 2"),
        ("version as string", "{\"version\": \"1\", \"sessions\": []}", "\"version\" is a string, expected the number 1"),
        ("missing version", "{\"sessions\": []}", "missing \"version\""),
        ("missing sessions", "{\"version\": 1}", "missing \"sessions\""),
        ("sessions not array", "{\"version\": 1, \"sessions\": {}}", "\"sessions\" is an object, expected an array"),
        ("record not object", "{\"version\": 1, \"sessions\": [\"s\"]}", "sessions[0] is a string, expected an object"),
        ("missing id", "{\"version\": 1, \"sessions\": [{\"backend\": \"tmux\", \"status\": \"active\"}]}", "sessions[0]: missing \"id\""),
        ("id not string", "{\"version\": 1, \"sessions\": [{\"id\": 7, \"backend\": \"tmux\", \"status\": \"active\"}]}", "sessions[0]: \"id\" is a number, expected a string"),
        ("missing backend", "{\"version\": 1, \"sessions\": [{\"id\": \"a\", \"status\": \"active\"}]}", "sessions[0] (id \"a\"): missing \"backend\""),
        ("unknown backend", "{\"version\": 1, \"sessions\": [{\"id\": \"a\", \"backend\": \"screen\", \"status\": \"active\"}]}", "\"backend\" is \"screen\", expected one of tmux, zellij, herdr, pty"),
        ("weird status", "{\"version\": 1, \"sessions\": [{\"id\": \"ok\", \"backend\": \"tmux\", \"status\": \"active\"}, {\"id\": \"b\", \"backend\": \"tmux\", \"status\": \"weird\"}]}", "sessions[1] (id \"b\"): \"status\" is \"weird\", expected one of active, closed"),
        ("status null", "{\"version\": 1, \"sessions\": [{\"id\": \"a\", \"backend\": \"tmux\", \"status\": null}]}", "\"status\" is null, expected a string"),
        ("socket not string", "{\"version\": 1, \"sessions\": [{\"id\": \"a\", \"backend\": \"tmux\", \"status\": \"active\", \"socket\": 3}]}", "\"socket\" is a number, expected a string"),
        ("duplicate status", "{\"version\": 1, \"sessions\": [{\"id\": \"a\", \"backend\": \"tmux\", \"status\": \"active\", \"status\": \"closed\"}]}", "duplicate key \"status\""),
        ("duplicate sessions", "{\"version\": 1, \"sessions\": [], \"sessions\": []}", "duplicate key \"sessions\""),
        ("version beats records", "{\"sessions\": [{\"id\": 1}], \"version\": 2}", "unsupported version 2"),
        ("syntax beats records", "{\"version\": 1, \"sessions\": [{\"id\": 1}], x}", "line 1, column 41"),
        ("empty id", "{\"version\": 1, \"sessions\": [\n  {\"id\": \"\", \"backend\": \"tmux\", \"status\": \"active\"}]}",
         "sessions[0] (line 2, column 3): \"id\" is empty"),
        ("duplicate id", "{\"version\": 1, \"sessions\": [\n  {\"id\": \"a\", \"backend\": \"tmux\", \"status\": \"active\"},\n  {\"id\": \"b\", \"backend\": \"tmux\", \"status\": \"active\"},\n    {\"id\": \"a\", \"backend\": \"zellij\", \"status\": \"closed\"}]}",
         "duplicate id \"a\": sessions[0] (line 2, column 3) and sessions[2] (line 4, column 5)"),
        // The first bad record is reported, whether its problem is a duplicate id or not.
        ("duplicate id before a bad record", "{\"version\": 1, \"sessions\": [{\"id\": \"a\", \"backend\": \"tmux\", \"status\": \"active\"}, {\"id\": \"a\", \"backend\": \"tmux\", \"status\": \"active\"}, {\"id\": \"c\", \"backend\": \"tmux\"}]}",
         "duplicate id \"a\": sessions[0] (line 1, column 29) and sessions[1] (line 1, column 81)"),
        ("bad record before a duplicate id", "{\"version\": 1, \"sessions\": [{\"id\": \"a\", \"backend\": \"tmux\", \"status\": \"active\"}, {\"id\": \"c\", \"backend\": \"tmux\"}, {\"id\": \"a\", \"backend\": \"tmux\", \"status\": \"active\"}]}",
         "sessions[1] (id \"c\"): missing \"status\""),
        ("a non-object before a duplicate id", "{\"version\": 1, \"sessions\": [{\"id\": \"a\", \"backend\": \"tmux\", \"status\": \"active\"}, 7, {\"id\": \"a\", \"backend\": \"tmux\", \"status\": \"active\"}]}",
         "sessions[1] is a number, expected an object"),
    ]

    @Test(arguments: invalidStores)
    func refuses(_ name: String, _ document: String, _ fragment: String) {
        let error = storeError { () throws(StoreError) in try SessionStore(parsing: Array(document.utf8), path: "/s.json") }
        #expect(error?.category == .invalidData, "\(name)")
        #expect(error?.exitCode == 65)
        #expect(error?.description.hasPrefix("store /s.json: ") == true, "\(name)")
        #expect(error?.description.contains(fragment) == true, "\(name): \(error.map(\.description) ?? "accepted")")
    }

    @Test func nullOptionalsAreAbsent() throws {
        let text = #"{"version": 1, "sessions": [{"id": "a", "backend": "tmux", "status": "active", "socket": null, "cliId": null}]}"#
        let store = try SessionStore(parsing: Array(text.utf8))
        #expect(store.records[0].socket == nil)
        #expect(store.records[0].cliId == nil)
    }
}

/// A store holds one record per session and a report one line per record:
/// their sizes are a budget (a field added in the wrong place costs a
/// hundred thousand times its padding).
@Suite struct RecordFootprintTests {
    @Test func recordsAndChangesKeepTheirSize() {
        #expect(MemoryLayout<SessionRecord>.stride <= 152)
        #expect(MemoryLayout<RecordChange>.stride <= 32)
    }
}
