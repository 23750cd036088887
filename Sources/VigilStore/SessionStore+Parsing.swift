// Reading a store document.
//
// The loader walks the top level itself: `version` and other members are
// built as values, but each record is only validated, with the known members
// picked out on the way and the record's byte range remembered. Problems are
// reported in a fixed priority so the message points at the real cause:
// syntax errors first (the whole file is scanned), then the version (a
// version 2 file should say "version 2", not "record 7 lacks a status"), then
// the document's shape, then the first bad record.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import VigilJSON
import VigilBackendKind
import VigilSystem
extension SessionStore {
    /// Parses and validates a store document held in memory.
    /// - Parameters:
    ///   - bytes: the document's UTF-8 bytes.
    ///   - path: the name used in error messages.
    /// - Throws: `StoreError` with category `.invalidData`.
    public init(parsing bytes: [UInt8], path: String = "<memory>") throws(StoreError) {
        try self.init(source: StoreSource(bytes), path: path)
    }

    /// `init(parsing:path:)` over bytes already in a source.
    init(source: StoreSource, path: String) throws(StoreError) {
        let scan = try readStore(source, path: path, into: SessionRecordSink(source: source))
        self.init(records: scan.sink.records, otherFields: scan.otherFields)
        self.layout = DocumentLayout(
            source: source, sessions: scan.sessionsRange, recordRanges: scan.sink.ranges,
            otherFields: scan.otherFields, ids: scan.sink.ids, idIndex: scan.idIndex)
    }
}

/// Reads and validates the document in `source` into `sink`.
/// - Throws: `StoreError` with category `.invalidData` naming `path`.
/// - Parameters:
///   - parallelFrom: the size from which the `sessions` array is read in
///     parts on two threads (when there is a second processor); `Int.max`:
///     never.
///   - partSize: the least size of such a part (tests make it small).
///   - rememberingKeys: false: every key is read the ordinary way, none
///     from `RecordKeyMemo` (tests compare the two readings; the second
///     half's thread, if any, still remembers).
func readStore<Sink: StoreRecordSink>(_ source: StoreSource, path: String, into sink: Sink,
                                      parallelFrom: Int = storeSplitThreshold, partSize: Int = storePartSize,
                                      rememberingKeys: Bool = true) throws(StoreError) -> StoreScan<Sink> {
    // Offsets of a record's members are held in 32 bits.
    guard source.count <= Int(UInt32.max) else {
        throw StoreError(.invalidData, path: path, message: "the store is 4 GiB or larger; this reader holds 32-bit offsets")
    }
    let result = source.withBytes { buffer in
        Result { () throws(JSONSyntaxError) -> StoreScan<Sink> in
            var reader = StoreReader(scanner: JSONScanner(buffer), sink: sink)
            reader.keyMemo = RecordKeyMemo(remembering: rememberingKeys)
            if buffer.count >= parallelFrom && system_onlineProcessors() > 1 { reader.split = source }
            reader.partSize = partSize
            return try reader.readDocument()
        }
    }
    // A thread the source started for parts this document did not
    // have (or this reading did not split) ends here.
    source.takeHelper()?.join()
    let scan: StoreScan<Sink>
    switch result {
    case .success(let value): scan = value
    case .failure(let error):
        throw StoreError(.invalidData, path: path, message: source.withBytes { error.located(in: $0) }.description)
    }
    if let problem = scan.problem {
        throw StoreError(.invalidData, path: path, message: problem)
    }
    return scan
}

/// 1-based line and column (in Unicode scalars) of byte `offset`, for
/// messages that name a record by where it starts.
func lineAndColumn<Bytes: Collection<UInt8>>(of offset: Int, in bytes: Bytes) -> String where Bytes.Index == Int {
    var line = 1
    var column = 1
    for byte in bytes[bytes.startIndex..<min(offset, bytes.endIndex)] {
        if byte == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else if byte & 0xC0 != 0x80 {
            column += 1
        }
    }
    return "line \(line), column \(column)"
}

/// What a scan found: the records (in the sink), other members, and the
/// most important semantic problem (nil if the document is valid).
struct StoreScan<Sink: StoreRecordSink> {
    var sink: Sink
    var otherFields: JSONObject = [:]
    var problem: String?
    /// The `sessions` array, from its `[` to just after its `]`.
    var sessionsRange: Range<Int> = 0..<0
    /// Record ids to their position (the first record with each id).
    var idIndex = RecordIDIndex(capacity: 0)
    /// Whether any part of `sessions` read apart (on either thread) was used.
    var readInParts = false

    init(sink: Sink) { self.sink = sink }
}

/// Where the reader puts each record it validated: `SessionRecord`s for a
/// `SessionStore`, compact entries for a `StoreIndex`. Records arrive in
/// document order; the position of a record is its index in `sessions`.
protocol StoreRecordSink: RecordIDs, SendableMetatype {
    /// The bytes the records are read from (their arena, if any, holds the
    /// id table too).
    var source: StoreSource { get }
    /// Records appended so far.
    var count: Int { get }
    /// Room for `count` records.
    mutating func reserveCapacity(_ count: Int)
    /// The next record, validated (`scanner` reads the document).
    mutating func append(_ record: ScannedRecord, scanner: JSONScanner)
    /// Drops the records from `position` on (the document is refused).
    mutating func removeSubrange(from position: Int)
    /// The bytes of the record at `position`.
    func range(at position: Int) -> Range<Int>
    /// An empty sink over the same source, for the records of one part of
    /// a big `sessions` array read on two threads.
    func emptyCopy() -> Self
    /// Appends the records of `other` (one part), in order.
    mutating func append(contentsOf other: Self)
}

/// One record as validated: its byte range, `backend` and `status` read,
/// the other known members still tokens in the source.
struct ScannedRecord {
    var range: Range<Int>
    var backend: BackendKind
    var status: RecordStatus
    fileprivate var fields: ScannedFields
    /// Where a close writes (`.unavailable` for a record too long to note).
    var points: PatchPoints
    /// False when the record certainly has no `killedAt` member.
    var mayHoldKilledAt: Bool

    /// The string value of `key`; nil when absent, null, or (for a
    /// leniently read key) not a string.
    func token(_ key: RecordKey) -> JSONStringToken? {
        if case .string(let token) = fields[key] { return token.token }
        return nil
    }
}

/// A known member's value as scanned (12 bytes: a record's eight are
/// copied as the record is validated and handed on).
fileprivate enum ScannedField {
    case absent
    /// A string, still in the source (decoded only when wanted).
    case string(ScannedString)
    /// Not a string.
    case other(ValueKind)
}

/// A string token in 32-bit offsets (`readStore` refuses a document of
/// 4 GiB or more).
fileprivate struct ScannedString {
    let start: UInt32
    let end: UInt32
    let hasEscapes: Bool

    init(_ token: JSONStringToken) {
        start = UInt32(truncatingIfNeeded: token.start)
        end = UInt32(truncatingIfNeeded: token.end)
        hasEscapes = token.hasEscapes
    }

    var token: JSONStringToken { JSONStringToken(start: Int(start), end: Int(end), hasEscapes: hasEscapes) }
}

/// What a value that is not a string is, in words for messages.
fileprivate enum ValueKind: UInt8, CustomStringConvertible {
    case object, array, boolean, null, number

    var description: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .boolean: "a boolean"
        case .null: "null"
        case .number: "a number"
        }
    }
}

/// The known members of one record as scanned, one slot per `RecordKey`
/// (stored inline: scanning a record allocates nothing for them).
fileprivate struct ScannedFields {
    var slots: (ScannedField, ScannedField, ScannedField, ScannedField,
                ScannedField, ScannedField, ScannedField, ScannedField)
        = (.absent, .absent, .absent, .absent, .absent, .absent, .absent, .absent)

    subscript(key: RecordKey) -> ScannedField {
        get {
            switch key {
            case .id: slots.0
            case .backend: slots.1
            case .status: slots.2
            case .backendSession: slots.3
            case .socket: slots.4
            case .cliId: slots.5
            case .closedAt: slots.6
            case .closeReason: slots.7
            }
        }
        set {
            switch key {
            case .id: slots.0 = newValue
            case .backend: slots.1 = newValue
            case .status: slots.2 = newValue
            case .backendSession: slots.3 = newValue
            case .socket: slots.4 = newValue
            case .cliId: slots.5 = newValue
            case .closedAt: slots.6 = newValue
            case .closeReason: slots.7 = newValue
            }
        }
    }
}

/// The top-level walk over a document.
private struct StoreReader<Sink: StoreRecordSink> {
    var scanner: JSONScanner
    var sink: Sink
    /// Set when `sessions` may be read in parts on two threads (the source
    /// the other thread then reads; see `StoreReaderParts`).
    var split: StoreSource?
    /// The least size of a part, when read in parts.
    var partSize = storePartSize

    /// Semantic problems by priority; the first non-nil one is reported.
    var versionProblem: String?
    var shapeProblem: String?
    var recordProblem: String?
    /// The `sessions` index of the record `recordProblem` is about.
    var recordProblemIndex: Int?
    /// The keys of the record read before.
    var keyMemo = RecordKeyMemo()
    /// Where this reader's records likely end, when it reads one part of
    /// several (`reserveRecords` reserves for the records before it).
    var readsUpTo: Int?

    init(scanner: JSONScanner, sink: Sink) {
        self.scanner = scanner
        self.sink = sink
    }

    /// The whole document: the records end up in the scan's sink.
    mutating func readDocument() throws(JSONSyntaxError) -> StoreScan<Sink> {
        var scan = StoreScan(sink: sink)
        try readDocument(into: &scan)
        scan.sink = sink
        return scan
    }

    mutating func readDocument(into scan: inout StoreScan<Sink>) throws(JSONSyntaxError) {
        scanner.skipWhitespace()
        if scanner.atEnd {
            scan.problem = "the file is empty (expected a JSON object with \"version\" and \"sessions\")"
            return
        }
        guard scanner.current == UInt8(ascii: "{") else {
            // Report syntax errors first, then the wrong shape.
            let value = try scanner.parseValue(depth: 0)
            try scanner.expectEnd()
            scan.problem = "the document is \(value.kindDescription), expected an object with \"version\" and \"sessions\""
            return
        }
        var seen = TopLevelSeen()
        if try scanner.enterObject(depth: 1) {
            repeat {
                try readTopLevelMember(try scanner.memberKey(), seen: &seen, into: &scan)
            } while try scanner.nextMember()
        }
        try scanner.expectEnd()
        if !seen.version {
            versionProblem = "missing \"version\" (expected \(SessionStore.currentVersion))"
        }
        if !seen.sessions {
            shapeProblem = shapeProblem ?? "missing \"sessions\" (expected an array of session records)"
        }
        scan.problem = versionProblem ?? shapeProblem ?? recordProblem
    }

    /// Which of the two members the document must have were seen.
    struct TopLevelSeen {
        var version = false
        var sessions = false
    }

    /// One top-level member (cursor on its value): `version` checked,
    /// `sessions` read record by record, any other kept as a value.
    mutating func readTopLevelMember(_ key: JSONStringToken, seen: inout TopLevelSeen, into scan: inout StoreScan<Sink>) throws(JSONSyntaxError) {
        if scanner.token(key, equals: "version") {
            let value = try scanner.parseValue(depth: 1)
            if seen.version {
                shapeProblem = shapeProblem ?? "duplicate key \"version\""
            }
            seen.version = true
            checkVersion(value)
        } else if scanner.token(key, equals: "sessions") {
            if seen.sessions {
                shapeProblem = shapeProblem ?? "duplicate key \"sessions\""
            }
            seen.sessions = true
            if scanner.current == UInt8(ascii: "[") && !scanner.atEnd {
                let start = scanner.position
                try readSessions(into: &scan)
                scan.sessionsRange = start..<scanner.position
            } else {
                let value = try scanner.parseValue(depth: 1)
                shapeProblem = shapeProblem ?? "\"sessions\" is \(value.kindDescription), expected an array"
            }
        } else {
            scan.otherFields.append(scanner.decode(key), try scanner.parseValue(depth: 1))
        }
    }

    mutating func checkVersion(_ value: JSONValue) {
        guard versionProblem == nil else { return }
        guard case .number(let text) = value else {
            versionProblem = "\"version\" is \(value.kindDescription), expected the number \(SessionStore.currentVersion)"
            return
        }
        // Compared by value, so `1.0` is version 1 too; it is written back as `1`.
        if Double(text) != Double(SessionStore.currentVersion) {
            versionProblem = "unsupported version \(text) (this Vigil understands version \(SessionStore.currentVersion) only)"
        }
    }

    mutating func readSessions(into scan: inout StoreScan<Sink>) throws(JSONSyntaxError) {
        try scanner.enter(depth: 2)
        scanner.position += 1
        scanner.skipWhitespace()
        if scanner.current == UInt8(ascii: "]") && !scanner.atEnd {
            scanner.position += 1
            return
        }
        var parts = split.flatMap { StoreReaderParts<Sink>.start(in: $0, after: scanner.position, partSize: partSize, sink: sink.emptyCopy()) }
        readsUpTo = parts?.start(of: 1)
        // Whatever happens here, the other thread is stopped and waited for.
        defer { parts?.finish() }
        var index = 0
        var part = 1
        while true {
            scanner.skipWhitespace()
            if let split = parts {
                // The parts this thread has passed without standing at their start.
                while part < split.count && split.start(of: part) < scanner.position { part += 1 }
                if part < split.count && split.start(of: part) == scanner.position {
                    split.arrive()
                    if let taken = split.take(part) {
                        // This thread stands exactly where that part began:
                        // its reading is the one this thread would make.
                        index += taken.sink.count
                        // Records are kept only up to the first bad one
                        // (a record's position is its index in `sessions`).
                        if recordProblem == nil { sink.append(contentsOf: taken.sink) }
                        scanner.position = taken.end
                        scan.readInParts = true
                        part += 1
                        if taken.ending == .afterArray {
                            parts = nil
                            split.finish()
                            indexIDs(into: &scan)
                            return
                        }
                        continue
                    }
                }
            }
            guard try readElement(index: index) else {
                indexIDs(into: &scan)
                return
            }
            index += 1
        }
    }

    /// One element of `sessions` (cursor at it, white space skipped) and
    /// what follows it. Returns false after the closing `]`.
    mutating func readElement(index: Int) throws(JSONSyntaxError) -> Bool {
        if scanner.current == UInt8(ascii: "{") && !scanner.atEnd {
            if try readRecord(index: index), index == 0 { reserveRecords(like: sink.range(at: 0)) }
        } else {
            let value = try scanner.parseValue(depth: 2)
            if recordProblem == nil {
                recordProblem = "sessions[\(index)] is \(value.kindDescription), expected an object"
                recordProblemIndex = index
            }
        }
        scanner.skipWhitespace()
        return try !scanner.endOfList(close: UInt8(ascii: "]"), "',' or ']' after an array element")
    }

    /// One part's reading, on whichever thread claimed it: elements from
    /// the cursor to the first element at or past `bound` (the next part's
    /// guessed start), or to the closing `]`. Nil as soon as anything is
    /// wrong or `stop` says so (the reader's own thread then reads that
    /// part itself, with its exact messages); otherwise where it stopped.
    mutating func readPart(upTo bound: Int, stop: () -> Bool) -> PartEnding? {
        var index = 0
        do throws(JSONSyntaxError) {
            while true {
                scanner.skipWhitespace()
                if scanner.position >= bound { return .atElement }
                guard try readElement(index: index) else { return recordProblem == nil ? .afterArray : nil }
                guard recordProblem == nil, !stop() else { return nil }
                index += 1
            }
        } catch {
            return nil
        }
    }

    /// Room for as many records as the rest of the document (or of this
    /// thread's part of it) would hold if they were the size of the first
    /// (at most one per 64 bytes), so a big store does not copy its records
    /// as they grow.
    mutating func reserveRecords(like first: Range<Int>) {
        let size = max(64, first.count + 2)
        let estimate = ((readsUpTo ?? scanner.bytes.count) - scanner.position) / size + 2
        // An eighth more: later records a few bytes longer than the first
        // must not make the records move (a copy, and the old room kept).
        sink.reserveCapacity(estimate + estimate / 8)
    }

    /// The id table, built once the records are counted (sized up front, no
    /// rehashing as it grows). Records are kept only up to the first bad
    /// one, so a record's position is its index in `sessions`; a duplicate
    /// id before the first bad record is the problem reported.
    mutating func indexIDs(into scan: inout StoreScan<Sink>) {
        scan.idIndex = RecordIDIndex(capacity: sink.count, arena: sink.source)
        guard let (position, first) = scan.idIndex.insertAll(sink.count, of: sink) else { return }
        // Two records for one session would mean two workers for it.
        if position < (recordProblemIndex ?? Int.max) {
            let id = String(decoding: sink.withIDBytes(at: position) { Array($0) }, as: UTF8.self)
            recordProblem = "duplicate id \(JSONValue.string(id).jsonText()): "
                + "sessions[\(first)] (\(locate(sink.range(at: first).lowerBound))) and "
                + "sessions[\(position)] (\(locate(sink.range(at: position).lowerBound)))"
            recordProblemIndex = position
        }
        // The document is refused: the rest needs no table (and a table
        // filled in slot order may hold positions past the cut).
        sink.removeSubrange(from: position)
        scan.idIndex = RecordIDIndex(capacity: 0)
    }

    /// `line L, column C` of a byte offset.
    func locate(_ offset: Int) -> String { lineAndColumn(of: offset, in: scanner.bytes) }

    /// Validates one record object (cursor on its `{`), picking out the known
    /// members, and appends it to the sink. Returns false (and notes the
    /// problem) if the record is invalid. (The record goes to the sink from
    /// here, not back to the caller: an optional 129-byte result was copied
    /// three times per record.)
    mutating func readRecord(index: Int) throws(JSONSyntaxError) -> Bool {
        let start = scanner.position
        var fields = ScannedFields()
        var points = PatchPoints.unavailable
        var duplicate: String?
        var killedAt = false
        if try scanner.enterObject(depth: 3) {
            var member = 0
            repeat {
                let key = try memberKey(at: member)
                member += 1
                let valueStart = scanner.position
                if let known = key.known {
                    if case .absent = fields[known] {} else {
                        duplicate = duplicate ?? known.name
                    }
                    if scanner.current == UInt8(ascii: "\"") && !scanner.atEnd {
                        fields[known] = .string(ScannedString(try scanner.scanString()))
                    } else {
                        let kind = kindAtCursor()
                        try skipValue(depth: 3, keys: &member)
                        fields[known] = .other(kind)
                    }
                    points.note(known, valueStart - start, scanner.position - start)
                } else {
                    // Noted so that restore's question "was it killed?" needs no second scan.
                    if key.isKilledAt { killedAt = true }
                    try skipValue(depth: 3, keys: &member)
                }
                points.membersEnd = UInt16(truncatingIfNeeded: scanner.position - start)
            } while try scanner.nextMember()
        }
        guard recordProblem == nil else { return false } // only the first bad record is reported
        let range = start..<scanner.position
        do {
            if range.count > PatchPoints.maximumRecordSize { points = .unavailable }
            sink.append(try validate(fields, duplicate: duplicate, range: range, killedAt: killedAt, points: points), scanner: scanner)
            return true
        } catch {
            recordProblem = "sessions[\(index)]\(error.idSuffix): \(error.message)"
            recordProblemIndex = index
            return false
        }
    }

    /// The key of a record's member number `member` (from 0), the cursor
    /// then on its value: from the memo when the record before had the same
    /// bytes there, otherwise read (`JSONScanner.memberKey()`), matched and
    /// remembered.
    @inline(__always)
    mutating func memberKey(at member: Int) throws(JSONSyntaxError) -> MemberKey {
        if let remembered = keyMemo.key(at: member, in: &scanner) { return remembered }
        return try readMemberKey(at: member)
    }

    /// `JSONScanner.skipValue(depth:)` for a member's value, with the keys of
    /// an object value taken through the memo too (`keys` counts the keys
    /// met in the record, nested ones included, in document order: records
    /// of one shape meet the same key at the same count). Other values, and
    /// anything inside an array, are skipped by the scanner.
    @inline(__always)
    mutating func skipValue(depth: Int, keys: inout Int) throws(JSONSyntaxError) {
        if scanner.current == UInt8(ascii: "{") {
            try skipObject(depth: depth, keys: &keys)
        } else {
            try scanner.skipValue(depth: depth)
        }
    }

    /// `skipValue(depth:keys:)` for an object (cursor on its `{`).
    mutating func skipObject(depth: Int, keys: inout Int) throws(JSONSyntaxError) {
        guard try scanner.enterObject(depth: depth + 1) else { return }
        repeat {
            _ = try memberKey(at: keys)
            keys += 1
            try skipValue(depth: depth + 1, keys: &keys)
        } while try scanner.nextMember()
    }

    /// `memberKey(at:)` when the memo has not got it: read, matched, remembered.
    @inline(never)
    mutating func readMemberKey(at member: Int) throws(JSONSyntaxError) -> MemberKey {
        let keyStart = scanner.position
        let token = try scanner.memberKey()
        let known = RecordKey.match(token, in: scanner)
        let key = MemberKey(token: token, known: known,
                            isKilledAt: known == nil && scanner.token(token, equals: MarkerKey.killedAt.staticName))
        keyMemo.remember(key, at: member, from: keyStart, in: scanner)
        return key
    }

    /// The kind of the value at the cursor, for messages.
    fileprivate func kindAtCursor() -> ValueKind {
        switch scanner.current {
        case UInt8(ascii: "{"): .object
        case UInt8(ascii: "["): .array
        case UInt8(ascii: "t"), UInt8(ascii: "f"): .boolean
        case UInt8(ascii: "n"): .null
        default: .number
        }
    }

    /// The backend a string token spells, compared byte for byte with each
    /// word (no String is made, no array of cases either: the reader's two
    /// threads share no reference count); any other text is decoded and
    /// tried as a raw value, so the answer is `BackendKind(rawValue:)`'s.
    func backendValue(_ token: JSONStringToken) -> BackendKind? {
        if scanner.token(token, equals: "tmux") { return .tmux }
        if scanner.token(token, equals: "zellij") { return .zellij }
        if scanner.token(token, equals: "herdr") { return .herdr }
        if scanner.token(token, equals: "pty") { return .pty }
        return BackendKind(rawValue: scanner.decode(token))
    }

    /// The status a string token spells, as `backendValue`.
    func statusValue(_ token: JSONStringToken) -> RecordStatus? {
        if scanner.token(token, equals: "active") { return .active }
        if scanner.token(token, equals: "closed") { return .closed }
        return RecordStatus(rawValue: scanner.decode(token))
    }

    /// Checks one record's known members (in a fixed order, so the first
    /// problem of a record is always the same one).
    func validate(_ fields: ScannedFields, duplicate: String?, range: Range<Int>, killedAt: Bool,
                  points: PatchPoints) throws(RecordProblem) -> ScannedRecord {
        var idToken: JSONStringToken?
        if case .string(let token) = fields[.id] { idToken = token.token }
        func problem(_ message: String) -> RecordProblem { RecordProblem(id: idToken.map { scanner.decode($0) }, message: message) }

        if let duplicate { throw problem("duplicate key \"\(duplicate)\"") }
        func required(_ key: RecordKey) throws(RecordProblem) -> JSONStringToken {
            switch fields[key] {
            case .absent: throw problem("missing \"\(key.name)\"")
            case .other(let kind): throw problem("\"\(key.name)\" is \(kind), expected a string")
            case .string(let token): return token.token
            }
        }
        let id = try required(.id)
        guard id.end > id.start else {
            throw RecordProblem(id: nil, message: "\"id\" is empty", at: locate(range.lowerBound))
        }
        let backendToken = try required(.backend)
        guard let backend = backendValue(backendToken) else {
            throw problem("\"backend\" is \"\(scanner.decode(backendToken))\", expected one of tmux, zellij, herdr, pty")
        }
        let statusToken = try required(.status)
        guard let status = statusValue(statusToken) else {
            throw problem("\"status\" is \"\(scanner.decode(statusToken))\", expected one of active, closed")
        }
        // Optional strings: absent or null; lenient keys also take any other kind.
        // (One call per key: an array of the keys would be made per record.)
        func optional(_ key: RecordKey) throws(RecordProblem) {
            if case .other(let kind) = fields[key], kind != .null, !key.isLenient {
                throw problem("\"\(key.name)\" is \(kind), expected a string")
            }
        }
        try optional(.backendSession)
        try optional(.socket)
        try optional(.cliId)
        try optional(.closedAt)
        try optional(.closeReason)
        return ScannedRecord(range: range, backend: backend, status: status, fields: fields, points: points,
                             mayHoldKilledAt: killedAt)
    }
}

extension SessionRecord {
    /// The record at `range` of `source`, read again: `range` must be a
    /// record this reader validated (a `StoreIndex` entry).
    static func reading(_ range: Range<Int>, of source: StoreSource) -> SessionRecord {
        source.withBytes { buffer in
            var reader = StoreReader(scanner: JSONScanner(buffer, position: range.lowerBound), sink: SessionRecordSink(source: source))
            let read: Bool
            do throws(JSONSyntaxError) { read = try reader.readRecord(index: 0) } catch {
                preconditionFailure("a validated record failed to scan again: \(error.message)")
            }
            guard read, reader.sink.range(at: 0) == range else { preconditionFailure("a validated record failed to read again") }
            return reader.sink.records[0]
        }
    }
}

/// Documents from this size have their `sessions` array read in parts on
/// two threads (1 MiB: about 4,000 records, some 4 ms of reading; a thread
/// costs a fraction of a millisecond).
let storeSplitThreshold = 1 << 20

/// The least size of a part (some 0.2 ms of reading on the machine of
/// figure 9): a 10,000-record store of 2.6 MB reads in 20 parts.
let storePartSize = 128 << 10

/// At most this many parts: a million records read in parts of 4 MB.
let storeMostParts = 64

/// Where a part's reading stopped.
enum PartEnding {
    /// At the first element at or past the next part's guessed start.
    case atElement
    /// After the `]` of the array.
    case afterArray
}

/// A big `sessions` array read in parts, claimed in turn by the reader's
/// own thread and a second one, so that neither waits long for the other
/// whichever of them the machine runs more slowly (two halves, one per
/// thread, finished up to several milliseconds apart at 100,000 records on
/// two shared processors, with equal work).
///
/// Where each part starts is a guess: the first `{` after an even share of
/// the bytes that follows a `}` and a `,` (white space between them
/// allowed), which is where a record starts unless those bytes stand inside
/// a string or a nested value. A part's reading is used only if the reader's
/// own thread, record by record or part by part, arrives at exactly that
/// byte as the start of an element: then its records are the ones that
/// thread would have found from there, up to where the part stopped (at an
/// element, or after the `]`). Otherwise (a wrong guess, or anything the
/// part found wrong) its work is dropped and the reader's own thread reads
/// on itself, so every message and every record is the one a single thread
/// gives.
final class StoreReaderParts<Sink: StoreRecordSink>: @unchecked Sendable {
    /// Where each part starts; part 0 is the reader's own (from the first
    /// element), and is never claimed.
    private let starts: [Int]
    private let source: StoreSource
    private let template: Sink
    /// The next part to claim.
    private let next = Atomic<Int>(1)
    private let stopping = Atomic<Bool>(false)
    /// Each part's result, written by the thread that claimed it, read by
    /// the reader's thread after the other thread's body returned.
    private let results: UnsafeMutablePointer<PartResult>
    private var thread: ParkedThread?
    /// Set by the reader's thread when it first stands at a part's start
    /// (`arrive`) or stops the parts (`finish`).
    private var arrived = false

    private struct PartResult {
        var sink: Sink?
        var end = 0
        /// Nil: not read, or not cleanly.
        var ending: PartEnding?
    }

    private init(starts: [Int], source: StoreSource, template: Sink) {
        self.starts = starts
        self.source = source
        self.template = template
        results = .allocate(capacity: starts.count)
        results.initialize(repeating: PartResult(), count: starts.count)
    }

    deinit {
        results.deinitialize(count: starts.count)
        results.deallocate()
    }

    /// The number of parts, part 0 included.
    var count: Int { starts.count }

    /// Where part `part` starts.
    func start(of part: Int) -> Int { starts[part] }

    /// Starts the second thread on the parts of the `sessions` array whose
    /// first element is at `first`; nil when there are no two likely parts
    /// or no thread.
    static func start(in source: StoreSource, after first: Int, partSize: Int, sink: Sink) -> StoreReaderParts? {
        let starts = source.withBytes { partStarts($0, after: first, partSize: partSize) }
        guard starts.count > 1 else { return nil }
        let parts = StoreReaderParts(starts: starts, source: source, template: sink)
        // The thread the source started while the file was read, if any.
        parts.thread = source.takeHelper() ?? ParkedThread.start()
        parts.thread?.begin { [parts] in parts.readClaimedParts() }
        return parts.thread == nil ? nil : parts
    }

    /// Reads parts, claiming each in turn, until none is left or the
    /// reading is stopped.
    private func readClaimedParts() {
        while !stopping.load(ordering: .relaxed) {
            let part = next.wrappingAdd(1, ordering: .relaxed).oldValue
            guard part < starts.count else { return }
            let bound = part + 1 < starts.count ? starts[part + 1] : Int.max
            source.withBytes { buffer in
                var reader = StoreReader(scanner: JSONScanner(buffer, position: starts[part]), sink: template.emptyCopy())
                reader.readsUpTo = min(bound, buffer.count)
                let ending = reader.readPart(upTo: bound) { stopping.load(ordering: .relaxed) }
                results[part] = PartResult(sink: reader.sink, end: reader.scanner.position, ending: ending)
            }
        }
    }

    /// The reader's thread stands at the start of a part for the first
    /// time (at an element: it read there record by record). It claims
    /// parts too, then waits for the other thread's last one.
    func arrive() {
        guard !arrived else { return }
        arrived = true
        readClaimedParts()
        thread?.waitForBody()
    }

    /// Part `part`'s records, where it stopped and how, when it read
    /// cleanly; nil otherwise. For a caller that stands exactly at the
    /// part's start: a part read from an element's start is read right up
    /// to wherever it stopped, at an element past the next part's guessed
    /// start (right or wrong) or after the `]`. Call `arrive` first. The
    /// records are handed over: a second call gives nil.
    func take(_ part: Int) -> (sink: Sink, end: Int, ending: PartEnding)? {
        precondition(arrived, "StoreReaderParts.take before arrive")
        guard let ending = results[part].ending, let sink = results[part].sink else { return nil }
        results[part].sink = nil
        return (sink, results[part].end, ending)
    }

    /// Stops the other thread (if still reading) and waits for it.
    func finish() {
        stopping.store(true, ordering: .relaxed)
        arrived = true
        thread?.waitForBody()
    }

    /// Where the parts of a `sessions` array whose first element is at
    /// `first` likely start: `first`, then one guess per share of
    /// `partSize` bytes or more (at most `storeMostParts` shares), each the
    /// first `{` after its share's start that follows a `}` and a `,`, white
    /// space allowed between them, within 64 KiB (farther, that part is
    /// left to the one before: the search must not cost what it saves).
    static func partStarts(_ bytes: UnsafeBufferPointer<UInt8>, after first: Int, partSize: Int) -> [Int] {
        let length = bytes.count - first
        let parts = min(storeMostParts, max(2, length / max(1, partSize)))
        var starts = [first]
        for share in 1..<parts {
            let target = first + length / parts * share
            if let guess = guessStart(bytes, from: max(target, starts.last! + 1), after: first) { starts.append(guess) }
        }
        return starts
    }

    /// The first `{` from `from` on that follows a `}` and a `,` (white
    /// space allowed between them), within 64 KiB.
    static func guessStart(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, after first: Int) -> Int? {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }
        var p = from
        let last = min(bytes.count, p + (1 << 16))
        while p < last {
            if bytes[p] == UInt8(ascii: "{") {
                var q = p - 1
                while q > first && isSpace(bytes[q]) { q -= 1 }
                if bytes[q] == UInt8(ascii: ",") {
                    q -= 1
                    while q > first && isSpace(bytes[q]) { q -= 1 }
                    if bytes[q] == UInt8(ascii: "}") { return p }
                }
            }
            p += 1
        }
        return nil
    }
}

/// The sink of `SessionStore(parsing:)`: a `SessionRecord` per record.
struct SessionRecordSink: StoreRecordSink {
    let source: StoreSource
    var records: [SessionRecord] = []
    var ranges: [Range<Int>] = []
    /// The ids as loaded (the layout keeps them: a record's id may change in memory).
    var ids: [String] = []
    /// The last value decoded for each typed member: a store repeats its
    /// sockets, CLIs and close reasons on record after record, and a value
    /// equal to the last one shares its storage instead of allocating again.
    var lastValues = [String?](repeating: nil, count: RecordKey.allCases.count)

    init(source: StoreSource) { self.source = source }

    var count: Int { records.count }

    mutating func reserveCapacity(_ count: Int) {
        records.reserveCapacity(count)
        ranges.reserveCapacity(count)
        ids.reserveCapacity(count)
    }

    mutating func append(_ record: ScannedRecord, scanner: JSONScanner) {
        func optional(_ key: RecordKey) -> String? { record.token(key).map { shared($0, key, scanner) } }
        let id = scanner.decode(record.token(.id)!)
        records.append(SessionRecord(
            id: id, backend: record.backend, status: record.status,
            backendSession: optional(.backendSession), socket: optional(.socket), cliId: optional(.cliId),
            closedAt: optional(.closedAt), closeReason: optional(.closeReason),
            source: source, range: record.range, mayHoldKilledAt: record.mayHoldKilledAt, patchPoints: record.points))
        ranges.append(record.range)
        ids.append(id)
    }

    mutating func removeSubrange(from position: Int) {
        records.removeSubrange(position...)
        ranges.removeSubrange(position...)
        ids.removeSubrange(position...)
    }

    func range(at position: Int) -> Range<Int> { ranges[position] }

    func emptyCopy() -> SessionRecordSink { SessionRecordSink(source: source) }

    mutating func append(contentsOf other: SessionRecordSink) {
        records.append(contentsOf: other.records)
        ranges.append(contentsOf: other.ranges)
        ids.append(contentsOf: other.ids)
    }

    func withIDBytes<R>(at position: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        ids.withIDBytes(at: position, body)
    }

    /// The string `token` stands for: the last value of `key` again when
    /// it has the same bytes (only strings too long to be stored inline are
    /// worth it), else decoded and remembered.
    mutating func shared(_ token: JSONStringToken, _ key: RecordKey, _ scanner: JSONScanner) -> String {
        let length = token.end - token.start
        guard length > 15, !token.hasEscapes else { return scanner.decode(token) }
        if let last = lastValues[key.rawValue], last.utf8.count == length {
            let same = last.utf8.withContiguousStorageIfAvailable { utf8 in
                memcmp(utf8.baseAddress!, scanner.bytes.baseAddress! + token.start, length) == 0
            }
            if same == true { return last }
        }
        let value = scanner.decode(token)
        lastValues[key.rawValue] = value
        return value
    }
}

extension PatchPoints {
    /// Notes where `key`'s value lies, if it is one a close writes.
    mutating func note(_ key: RecordKey, _ start: Int, _ end: Int) {
        let span = Span(start: UInt16(truncatingIfNeeded: start), end: UInt16(truncatingIfNeeded: end))
        switch key {
        case .status: status = span
        case .closedAt: closedAt = span
        case .closeReason: closeReason = span
        default: break
        }
    }
}

/// A record that fails validation, with its id if it has a string one.
fileprivate struct RecordProblem: Error {
    let id: String?
    let message: String
    /// Where the record starts, for problems that cannot name it by its id.
    var location: String? = nil

    init(id: String?, message: String, at location: String? = nil) {
        self.id = id
        self.message = message
        self.location = location
    }

    /// ` (id "abc")`, ` (line 3, column 5)`, or nothing.
    var idSuffix: String {
        if let location { return " (\(location))" }
        guard let id else { return "" }
        return " (id \(JSONValue.string(id).jsonText()))"
    }
}
