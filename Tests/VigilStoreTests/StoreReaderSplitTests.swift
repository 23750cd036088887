// The store reader's second thread: a big `sessions` array is read in two
// halves at once, and the result must be exactly the one-thread reading:
// the same records, the same refusals with the same messages, whether the
// guessed start of the second half is right, inside a string, inside a
// nested value, or past a bad record.

import Testing
@testable import VigilStore
import VigilJSON
import VigilTestSupport
import VigilSystem

@Suite struct StoreReaderSplitTests {
    /// The reading of `text` with the second half on another thread from
    /// `parallelFrom` bytes, as comparable text: the records' ranges and ids,
    /// or the error.
    func reading(_ text: String, parallelFrom: Int) -> String {
        readingAndSplit(text, parallelFrom: parallelFrom).text
    }

    /// `reading` and whether the second thread's half was used.
    func readingAndSplit(_ text: String, parallelFrom: Int) -> (text: String, split: Bool) {
        let source = StoreSource(Array(text.utf8))
        do throws(StoreError) {
            let scan = try readStore(source, path: "/s.json", into: IndexSink(source: source), parallelFrom: parallelFrom)
            let index = try StoreIndex(parsing: source.arrayCopy, path: "/s.json")
            #expect(index.count == scan.sink.records.count)
            // Each record's range, and the id table finds each record by its id.
            let text = scan.sink.records.map { record in
                let id = source.withBytes { String(decoding: UnsafeBufferPointer(rebasing: $0[record.id.range]), as: UTF8.self) }
                return "\(record.range) \(id) \(index.sourceLocation(ofRecord: id)?.range == record.range)"
            }.joined(separator: "\n")
            return (text, scan.readInTwoHalves)
        } catch {
            return ("error: \(error)", false)
        }
    }

    func expectSameAsOneThread(_ text: String, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        let alone = reading(text, parallelFrom: .max)
        for threshold in [0, 64, text.utf8.count] {
            #expect(reading(text, parallelFrom: threshold) == alone, comment, sourceLocation: sourceLocation)
        }
        // SessionStore reads through the same reader.
        let one = storeError { () throws(StoreError) in try SessionStore(parsing: Array(text.utf8), path: "/s.json") }
        if alone.hasPrefix("error: ") { #expect(one.map { "error: \($0)" } == alone, sourceLocation: sourceLocation) }
    }

    static func record(_ i: Int, title: String = "t") -> String {
        #"{"id": "r\#(i)", "backend": "tmux", "status": "active", "title": "\#(title)", "meta": {"n": [\#(i), {"x": null}]}}"#
    }

    static func store(_ records: [String], separator: String = ",\n") -> String {
        #"{"version": 1, "sessions": ["# + "\n" + records.joined(separator: separator) + "\n], \"after\": 1}\n"
    }

    @Test func aCleanStoreReadsTheSame() {
        let text = Self.store((0..<200).map { Self.record($0) })
        expectSameAsOneThread(text)
        // The split really happens: the guess is a record start.
        let bytes = Array(text.utf8)
        let first = bytes.firstIndex(of: UInt8(ascii: "["))! + 2
        let guess = bytes.withUnsafeBufferPointer { StoreReaderSplit<IndexSink>.guessSecondHalf($0, after: first) }
        #expect(guess.map { bytes[$0] } == UInt8(ascii: "{"))
        #expect(guess.map { String(decoding: bytes[$0..<($0 + 8)], as: UTF8.self) } == #"{"id": ""#)
        if system_onlineProcessors() > 1 {
            #expect(readingAndSplit(text, parallelFrom: 0).split, "read in two halves")
        }
        #expect(!readingAndSplit(text, parallelFrom: .max).split)
    }

    @Test func aGuessInsideAStringOrANestedValueFallsBack() {
        // Every record's title holds the pattern the guess looks for, and so
        // does a nested array: most guesses land inside a value.
        let tricky = (0..<120).map { Self.record($0, title: String(repeating: "}, {", count: 40)) }
        expectSameAsOneThread(Self.store(tricky))
        #expect(!readingAndSplit(Self.store(tricky), parallelFrom: 0).split, "the guess stood inside a string")
        let nested = (0..<120).map { #"{"id": "n\#($0)", "backend": "tmux", "status": "closed", "list": [{"a": 1}, {"b": 2}, {"c": [{}, {}]}]}"# }
        expectSameAsOneThread(Self.store(nested, separator: ", "))
    }

    @Test func aGuessOnARecordShapedNestedValueIsNotTaken() {
        // Each record holds, after a long member, a nested list whose second
        // object looks like a record: the guess lands on it, and a reading
        // from there succeeds (that object, then the list's `]`). The first
        // thread never stands there, so that reading must be dropped.
        let records = (0..<150).map {
            #"{"id": "r\#($0)", "backend": "tmux", "status": "closed", "pad": "\#(String(repeating: "x", count: 300))", "#
                + #""nested": [{"x": 1}, {"id": "inner", "backend": "tmux", "status": "active"}]}"#
        }
        let text = Self.store(records)
        let bytes = Array(text.utf8)
        let guess = bytes.withUnsafeBufferPointer { StoreReaderSplit<IndexSink>.guessSecondHalf($0, after: bytes.firstIndex(of: UInt8(ascii: "["))! + 2) }
        #expect(guess.map { String(decoding: bytes[$0..<($0 + 14)], as: UTF8.self) } == #"{"id": "inner""#)
        expectSameAsOneThread(text)
        #expect(!readingAndSplit(text, parallelFrom: 0).split)
    }

    @Test(arguments: [10, 150])
    func problemsInEitherHalfGiveTheOneThreadMessage(_ at: Int) {
        var records = (0..<200).map { Self.record($0) }
        // A record problem, a duplicate id, a non-object, a syntax error.
        var missing = records
        missing[at] = #"{"id": "bad", "backend": "tmux"}"#
        expectSameAsOneThread(Self.store(missing), "missing status at \(at)")
        var duplicate = records
        duplicate[at] = Self.record(3)
        expectSameAsOneThread(Self.store(duplicate), "duplicate id at \(at)")
        var number = records
        number[at] = "7"
        expectSameAsOneThread(Self.store(number), "a number at \(at)")
        records[at] = #"{"id": "x", "backend": "tmux", "status": "active",}"#
        expectSameAsOneThread(Self.store(records), "syntax error at \(at)")
        #expect(reading(Self.store(records), parallelFrom: 0).contains("trailing commas are not allowed"))
    }

    @Test func aProblemAfterTheArrayStillComesFirstWhenItIsASyntaxError() {
        let text = Self.store((0..<200).map { Self.record($0) }).replacingOnce(#""after": 1"#, with: #""after": tru"#)
        expectSameAsOneThread(text)
        #expect(reading(text, parallelFrom: 0).hasPrefix("error: "))
    }

    /// A record of `IndexedRecords` told apart by its start.
    static func entry(_ start: Int) -> IndexedRecord {
        IndexedRecord(start: UInt32(start), end: UInt32(start + 1), id: .absent, backendSession: .absent, socket: .absent,
                      cliId: .absent, points: .unavailable, backend: .tmux, status: .active, mayHoldKilledAt: false, idHash: 0)
    }

    static func records(_ starts: Range<Int>) -> IndexedRecords {
        var records = IndexedRecords()
        for start in starts { records.append(entry(start), source: nil) }
        return records
    }

    /// The second half's records are kept as a second part, not copied:
    /// positions run on across the parts, and dropping records from a
    /// position (a refused document) works in either part.
    @Test func twoPartRecordsReadAndDropAsOne() {
        var joined = Self.records(0..<5)
        joined.append(contentsOf: Self.records(5..<9))
        #expect(joined.count == 9)
        #expect(joined.map { Int($0.start) } == Array(0..<9))
        #expect(joined.indices == 0..<9)
        // Appended after two parts: one record at a time, still in order.
        joined.append(contentsOf: Self.records(9..<12))
        joined.append(Self.entry(12), source: nil)
        #expect(joined.map { Int($0.start) } == Array(0..<13))

        for cut in [0, 3, 5, 7, 13] {
            var dropped = Self.records(0..<5)
            dropped.append(contentsOf: Self.records(5..<13))
            dropped.removeSubrange(from: cut)
            #expect(dropped.map { Int($0.start) } == Array(0..<cut), "cut at \(cut)")
            dropped.append(Self.entry(cut), source: nil)
            #expect(dropped.map { Int($0.start) } == Array(0...cut), "appended after the cut at \(cut)")
        }
        // Onto an empty first part: the other's records, as they are.
        var empty = IndexedRecords()
        empty.append(contentsOf: Self.records(0..<3))
        #expect(empty.map { Int($0.start) } == [0, 1, 2])
    }
}
