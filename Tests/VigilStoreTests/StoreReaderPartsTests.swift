// The store reader's second thread: a big `sessions` array is read in
// parts, claimed in turn by two threads, and the result must be exactly the
// one-thread reading: the same records, the same refusals with the same
// messages, whether a part's guessed start is right, inside a string,
// inside a nested value, or past a bad record, in two parts or in many.

import Testing
@testable import VigilStore
import VigilJSON
import VigilTestSupport
import VigilSystem

@Suite struct StoreReaderPartsTests {
    /// The reading of `text` in parts on two threads from `parallelFrom`
    /// bytes (parts of `partSize` bytes or more), as comparable text: the
    /// records' ranges and ids, or the error.
    func reading(_ text: String, parallelFrom: Int, partSize: Int = storePartSize) -> String {
        readingAndSplit(text, parallelFrom: parallelFrom, partSize: partSize).text
    }

    /// `reading` and whether any part read on its own was used.
    func readingAndSplit(_ text: String, parallelFrom: Int, partSize: Int = storePartSize) -> (text: String, split: Bool) {
        let source = StoreSource(Array(text.utf8))
        do throws(StoreError) {
            let scan = try readStore(source, path: "/s.json", into: IndexSink(source: source), parallelFrom: parallelFrom,
                                     partSize: partSize)
            let index = try StoreIndex(parsing: source.arrayCopy, path: "/s.json")
            #expect(index.count == scan.sink.records.count)
            // Each record's range, and the id table finds each record by its id.
            let text = scan.sink.records.map { record in
                let id = source.withBytes { String(decoding: UnsafeBufferPointer(rebasing: $0[record.id.range]), as: UTF8.self) }
                return "\(record.range) \(id) \(index.sourceLocation(ofRecord: id)?.range == record.range)"
            }.joined(separator: "\n")
            return (text, scan.readInParts)
        } catch {
            return ("error: \(error)", false)
        }
    }

    func expectSameAsOneThread(_ text: String, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        let alone = reading(text, parallelFrom: .max)
        for threshold in [0, 64, text.utf8.count] {
            #expect(reading(text, parallelFrom: threshold) == alone, comment, sourceLocation: sourceLocation)
        }
        // In many parts: 64 at most, as small as 1 KiB.
        for partSize in [1, 1024, 4096] {
            #expect(reading(text, parallelFrom: 0, partSize: partSize) == alone, comment, sourceLocation: sourceLocation)
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

    /// The guessed part starts of `text`'s `sessions` array (its first
    /// element on the line after the `[`), and what stands at each guess
    /// after part 0's: its first `length` bytes.
    static func guesses(_ text: String, partSize: Int, length: Int) -> (starts: [Int], first: Int, texts: [String]) {
        let bytes = Array(text.utf8)
        let first = bytes.firstIndex(of: UInt8(ascii: "["))! + 2
        let starts = bytes.withUnsafeBufferPointer { StoreReaderParts<IndexSink>.partStarts($0, after: first, partSize: partSize) }
        return (starts, first, starts.dropFirst().map { String(decoding: bytes[$0..<($0 + length)], as: UTF8.self) })
    }

    @Test func aCleanStoreReadsTheSame() {
        let text = Self.store((0..<200).map { Self.record($0) })
        expectSameAsOneThread(text)
        // The split really happens: every guess is a record start.
        let halves = Self.guesses(text, partSize: .max, length: 8)
        #expect(halves.starts.count == 2 && halves.starts[0] == halves.first)
        let (starts, _, atGuesses) = Self.guesses(text, partSize: 1024, length: 8)
        #expect(starts.count == text.utf8.count / 1024, "one part per KiB")
        #expect(atGuesses.allSatisfy { $0 == #"{"id": ""# })
        #expect(zip(starts, starts.dropFirst()).allSatisfy { $0 < $1 })
        if system_onlineProcessors() > 1 {
            #expect(readingAndSplit(text, parallelFrom: 0).split, "read in two parts")
            #expect(readingAndSplit(text, parallelFrom: 0, partSize: 1024).split, "read in many parts")
        }
        #expect(!readingAndSplit(text, parallelFrom: .max).split)
    }

    @Test func aGuessInsideAStringOrANestedValueFallsBack() {
        // Every record's title holds the pattern the guess looks for, and so
        // does a nested array: most guesses land inside a value.
        let tricky = (0..<120).map { Self.record($0, title: String(repeating: "}, {", count: 40)) }
        expectSameAsOneThread(Self.store(tricky))
        #expect(!readingAndSplit(Self.store(tricky), parallelFrom: 0).split, "the guess stood inside a string")
        #expect(!readingAndSplit(Self.store(tricky), parallelFrom: 0, partSize: 1024).split, "every guess stood inside a string")
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
        let halves = Self.guesses(text, partSize: .max, length: 14)
        #expect(halves.starts.count == 2 && halves.texts == [#"{"id": "inner""#])
        // In many parts, most guesses land on it too (the others on records).
        let many = Self.guesses(text, partSize: 1024, length: 14)
        let inner = many.texts.filter { $0 == #"{"id": "inner""# }
        #expect(many.starts.count > 10 && inner.count > many.starts.count / 2)
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

    /// Each part's records are kept as a run of their own, not copied:
    /// positions run on across the runs, and dropping records from a
    /// position (a refused document) works in any run.
    @Test func recordsInRunsReadAndDropAsOne() {
        var joined = Self.records(0..<5)
        joined.append(contentsOf: Self.records(5..<9))
        #expect(joined.count == 9 && joined.runCount == 2)
        #expect(joined.map { Int($0.start) } == Array(0..<9))
        #expect(joined.indices == 0..<9)
        // More runs, an empty one (adds none), then one record at a time.
        joined.append(contentsOf: Self.records(9..<12))
        joined.append(contentsOf: IndexedRecords())
        joined.append(contentsOf: Self.records(12..<13))
        joined.append(Self.entry(13), source: nil)
        #expect(joined.runCount == 4)
        #expect(joined.map { Int($0.start) } == Array(0..<14))
        #expect((0..<14).map { Int(joined[$0].start) } == Array(0..<14), "by position, in any order")
        #expect((0..<14).reversed().map { Int(joined[$0].start) } == Array((0..<14).reversed()))
        #expect(joined.statusesAndBackends().statuses.count == 14)

        func runs() -> IndexedRecords {
            var records = Self.records(0..<5)
            for part in [5..<9, 9..<10, 10..<13] { records.append(contentsOf: Self.records(part)) }
            return records
        }
        for cut in [0, 3, 5, 7, 9, 10, 11, 13] {
            var dropped = runs()
            dropped.removeSubrange(from: cut)
            #expect(dropped.count == cut && dropped.map { Int($0.start) } == Array(0..<cut), "cut at \(cut)")
            dropped.append(Self.entry(cut), source: nil)
            #expect(dropped.map { Int($0.start) } == Array(0...cut), "appended after the cut at \(cut)")
        }
        // A copy shares the runs; changing one leaves the other as it was.
        let original = runs()
        var changed = original
        changed.removeSubrange(from: 7)
        changed.append(Self.entry(99), source: nil)
        #expect(original.map { Int($0.start) } == Array(0..<13))
        #expect(changed.map { Int($0.start) } == Array(0..<7) + [99])
        // Onto an empty first run: the other's records, as they are.
        var empty = IndexedRecords()
        empty.append(contentsOf: Self.records(0..<3))
        #expect(empty.map { Int($0.start) } == [0, 1, 2] && empty.runCount == 1)
    }

    /// Runs that span many blocks of positions, and runs inside one: every
    /// position reads its record, after cuts and appends too.
    @Test func manyRunsFindEveryPosition() {
        // Many runs inside one block of positions, then across blocks.
        var small = Self.records(0..<3)
        var next = 3
        for size in (0..<120).map({ 1 + $0 % 3 }) {
            small.append(contentsOf: Self.records(next..<(next + size)))
            next += size
        }
        #expect(small.runCount == 121)
        #expect((0..<next).allSatisfy { Int(small[$0].start) == $0 })
        #expect((0..<next).reversed().allSatisfy { Int(small[$0].start) == $0 })

        var generator = SplitMix(seed: 11)
        for _ in 0..<20 {
            var records = Self.records(0..<Int.random(in: 0..<600, using: &generator))
            var expected = records.map { Int($0.start) }
            for _ in 0..<Int.random(in: 1..<8, using: &generator) {
                let size = [0, 1, 255, 256, 257, 700][Int.random(in: 0..<6, using: &generator)]
                records.append(contentsOf: Self.records(expected.count..<(expected.count + size)))
                expected += Array(expected.count..<(expected.count + size))
                if Bool.random(using: &generator) {
                    let cut = Int.random(in: 0...expected.count, using: &generator)
                    records.removeSubrange(from: cut)
                    expected.removeSubrange(cut...)
                }
                for _ in 0..<Int.random(in: 0..<300, using: &generator) {
                    records.append(Self.entry(expected.count), source: nil)
                    expected.append(expected.count)
                }
                #expect(records.count == expected.count)
                #expect(expected.indices.allSatisfy { Int(records[$0].start) == expected[$0] })
                #expect(records.map { Int($0.start) } == expected)
            }
        }
    }

    @Test func somePartsGuessedWrongAreReadByTheReadersThread() {
        // Every seventh record's title holds the pattern the guess looks for:
        // some parts start inside a string, the others at records.
        let records = (0..<400).map { Self.record($0, title: $0 % 7 == 3 ? String(repeating: "}, {", count: 120) : "t") }
        let text = Self.store(records)
        expectSameAsOneThread(text)
        let (starts, _, atGuesses) = Self.guesses(text, partSize: 1024, length: 8)
        let atRecords = atGuesses.filter { $0 == #"{"id": ""# }
        #expect(atRecords.count > 0 && atRecords.count < starts.count - 1, "some guesses right, some wrong")
        if system_onlineProcessors() > 1 {
            #expect(readingAndSplit(text, parallelFrom: 0, partSize: 1024).split, "the right ones used")
        }
    }

    @Test func partsGuessedPastTheArrayAndThePartThatEndsIt() {
        // After `sessions`, a member as big again holding record-shaped
        // objects: half the guesses land there, where no part is taken,
        // and the part that holds the `]` ends the array.
        let records = (0..<200).map { Self.record($0) }
        let archive = (0..<200).map { Self.record(1000 + $0) }
        let text = #"{"version": 1, "sessions": ["# + "\n" + records.joined(separator: ",\n") + "\n], \"archive\": [\n"
            + archive.joined(separator: ",\n") + "\n]}\n"
        expectSameAsOneThread(text)
        #expect(reading(text, parallelFrom: .max).split(separator: "\n").count == 200)
        if system_onlineProcessors() > 1 {
            #expect(readingAndSplit(text, parallelFrom: 0, partSize: 1024).split)
        }
    }

    @Test(arguments: [0, 1, 57, 199, 398, 399])
    func problemsInAnyOfManyPartsGiveTheOneThreadMessage(_ at: Int) {
        var records = (0..<400).map { Self.record($0) }
        var missing = records
        missing[at] = #"{"id": "bad", "backend": "tmux"}"#
        expectSameAsOneThread(Self.store(missing), "missing status at \(at)")
        var duplicate = records
        duplicate[at] = Self.record(at == 0 ? 399 : 0)
        expectSameAsOneThread(Self.store(duplicate), "duplicate id at \(at)")
        records[at] = #"{"id": "x", "backend": "tmux", "status": "active",}"#
        expectSameAsOneThread(Self.store(records), "syntax error at \(at)")
        #expect(reading(Self.store(records), parallelFrom: 0, partSize: 1024).contains("trailing commas are not allowed"))
    }
}

