// The reader's memo of the record before's keys: a key taken from it must
// be exactly the key the ordinary reading finds (token, cursor, which known
// key, killedAt), and bytes that differ in any way must be read the
// ordinary way.

import Testing
@testable import VigilStore
import VigilJSON
import VigilTestSupport

@Suite struct RecordKeyMemoTests {
    /// Member keys as written: plain, spaced, escaped, near misses of the
    /// known keys, the kill marker, and some too long to remember.
    static let keys: [String] = [
        #""status": "#, #""status":"#, #""status" : "#, "\"status\":\n\t", #""statu": "#, #""statuses": "#,
        #""Status": "#, #""st\u0061tus": "#, #""id": "#, #""backend": "#, #""backendSession": "#,
        #""backendSession"  :   "#, #""killedAt": "#, #""killedAx": "#, #""cliId": "#, #""title": "#,
        #""a-member-name-too-long-to-remember": "#, #""é": "#, #""status" "#, #"status: "#,
    ]

    /// Reads the key at `start` of `bytes` the ordinary way: its token, the
    /// cursor after it, which known key, whether it is `killedAt`; nil when
    /// it is not a key.
    static func ordinary(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> (key: MemberKey, end: Int)? {
        var scanner = JSONScanner(bytes, position: start)
        guard let token = try? scanner.memberKey() else { return nil }
        let known = RecordKey.match(token, in: scanner)
        let isKilledAt = known == nil && scanner.token(token, equals: "killedAt")
        return (MemberKey(token: token, known: known, isKilledAt: isKilledAt), scanner.position)
    }

    static func same(_ a: MemberKey, _ b: MemberKey) -> Bool {
        a.token.start == b.token.start && a.token.end == b.token.end && a.token.hasEscapes == b.token.hasEscapes
            && a.known == b.known && a.isKilledAt == b.isKilledAt
    }

    @Test(arguments: [true, false])
    func aRememberedKeyIsTheOrdinaryReading(padded: Bool) {
        var hits = 0
        for first in Self.keys {
            for second in Self.keys {
                // The first key, a value, then the second key at the member's
                // place; padding lets the memo load its 24 bytes.
                let text = first + "1, " + second + "2" + (padded ? String(repeating: " ", count: 32) : "")
                let bytes = Array(text.utf8)
                let secondStart = first.utf8.count + 3
                bytes.withUnsafeBufferPointer { buffer in
                    var memo = RecordKeyMemo()
                    if let (key, end) = Self.ordinary(buffer, at: 0) {
                        var scanner = JSONScanner(buffer, position: end)
                        memo.remember(key, at: 0, from: 0, in: scanner)
                        scanner.position = 0
                        #expect(memo.key(at: 1, in: &scanner) == nil, "another member's place")
                    }
                    var scanner = JSONScanner(buffer, position: secondStart)
                    let remembered = memo.key(at: 0, in: &scanner)
                    let expected = Self.ordinary(buffer, at: secondStart)
                    if let remembered {
                        hits += 1
                        #expect(expected.map { Self.same($0.key, remembered) && $0.end == scanner.position } == true,
                                "\(first) then \(second)")
                    } else {
                        #expect(scanner.position == secondStart, "a miss leaves the cursor on the key: \(first) then \(second)")
                    }
                    if first == second, padded, expected != nil, !first.contains("\\"), first.utf8.count <= RecordKeyMemo.longest {
                        #expect(remembered != nil, "the same bytes again: \(first)")
                    }
                }
            }
        }
        #expect(padded ? hits > 0 : hits == 0)
    }

    /// Whole stores whose records vary their keys' order, spelling and
    /// spacing from one record to the next read as each record says.
    @Test func recordsThatVaryTheirKeysReadAsWritten() throws {
        let records = [
            #"{"id": "a", "backend": "tmux", "status": "active", "killedAt": "2026-11-25T10:00:00Z"}"#,
            #"{"id": "b", "backend": "tmux", "status": "closed", "killedAx": "x"}"#,
            #"{"id": "c", "status": "active", "backend": "zellij", "killedAt": null}"#,
            #"{"id": "d", "backend": "herdr", "st\u0061tus": "closed", "statuses": "active"}"#,
            #"{"id":"e","backend":"tmux","status":"active"}"#,
            #"{"id": "f", "backend": "tmux", "status": "closed"}"#,
        ]
        let text = #"{"version": 1, "sessions": ["# + records.joined(separator: ", ") + "]}"
        let index = try StoreIndex(parsing: Array(text.utf8))
        let views = index.views
        #expect(views.map(\.id) == ["a", "b", "c", "d", "e", "f"])
        #expect(views.map(\.status) == [.active, .closed, .active, .closed, .active, .closed])
        #expect(views.map(\.backend) == [.tmux, .tmux, .zellij, .herdr, .tmux, .tmux])
        #expect(views.map { $0.killedAt != nil } == [true, false, false, false, false, false])

        // A duplicate where the record before had another key: still found.
        let duplicated = records[0] + ", " + #"{"id": "g", "id": "h", "status": "active", "backend": "tmux"}"#
        let error = storeError { () throws(StoreError) in
            _ = try StoreIndex(parsing: Array((#"{"version": 1, "sessions": ["# + duplicated + "]}").utf8))
        }
        #expect(error?.message.contains("sessions[1]") == true)
        #expect(error?.message.contains("\"id\"") == true)
    }

    /// The reading of `text` as comparable text: every indexed record's
    /// fields, or the error.
    static func reading(_ text: String, rememberingKeys: Bool) -> String {
        let source = StoreSource(Array(text.utf8))
        do throws(StoreError) {
            let scan = try readStore(source, path: "/s.json", into: IndexSink(source: source), parallelFrom: .max,
                                     rememberingKeys: rememberingKeys)
            return scan.sink.records.map { r in
                let points = [r.points.status, r.points.closedAt, r.points.closeReason].map { "\($0.start)-\($0.end)" }
                let strings = [r.id, r.backendSession, r.socket, r.cliId].map { "\($0.start)/\($0.packed)" }
                return "\(r.range) \(strings) \(points) \(r.points.membersEnd) \(r.backend) \(r.status) \(r.mayHoldKilledAt)"
            }.joined(separator: "\n")
        } catch {
            return "error: \(error)"
        }
    }

    /// Random stores, valid and broken, read alike with and without the
    /// memo: the same records with the same fields, or the same error.
    @Test func randomStoresReadTheSameWithoutTheMemo() {
        var random = SplitMix(seed: 0x5EED_0011)
        let keys = [#""id": "#, #""backend": "#, #""status": "#, #""socket":"#, #""cliId" : "#, #""killedAt": "#,
                    #""title": "#, #""st\u0061tus": "#, #""closedAt": "#, #""closeReason": "#, #""backendSession": "#]
        let others = [#""title": "#, #""killedAt": "#, #""daemon": "#, #""n" : "#, "\"meta\":\n  "]
        let values = [#""tmux""#, #""closed""#, #""active""#, "null", "12", "1.5e3", "true", #"{"user": "u", "cwd": "/x", "n": [1, {"k": 2}]}"#,
                      #"{"user": "v", "cwd": "/y", "n": []}"#, "[]", #""a\"b""#, #""2026-11-25T10:00:00Z""#]
        let breakers: [String] = ["\"", ":", ",", "}", "{", "x", "\\", " ", "", "]"]
        var hits = 0
        for round in 0..<300 {
            var records: [String] = []
            for r in 0..<random.below(12) + 1 {
                var members = [#""id": "r\#(r)""#]
                for _ in 0..<random.below(7) {
                    // Mostly members restore does not check (any value is
                    // valid); now and then a known key with any value.
                    let key = random.below(40) == 0 ? keys[random.below(keys.count)] : others[random.below(others.count)]
                    members.append(key + values[random.below(values.count)])
                }
                if random.below(60) != 0 { members.insert(#""status": "active""#, at: 1); members.insert(#""backend": "tmux""#, at: 1) }
                records.append("{" + members.joined(separator: ", ") + "}")
            }
            var text = Array((#"{"version": 1, "sessions": ["# + records.joined(separator: ",\n") + "]}").utf8)
            if round % 3 == 0 {
                // One byte replaced (or dropped) somewhere.
                let at = random.below(text.count)
                text.replaceSubrange(at...at, with: Array(breakers[random.below(breakers.count)].utf8))
            }
            let document = String(decoding: text, as: UTF8.self)
            let with = Self.reading(document, rememberingKeys: true)
            #expect(with == Self.reading(document, rememberingKeys: false), "round \(round): \(document)")
            if !with.hasPrefix("error") { hits += 1 }
        }
        #expect(hits > 100, "most rounds give valid stores")
    }
}
