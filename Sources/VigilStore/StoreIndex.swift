// A loaded store kept as offsets into its bytes: restore's way to read a big
// store without a `SessionRecord` (and a heap String for its id) per record.
//
// The same reader as `SessionStore(parsing:)` validates the document (so the
// same documents are refused, with the same messages); each record is kept
// as its byte range, the tokens of the four members restore reads (`id`,
// `backendSession`, `socket`, `cliId`), `backend`, `status` and the patch
// points of a close, and the id's hash: 64 bytes. Strings are decoded when
// asked for.
//
// Edits are kept apart from the records: a close as one shared entry
// (timestamp, reason) per run of equal closes, spliced into the record's
// bytes on writing (SessionRecord.splice); any other edit on a
// `SessionRecord` read again from the record's bytes, kept only for the
// records so edited (restore's kill markers: a handful). Writing streams
// the loaded bytes with the edited records replaced, as a `SessionStore`
// does, so the output is byte for byte what a `SessionStore` with the same
// edits would write.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilJSON

/// Where a string value lies in the source: its bytes between the quotes.
struct SourceString: Sendable, Equatable {
    var start: UInt32
    /// The byte count, with `escapeBit` set when the value holds escapes.
    var packed: UInt32

    static let escapeBit: UInt32 = 1 << 31
    /// No such member (or not a string).
    static let absent = SourceString(start: 0, packed: .max)

    init(start: UInt32, packed: UInt32) {
        self.start = start
        self.packed = packed
    }

    init(_ token: JSONStringToken?) {
        guard let token else {
            self = .absent
            return
        }
        start = UInt32(token.start)
        packed = UInt32(token.end - token.start) | (token.hasEscapes ? Self.escapeBit : 0)
    }

    var isAbsent: Bool { packed == .max }
    var hasEscapes: Bool { packed & Self.escapeBit != 0 }
    var range: Range<Int> { Int(start)..<(Int(start) + Int(packed & ~Self.escapeBit)) }
    var token: JSONStringToken { JSONStringToken(start: range.lowerBound, end: range.upperBound, hasEscapes: hasEscapes) }
}

/// One record of a `StoreIndex`.
struct IndexedRecord: Sendable {
    var start: UInt32
    var end: UInt32
    var id: SourceString
    var backendSession: SourceString
    var socket: SourceString
    var cliId: SourceString
    var points: PatchPoints
    var backend: BackendKind
    var status: RecordStatus
    var mayHoldKilledAt: Bool
    /// `RecordIDIndex.hash` of the id, made while the record was read (on
    /// whichever thread read it).
    var idHash: UInt32

    var range: Range<Int> { Int(start)..<Int(end) }
}

/// The records of an index, in the order of the document, as the reader
/// left them: one run, or one per part when a big `sessions` array was read
/// in parts on two threads (each part's records are kept where its thread
/// put them rather than copied after the ones before: at 100,000 records
/// that copy was megabytes moved into fresh pages).
struct IndexedRecords: RandomAccessCollection, Sendable {
    /// Never empty; only the first run may hold no records.
    private var runs: [RecordRun] = [RecordRun()]
    /// The position of each run's first record.
    private var firsts: [Int] = [0]
    /// Once there are two runs: the run holding the first position of each
    /// block of `1 << blockShift` positions. A position's run is that one
    /// or one of the next few (a part holds hundreds of records), found
    /// without a search.
    private var blockRuns: [UInt32] = []
    private static let blockShift = 8
    /// Once there are two runs: each run's first position and the address
    /// of its records, then an entry whose first position is `Int.max`.
    /// Read without touching the runs themselves (no reference counting on
    /// the way: restore's passes look records up by position several times
    /// each).
    private var directory: [RunEntry] = []
    private struct RunEntry {
        var first: Int
        var base: UInt
    }
    private(set) var count = 0

    var startIndex: Int { 0 }
    var endIndex: Int { count }

    @inline(__always)
    subscript(position: Int) -> IndexedRecord {
        if runs.count == 1 { return runs[0][position] }
        precondition(position >= 0 && position < count, "IndexedRecords: no position \(position)")
        let entry = directory[run(holding: position)]
        return UnsafePointer<IndexedRecord>(bitPattern: entry.base).unsafelyUnwrapped[position - entry.first]
    }

    /// The last run whose first position is at most `position` (with two
    /// runs or more, `position` below `count`): the block's first run or
    /// one of the next few (the directory's last entry stops the walk).
    @inline(__always)
    private func run(holding position: Int) -> Int {
        directory.withUnsafeBufferPointer { directory in
            var run = Int(blockRuns[position >> Self.blockShift])
            while directory[run + 1].first <= position { run += 1 }
            return run
        }
    }

    /// `blockRuns` and `directory` brought up to date after the runs
    /// changed: a run added or dropped, records added, the last run grown
    /// into new memory.
    private mutating func noteRuns() {
        guard runs.count > 1 else {
            if !directory.isEmpty { (directory, blockRuns) = ([], []) }
            return
        }
        if directory.count != runs.count + 1 {
            directory = zip(runs, firsts).map { RunEntry(first: $1, base: UInt(bitPattern: $0.base)) }
            directory.append(RunEntry(first: .max, base: 0))
        }
        let last = runs.count - 1
        let base = UInt(bitPattern: runs[last].base)
        if directory[last].base != base { directory[last].base = base }
        var run = Int(blockRuns.last ?? 0)
        var block = blockRuns.count
        while block << Self.blockShift < count {
            while run + 1 < firsts.count && firsts[run + 1] <= block << Self.blockShift { run += 1 }
            blockRuns.append(UInt32(run))
            block += 1
        }
    }

    /// Calls `body` with each record, in order.
    func forEach(_ body: (borrowing IndexedRecord) -> Void) {
        for run in runs { run.forEach(body) }
    }

    /// Every record's status and backend, in order.
    func statusesAndBackends() -> (statuses: [RecordStatus], backends: [BackendKind]) {
        var statuses: [RecordStatus] = []
        var backends: [BackendKind] = []
        statuses.reserveCapacity(count)
        backends.reserveCapacity(count)
        forEach { entry in
            statuses.append(entry.status)
            backends.append(entry.backend)
        }
        return (statuses, backends)
    }

    /// Room for `count` records in all, from `source`'s arena if it has it.
    mutating func reserveCapacity(_ count: Int, source: StoreSource?) {
        let last = runs.count - 1
        Self.unique(&runs[last]).reserve(count - firsts[last], source: source)
        noteRuns()
    }

    mutating func append(_ record: IndexedRecord, source: StoreSource?) {
        Self.unique(&runs[runs.count - 1]).append(record, source: source)
        count += 1
        if runs.count > 1 { noteRuns() }
    }

    /// Appends `other`'s records as runs of their own, without a copy.
    mutating func append(contentsOf other: IndexedRecords) {
        for run in other.runs where run.count > 0 {
            if count == 0 {
                runs = [run]
                firsts = [0]
            } else {
                runs.append(run)
                firsts.append(count)
            }
            count += run.count
        }
        noteRuns()
    }

    /// Drops the records from `position` on.
    mutating func removeSubrange(from position: Int) {
        precondition(position >= 0 && position <= count, "IndexedRecords: no position \(position)")
        // The run holding `position` keeps the records before it (a cut at a
        // run's first record leaves it empty only if it is the first run).
        var last = runs.count == 1 ? 0 : position == count ? runs.count - 1 : run(holding: position)
        if last > 0 && firsts[last] == position { last -= 1 }
        runs.removeSubrange((last + 1)...)
        firsts.removeSubrange((last + 1)...)
        Self.unique(&runs[last]).truncate(to: position - firsts[last])
        count = position
        blockRuns.removeSubrange(Swift.min(blockRuns.count, (count + (1 << Self.blockShift) - 1) >> Self.blockShift)...)
        noteRuns()
    }

    /// Whether every record is in `source`'s arena (tests).
    func inArena(of source: StoreSource) -> Bool {
        runs.allSatisfy { $0.count == 0 || $0.inArena(of: source) }
    }

    /// How many runs hold the records (tests).
    var runCount: Int { runs.count }

    /// `run`, copied first if another `IndexedRecords` shares it. (Static:
    /// a method would hold `self`, and with it a second reference to `run`.)
    private static func unique(_ run: inout RecordRun) -> RecordRun {
        if !isKnownUniquelyReferenced(&run) { run = run.copy() }
        return run
    }
}

/// Records in memory of their own, appended by one thread and then only
/// read: in a source's arena (`StoreSource.allocate`) when it has room,
/// faulted in with the store's huge pages; malloc'd otherwise.
final class RecordRun: @unchecked Sendable {
    /// Room for `capacity` records, the first `count` of them set.
    private var memory: IndexMemory<IndexedRecord>?
    private(set) var count = 0
    private var capacity = 0

    init() {}

    deinit { memory?.release() }

    /// `memory`'s base, kept apart (reading it through `memory` retains
    /// the arena's source).
    private(set) var base: UnsafeMutablePointer<IndexedRecord>?

    subscript(position: Int) -> IndexedRecord {
        precondition(position >= 0 && position < count, "RecordRun: no position \(position)")
        return base.unsafelyUnwrapped[position]
    }

    /// Calls `body` with each record, in order.
    func forEach(_ body: (borrowing IndexedRecord) -> Void) {
        guard let base else { return }
        for position in 0..<count { body(base[position]) }
    }

    func append(_ record: IndexedRecord, source: StoreSource?) {
        if count == capacity { reserve(max(16, capacity * 2), source: source) }
        (base.unsafelyUnwrapped + count).initialize(to: record)
        count += 1
    }

    /// Room for `wanted` records, moved to new memory if need be.
    func reserve(_ wanted: Int, source: StoreSource?) {
        guard wanted > capacity else { return }
        let moved = IndexMemory<IndexedRecord>(count: wanted, preferring: source)
        if let memory {
            moved.base.initialize(from: memory.base, count: count)
            memory.release()
        }
        (memory, capacity, base) = (moved, wanted, moved.base)
    }

    /// Drops the records from `position` on (trivial values: nothing to end).
    func truncate(to position: Int) { count = min(count, position) }

    /// The same records in malloc'd memory.
    func copy() -> RecordRun {
        let run = RecordRun()
        run.reserve(count, source: nil)
        if let base, count > 0 { run.base.unsafelyUnwrapped.initialize(from: base, count: count) }
        run.count = count
        return run
    }

    func inArena(of source: StoreSource) -> Bool { memory.map { source.arenaHolds($0.base) } ?? false }
}

/// A validated store document held as its bytes plus 64 bytes per record
/// (see the file comment). Restore's document: it reads a record's members
/// by position, closes records, edits a few otherwise, and commits through
/// `StoreFile.commit` like a `SessionStore`.
package struct StoreIndex: RecordDocument {
    let source: StoreSource
    /// The records as loaded; never changed (copies of the index share it).
    let records: IndexedRecords
    let idIndex: RecordIDIndex
    /// Per record (once anything is edited): 0 unedited; `rewritten`: in
    /// `patched`; otherwise 1 + the index of its close in `closes`.
    private var edits: [UInt32] = []
    /// The closes, one entry per run of records closed alike.
    private var closes: [Close] = []
    /// Records edited other than by a close, read again and edited.
    private var patched: [Int: SessionRecord] = [:]

    /// The `edits` entry of a record in `patched`.
    static let rewritten = UInt32.max

    /// One close: the typed values it sets and which of them change.
    private struct Close: Sendable {
        let timestamp: String
        let reason: String
        let changed: UInt8 // one bit per RecordKey
        /// What a splice appends after the last member of a record that has
        /// neither `closedAt` nor `closeReason` (the common close), made once.
        let appendix: [UInt8]

        init(timestamp: String, reason: String, changed: UInt8) {
            self.timestamp = timestamp
            self.reason = reason
            self.changed = changed
            var writer = JSONWriter(reservingCapacity: 64 + timestamp.utf8.count + reason.utf8.count)
            SessionRecord.writeAppendedClose(closedAt: timestamp, closeReason: reason, into: &writer)
            appendix = writer.bytes
        }
    }

    /// Parses and validates a document, exactly as `SessionStore(parsing:)`.
    /// - Throws: `StoreError` with category `.invalidData`; the message is
    ///   the one `SessionStore(parsing:)` gives.
    package init(parsing bytes: [UInt8], path: String = "<memory>") throws(StoreError) {
        try self.init(source: StoreSource(bytes), path: path)
    }

    /// `init(parsing:path:)` over bytes already in a source.
    init(source: StoreSource, path: String) throws(StoreError) {
        // Offsets are 32 bits, a string's length 31 (its top bit marks escapes).
        guard source.count < Int(Int32.max) else {
            throw StoreError(.invalidData, path: path, message: "the store is 2 GiB or larger; this reader holds 31-bit offsets")
        }
        self.source = source
        let scan = try readStore(source, path: path, into: IndexSink(source: source))
        records = scan.sink.records
        idIndex = scan.idIndex
    }

    /// The number of records.
    package var count: Int { records.count }

    // MARK: - Reading a record

    /// The record's id.
    package func id(at position: Int) -> String { string(records[position].id)! }
    /// The record's multiplexer.
    package func backend(at position: Int) -> BackendKind { records[position].backend }
    /// The record's `backendSession`, if a string.
    package func backendSession(at position: Int) -> String? { string(records[position].backendSession) }

    /// The record as a `SessionRecord`, as loaded, with this index's edits.
    package func record(at position: Int) -> SessionRecord {
        let entry = records[position]
        let edit = self.edit(at: position)
        if edit == Self.rewritten { return patched[position]! }
        var record = SessionRecord.reading(entry.range, of: source)
        if edit != 0 {
            let close = closes[Int(edit) - 1]
            record.close(at: close.timestamp, reason: close.reason)
        }
        return record
    }

    private func string(_ value: SourceString) -> String? { source.string(value) }

    /// The records as views that read their members when asked (restore's
    /// `RestorableRecord`s).
    package var views: Views { Views(source: source, records: records) }

    /// The records of an index as `IndexedRecordView`s.
    package struct Views: RandomAccessCollection, Sendable {
        let source: StoreSource
        let records: IndexedRecords

        package var startIndex: Int { 0 }
        package var endIndex: Int { records.count }
        package subscript(position: Int) -> IndexedRecordView {
            IndexedRecordView(source: source, entry: records[position])
        }

        /// The status and backend of every record, in order, read out in
        /// one pass (restore's passes look at these first, for every
        /// record, and skip most records of a big store on them alone).
        package func statusesAndBackends() -> (statuses: [RecordStatus], backends: [BackendKind]) {
            records.statusesAndBackends()
        }
    }

    // MARK: - Editing

    /// Closes the record at `position`, as `SessionRecord.close(at:reason:)`
    /// does: nothing changes when it is already closed with this time and
    /// reason.
    package mutating func close(_ position: Int, at timestamp: String, reason: String) {
        let entry = records[position]
        if edit(at: position) == Self.rewritten || entry.points.membersEnd == 0 {
            modify(position) { $0.close(at: timestamp, reason: reason) }
            return
        }
        var changed: UInt8 = 0
        if entry.status != .closed { changed |= 1 << RecordKey.status.rawValue }
        if !holds(entry, .closedAt, timestamp) { changed |= 1 << RecordKey.closedAt.rawValue }
        if !holds(entry, .closeReason, reason) { changed |= 1 << RecordKey.closeReason.rawValue }
        guard changed != 0 else {
            setEdit(0, at: position)
            return
        }
        if let last = closes.last, last.changed == changed, last.timestamp == timestamp, last.reason == reason {
            setEdit(UInt32(closes.count), at: position)
        } else {
            closes.append(Close(timestamp: timestamp, reason: reason, changed: changed))
            setEdit(UInt32(closes.count), at: position)
        }
    }

    /// Edits the record at `position` as a `SessionRecord` (read again from
    /// its bytes; kept from then on).
    package mutating func modify(_ position: Int, _ body: (inout SessionRecord) -> Void) {
        var record = self.record(at: position)
        body(&record)
        patched[position] = record
        setEdit(Self.rewritten, at: position)
    }

    /// The edit of the record at `position` (see `edits`).
    private func edit(at position: Int) -> UInt32 { edits.isEmpty ? 0 : edits[position] }

    private mutating func setEdit(_ edit: UInt32, at position: Int) {
        if edits.isEmpty {
            guard edit != 0 else { return }
            edits = [UInt32](repeating: 0, count: records.count)
        }
        edits[position] = edit
    }

    /// Whether the record's `key` as loaded is a string equal to `value`,
    /// as `SessionRecord` compares them (decoded, by `String` equality):
    /// a close then leaves the member's bytes as they are, escapes and all.
    private func holds(_ entry: IndexedRecord, _ key: RecordKey, _ value: String) -> Bool {
        let span = entry.points.span(key)
        guard span.isPresent else { return false }
        let start = Int(entry.start) + Int(span.start)
        let end = Int(entry.start) + Int(span.end)
        return source.withBytes { bytes in
            // null or another kind: read as nil, so it changes.
            guard bytes[start] == UInt8(ascii: "\""), end - start >= 2 else { return false }
            let inner = (start + 1)..<(end - 1)
            let utf8 = value.utf8
            let plainASCII = { (byte: UInt8) in byte >= 0x20 && byte < 0x80 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") }
            // The common case: both plain ASCII, where equal means the same bytes.
            if utf8.allSatisfy(plainASCII) && bytes[inner].allSatisfy(plainASCII) {
                return bytes[inner].elementsEqual(utf8)
            }
            // Escapes or other scalars: decoded and compared as Strings
            // (canonical equivalence), as `SessionRecord.closeReason` does.
            let hasEscapes = bytes[inner].contains(UInt8(ascii: "\\"))
            let token = JSONStringToken(start: inner.lowerBound, end: inner.upperBound, hasEscapes: hasEscapes)
            return JSONScanner(bytes).decode(token) == value
        }
    }

    // MARK: - RecordDocument

    /// The bytes the index was read from.
    package var sourceBytes: [UInt8] { source.arrayCopy }

    /// Where the record with `id` is.
    package func sourceLocation(ofRecord id: String) -> RecordLocation? {
        guard let position = idIndex.position(of: id, in: IndexSink.IDs(records: records, source: source)) else { return nil }
        return RecordLocation(position: position, range: records[position].range)
    }

    /// Where the record with `id` is, checked at `position` first.
    package func sourceLocation(ofRecord id: String, near position: Int?) -> RecordLocation? {
        guard let position, records.indices.contains(position) else { return sourceLocation(ofRecord: id) }
        let same = id.withUTF8Bytes { wanted in
            IndexSink.IDs(records: records, source: source).withIDBytes(at: position) { $0.elementsEqual(wanted) }
        }
        return same ? RecordLocation(position: position, range: records[position].range) : sourceLocation(ofRecord: id)
    }

    /// Whether any record is edited.
    package var hasChanges: Bool { edits.contains { $0 != 0 } }

    /// The document with its edits, in one buffer.
    package func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(source.count)
        _ = serialized { piece in
            bytes.append(contentsOf: piece)
            return true
        }
        return bytes
    }

    /// The document with its edits, in pieces (`SplicedOutput`): unedited
    /// stretches straight from the loaded bytes, edited records written into
    /// a reused chunk.
    package func serialized(into sink: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        source.withBytes { buffer -> Bool in
            var output = SplicedOutput(source: buffer)
            for position in edits.indices where edits[position] != 0 {
                let entry = records[position]
                guard output.copySource(upTo: Int(entry.start), sink) else { return false }
                write(entry, edit: edits[position], at: position, from: buffer, into: &output.writer)
                output.skipSource(to: Int(entry.end))
                guard output.flushIfFull(sink) else { return false }
            }
            return output.finish(sink)
        }
    }

    /// An edited record's bytes.
    private func write(_ entry: IndexedRecord, edit: UInt32, at position: Int, from buffer: UnsafeBufferPointer<UInt8>,
                       into writer: inout JSONWriter) {
        if edit == Self.rewritten {
            patched[position]!.write(into: &writer)
            return
        }
        let close = closes[Int(edit) - 1]
        let points = entry.points
        if close.changed == SessionRecord.spliceableKeys, points.membersEnd != 0, points.status.isPresent,
           !points.closedAt.isPresent, !points.closeReason.isPresent {
            // The common close, as `splice` writes it: `status` replaced where
            // it stands, the two members appended after the last one.
            let start = Int(entry.start)
            writer.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[start..<(start + Int(points.status.start))]))
            writer.append("\"closed\"")
            let membersEnd = start + Int(points.membersEnd)
            writer.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[(start + Int(points.status.end))..<membersEnd]))
            writer.bytes.append(contentsOf: close.appendix)
            writer.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[membersEnd..<Int(entry.end)]))
            return
        }
        let spliced = SessionRecord.splice(buffer, range: entry.range, points: entry.points, changed: close.changed, values: { key in
            switch key {
            case .status: RecordStatus.closed.rawValue
            case .closedAt: close.timestamp
            default: close.reason
            }
        }, into: &writer)
        precondition(spliced, "StoreIndex: a close without patch points")
    }
}

extension StoreFile {
    /// `commit(_:changes:...)` for a `StoreIndex`, by positions: change `n`
    /// is about the record at `positions[n]` and writes if `writes[n]`.
    /// No id is made unless the file changed meanwhile (the record is then
    /// found by its id in the newer version). Specialised here, in the
    /// store's module: called from another, the generic commit would run
    /// unspecialised.
    package func commit(
        index: inout StoreIndex,
        positions: [Int],
        writes: [Bool],
        lock lockProtocol: StoreLockProtocol,
        lockTimeout: Duration,
        strictLinks: Bool,
        notice: (StoreNotice) -> Void,
        apply: (inout StoreIndex, _ change: Int, _ position: Int) -> Void
    ) async throws(StoreError) -> CommitReport {
        precondition(positions.count == writes.count && positions.allSatisfy { index.records.indices.contains($0) },
                     "commit: a position outside the loaded document")
        let views = index.views
        return try await commit(&index, positions: positions, writes: writes, id: { views[positions[$0]].id },
                                lock: lockProtocol, lockTimeout: lockTimeout, strictLinks: strictLinks, notice: notice, apply: apply)
    }
}

/// One record of a `StoreIndex` as loaded, its members decoded when read.
///
/// A view does not keep the store's bytes alive: it is valid while the
/// `StoreIndex` or the `Views` it came from is. (Restore reads every
/// record several times, on two threads at once; a strong reference per
/// view made both threads count references on the one object that holds
/// the bytes, and that shared count cost more than the rest of those
/// passes: 100,000 records restored in 0.34 s of CPU with it, 0.27 s
/// without, measured by `ru_utime + ru_stime`.) Use a view where it is
/// made; do not keep it.
package struct IndexedRecordView: Sendable {
    unowned(unsafe) let source: StoreSource
    let entry: IndexedRecord

    /// The record's id.
    package var id: String { source.string(entry.id)! }
    /// The record's multiplexer.
    package var backend: BackendKind { entry.backend }
    /// The record's status.
    package var status: RecordStatus { entry.status }
    /// `backendSession`, if a string.
    package var backendSession: String? { string(entry.backendSession) }
    /// `socket`, if a string.
    package var socket: String? { string(entry.socket) }
    /// `cliId`, if a string.
    package var cliId: String? { string(entry.cliId) }

    /// The string at `value`; an absent one answered without reading the source.
    private func string(_ value: SourceString) -> String? { value.isAbsent ? nil : source.string(value) }
    /// Calls `body` with the id's bytes when it holds no escape (nil
    /// otherwise). (Not generic: called from another module, a generic
    /// function would run unspecialised.)
    package func withPlainID(_ body: (UnsafeBufferPointer<UInt8>) -> String?) -> String? {
        guard !entry.id.hasEscapes else { return nil }
        return source.withBytes { body(UnsafeBufferPointer(rebasing: $0[entry.id.range])) }
    }

    /// Whether `other` has the same `socket`: both absent, or the same
    /// UTF-8 bytes once decoded (as tmux names its socket files).
    package func hasSameSocket(as other: IndexedRecordView) -> Bool {
        source.sameString(entry.socket, other.entry.socket)
            ?? (socket ?? "").utf8.elementsEqual((other.socket ?? "").utf8)
    }

    /// Whether `other` has the same `status`, `backend`, `cliId` bytes and
    /// no `killedAt`: true only when sure (a `cliId` with an escape, or a
    /// record that may hold `killedAt`, gives false).
    package func hasSameDecisionMembers(as other: IndexedRecordView) -> Bool {
        guard entry.status == other.entry.status, entry.backend == other.entry.backend,
              !entry.mayHoldKilledAt, !other.entry.mayHoldKilledAt else { return false }
        return source.sameString(entry.cliId, other.entry.cliId) ?? false
    }

    /// The `killedAt` marker, if a string (the record is read again only
    /// when the loader saw the key in it).
    package var killedAt: String? {
        guard entry.mayHoldKilledAt else { return nil }
        return SessionRecord.reading(entry.range, of: source)[marker: .killedAt]?.stringValue
    }
}

extension StoreSource {
    /// Whether the strings at `a` and at `b` have the same UTF-8 bytes:
    /// both absent, or the same bytes between the quotes; nil when either
    /// holds an escape (then only the decoded strings can tell).
    func sameString(_ a: SourceString, _ b: SourceString) -> Bool? {
        if a.isAbsent || b.isAbsent { return a.isAbsent && b.isAbsent }
        if a.hasEscapes || b.hasEscapes { return nil }
        let (x, y) = (a.range, b.range)
        return x.count == y.count && withBytes { buffer in
            x.isEmpty || memcmp(buffer.baseAddress! + x.lowerBound, buffer.baseAddress! + y.lowerBound, x.count) == 0
        }
    }

    /// The string at `value`, decoded; nil when absent.
    func string(_ value: SourceString) -> String? {
        guard !value.isAbsent else { return nil }
        return withBytes { buffer in
            if value.hasEscapes { return JSONScanner(buffer).decode(value.token) }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[value.range]), as: UTF8.self)
        }
    }
}

/// The sink of `StoreIndex`: an `IndexedRecord` per record.
struct IndexSink: StoreRecordSink {
    let source: StoreSource
    var records = IndexedRecords()

    var count: Int { records.count }
    mutating func reserveCapacity(_ count: Int) { records.reserveCapacity(count, source: source) }

    mutating func append(_ record: ScannedRecord, scanner: JSONScanner) {
        let entry = IndexedRecord(
            start: UInt32(record.range.lowerBound), end: UInt32(record.range.upperBound),
            id: SourceString(record.token(.id)), backendSession: SourceString(record.token(.backendSession)),
            socket: SourceString(record.token(.socket)), cliId: SourceString(record.token(.cliId)),
            points: record.points, backend: record.backend, status: record.status, mayHoldKilledAt: record.mayHoldKilledAt,
            idHash: IDs.hash(of: record.token(.id)!, in: source))
        records.append(entry, source: source)
    }

    mutating func removeSubrange(from position: Int) { records.removeSubrange(from: position) }
    func range(at position: Int) -> Range<Int> { records[position].range }
    func emptyCopy() -> IndexSink { IndexSink(source: source) }
    mutating func append(contentsOf other: IndexSink) { records.append(contentsOf: other.records) }

    func withIDBytes<R>(at position: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        IDs(records: records, source: source).withIDBytes(at: position, body)
    }

    func idHash(at position: Int) -> UInt32 { records[position].idHash }

    func forEachIDHash(upTo count: Int, _ body: (UInt32) -> Void) {
        precondition(count == records.count, "IndexSink: ids up to \(count) of \(records.count)")
        records.forEach { body($0.idHash) }
    }

    /// The ids of indexed records, as the id table reads them: the source
    /// bytes of a plain id, the decoded bytes of one with escapes.
    struct IDs: RecordIDs {
        let records: IndexedRecords
        let source: StoreSource

        func idHash(at position: Int) -> UInt32 { records[position].idHash }

        /// The hash of an id token, as `withIDBytes` gives its bytes.
        static func hash(of token: JSONStringToken, in source: StoreSource) -> UInt32 {
            source.withBytes { buffer in
                if token.hasEscapes { return JSONScanner(buffer).decode(token).withUTF8Bytes { RecordIDIndex.hash($0) } }
                return RecordIDIndex.hash(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buffer[token.start..<token.end])))
            }
        }

        func withIDBytes<R>(at position: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
            let id = records[position].id
            return source.withBytes { buffer in
                if id.hasEscapes { return JSONScanner(buffer).decode(id.token).withUTF8Bytes(body) }
                return body(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buffer[id.range])))
            }
        }
    }
}

extension StoreIndex: LoadedSourceHolder {
    var loadedSource: StoreSource? { source }
}
