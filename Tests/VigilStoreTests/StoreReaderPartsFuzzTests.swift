// Random documents read in parts against the one-thread reading, and
// random edits of `IndexedRecords` against a plain array: the parts
// reader's result (records, ranges, the id table, every error message) and
// the runs' positions must not depend on how the work was cut. Seeded: the
// same documents every run.

import Testing
@testable import VigilStore
import VigilJSON
import VigilTestSupport

@Suite struct StoreReaderPartsFuzzTests {
    /// A reading as comparable text: the array's range, each record's
    /// range, id and position in the id table; or the error.
    func reading<S: StoreRecordSink>(_ text: String, into sink: (StoreSource) -> S, parallelFrom: Int, partSize: Int,
                                     ranges: (S) -> [Range<Int>]) -> String {
        let source = StoreSource(Array(text.utf8))
        do throws(StoreError) {
            let scan = try readStore(source, path: "/s.json", into: sink(source), parallelFrom: parallelFrom, partSize: partSize)
            var out = "sessions \(scan.sessionsRange)\n"
            for (position, range) in ranges(scan.sink).enumerated() {
                let id = scan.sink.withIDBytes(at: position) { String(decoding: $0, as: UTF8.self) }
                out += "\(range) \(id) \(scan.idIndex.position(of: id, in: scan.sink).map(String.init) ?? "nil")\n"
            }
            return out
        } catch {
            return "error: \(error)"
        }
    }

    /// Reads `text` alone and in parts of several sizes, into both sinks.
    func expectSameInParts(_ text: String, _ note: String) -> Bool {
        let index: (StoreSource) -> IndexSink = { IndexSink(source: $0) }
        let indexRanges: (IndexSink) -> [Range<Int>] = { sink in sink.records.map(\.range) }
        let records: (StoreSource) -> SessionRecordSink = { SessionRecordSink(source: $0) }
        let recordRanges: (SessionRecordSink) -> [Range<Int>] = { $0.ranges }
        let alone = reading(text, into: index, parallelFrom: .max, partSize: storePartSize, ranges: indexRanges)
        #expect(reading(text, into: records, parallelFrom: .max, partSize: storePartSize, ranges: recordRanges) == alone, "\(note)")
        for partSize in [1, 7, 64, 300, 1024, 1 << 20] {
            let inParts = reading(text, into: index, parallelFrom: 0, partSize: partSize, ranges: indexRanges)
            let inPartsRecords = reading(text, into: records, parallelFrom: 0, partSize: partSize, ranges: recordRanges)
            guard inParts == alone, inPartsRecords == alone else {
                Issue.record("parts of \(partSize) bytes differ, \(note)\nalone:\n\(alone.prefix(600))\nin parts:\n\(inParts.prefix(600))")
                return false
            }
        }
        return true
    }

    static let separators = [",", ", ", ",\n", "\n,\n", " , ", "\t,\r\n  ", ",\n\n\n"]

    /// A valid record, sometimes holding text or values shaped like the
    /// place a part's start is guessed at.
    func record(_ generator: inout SplitMix, id: String) -> String {
        var members = [#""id": "\#(id)""#, #""backend": "tmux""#, #""status": "active""#]
        switch Int.random(in: 0..<10, using: &generator) {
        case 0: members.append(#""title": "a}, {b}\n,\n{c}, {\"id\": \"zz\", \"backend\": \"tmux\", \"status\": \"active\"}""#)
        case 1: members.append(#""nested": [{"x": 1}, {"id": "inner", "backend": "tmux", "status": "active"}]"#)
        case 2: members.append(#""object": {"a": {}, "b": {"id": "q", "backend": "pty", "status": "closed"}}"#)
        case 3: members.append(#""pad": "\#(String(repeating: "y", count: Int.random(in: 0..<200, using: &generator)))""#)
        case 4: members.append(#""list": [{}, {}, {"c": [{}, {}]}]"#)
        default: break
        }
        members.shuffle(using: &generator)
        return "{" + members.joined(separator: ", ") + "}"
    }

    /// A document of `count` records, with up to three defects and, at
    /// times, something after the array; and what was done to it.
    func document(_ generator: inout SplitMix, count: Int) -> (text: String, note: String) {
        var elements = (0..<count).map { record(&generator, id: "r\($0)") }
        var note = "\(count) records"
        for _ in 0..<(count > 0 ? Int.random(in: 0..<4, using: &generator) : 0) {
            let at = Int.random(in: 0..<count, using: &generator)
            let defects = [
                (#"{"id": "bad\#(at)", "backend": "tmux"}"#, "missing status"),
                (record(&generator, id: "r\(Int.random(in: 0..<count, using: &generator))"), "an id again"),
                (["7", "null", "[{}, {}]", "\"}, {\"", "true"][Int.random(in: 0..<5, using: &generator)], "not an object"),
                (#"{"id": "x", "backend": "tmux", "status": "active",}"#, "trailing comma"),
                (#"{"id": "", "backend": "tmux", "status": "active"}"#, "empty id"),
                (#"{"id": "r\u0030", "backend": "tmux", "status": "active"}"#, "escaped id"),
                (#"{"id": "w\#(at)", "backend": "tmux", "status": "active", "status": "closed"}"#, "duplicate key"),
                (#"{"id": "z\#(at)", "backend": "emacs", "status": "active"}"#, "unknown backend"),
            ]
            let (element, what) = defects[Int.random(in: 0..<defects.count, using: &generator)]
            elements[at] = element
            note += ", \(what) at \(at)"
        }
        var body = ""
        for (position, element) in elements.enumerated() {
            if position > 0 { body += Self.separators[Int.random(in: 0..<Self.separators.count, using: &generator)] }
            body += element
        }
        if count > 0 && Int.random(in: 0..<10, using: &generator) == 0 {
            body += ","
            note += ", a trailing comma"
        }
        let version = Int.random(in: 0..<12, using: &generator) == 0 ? 2 : 1
        var text = #"{"version": \#(version), "sessions": ["# + (Bool.random(using: &generator) ? "\n" : "") + body + "\n]"
        switch Int.random(in: 0..<8, using: &generator) {
        case 0:
            text += #", "archive": [{"id": "r0", "backend": "tmux", "status": "active"}, {"id": "r1", "backend": "tmux", "status": "active"}]"#
            note += ", an archive after"
        case 1:
            text += #", "sessions": [{"id": "s0", "backend": "tmux", "status": "active"}]"#
            note += ", sessions twice"
        case 2:
            text += #", "after": tru"#
            note += ", a syntax error after"
        default: break
        }
        text += "}\n"
        if Int.random(in: 0..<15, using: &generator) == 0 {
            text += "}, {"
            note += ", text after the document"
        }
        return (text, note)
    }

    @Test(arguments: 0..<8)
    func smallDocuments(_ seed: Int) {
        var generator = SplitMix(seed: UInt64(seed) &* 7919 &+ 1)
        for round in 0..<20 {
            let (text, note) = document(&generator, count: [0, 1, 2, 3, 10, 50, 200][Int.random(in: 0..<7, using: &generator)])
            guard expectSameInParts(text, "seed \(seed), document \(round): \(note)") else { return }
        }
    }

    /// 4,096 ids and more: the id table is filled in slot order.
    @Test(arguments: 0..<2)
    func bigDocuments(_ seed: Int) {
        var generator = SplitMix(seed: UInt64(seed) &* 31 &+ 5)
        for round in 0..<1 {
            let (text, note) = document(&generator, count: Int.random(in: 4096..<6000, using: &generator))
            guard expectSameInParts(text, "seed \(seed), document \(round): \(note)") else { return }
        }
    }

    /// Appends, runs of other values (shared), reservations, cuts and
    /// copies kept aside, checked against plain arrays.
    @Test(arguments: 0..<4)
    func runsAgainstAnArray(_ seed: Int) {
        var generator = SplitMix(seed: UInt64(seed) &+ 99)
        var pool: [(records: IndexedRecords, expected: [Int])] = [(IndexedRecords(), [])]
        var next = 0
        func fresh(_ count: Int) -> (IndexedRecords, [Int]) {
            defer { next += count }
            return (StoreReaderPartsTests.records(next..<(next + count)), Array(next..<(next + count)))
        }
        for step in 0..<250 {
            let chosen = Int.random(in: 0..<pool.count, using: &generator)
            var (records, expected) = pool[chosen]
            switch Int.random(in: 0..<6, using: &generator) {
            case 0:
                for _ in 0..<Int.random(in: 0..<600, using: &generator) {
                    records.append(StoreReaderPartsTests.entry(next), source: nil)
                    expected.append(next)
                    next += 1
                }
            case 1:
                let other = pool[Int.random(in: 0..<pool.count, using: &generator)]
                if expected.count + other.expected.count < 5000 {
                    records.append(contentsOf: other.records)
                    expected += other.expected
                }
            case 2:
                records.reserveCapacity(expected.count + Int.random(in: 0..<2000, using: &generator), source: nil)
            case 3:
                let cut = Int.random(in: 0...expected.count, using: &generator)
                records.removeSubrange(from: cut)
                expected.removeSubrange(cut...)
            case 4:
                let (part, partExpected) = fresh(Int.random(in: 0..<300, using: &generator))
                records.append(contentsOf: part)
                expected += partExpected
            default:
                // A copy kept aside; the one changed next must not change it.
                pool.append((records, expected))
            }
            pool[chosen] = (records, expected)
            if pool.count > 12 { pool.removeFirst() }
            // The one changed after every step; all of them (the copies
            // kept aside too) every 25 steps.
            for (records, expected) in step % 25 == 0 ? pool : [(records, expected)] {
                guard records.count == expected.count, expected.indices.allSatisfy({ Int(records[$0].start) == expected[$0] }),
                      records.map({ Int($0.start) }) == expected else {
                    Issue.record("seed \(seed), step \(step): the records differ from the array")
                    return
                }
            }
        }
    }
}

