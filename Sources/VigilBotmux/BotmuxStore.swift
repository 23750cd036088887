// A botmux session store: `sessions-<larkAppId>.json` (one per bot) or the
// legacy `sessions.json`. One JSON object keyed by sessionId whose values
// are session objects; no version field. botmux writes it with
// `JSON.stringify(obj, null, 2)` (src/services/session-store.ts `save`).
//
// Reading picks out the members the mapping needs and remembers where each
// session's object lies in the file; nothing else is built. Writing copies
// every untouched session's bytes and re-lays a changed one exactly as
// `JSON.stringify` lays it out at depth 1 (JavaScriptJSON.swift), so a store
// botmux wrote comes back byte for byte as botmux would write the same edits.

public import VigilJSON
public import VigilStore

/// A session member the mapping reads.
public enum BotmuxField: String, CaseIterable, Sendable, Hashable {
    case sessionId, status, title, larkAppId, cliId, backendType, persistentBackendTarget
    case adoptedFrom, queued, deferredScheduleRun, restoreQuarantinedAt, mojoCloseJournal
    case queuedActivationPending, queuedActivationTail, pendingRepoSetup, codexAppDispatchLedger
    case suspendedColdResume, closedAt

    /// The names as static strings, for comparing keys without allocating.
    static let names: [StaticString] = [
        "sessionId", "status", "title", "larkAppId", "cliId", "backendType", "persistentBackendTarget",
        "adoptedFrom", "queued", "deferredScheduleRun", "restoreQuarantinedAt", "mojoCloseJournal",
        "queuedActivationPending", "queuedActivationTail", "pendingRepoSetup", "codexAppDispatchLedger",
        "suspendedColdResume", "closedAt",
    ]
}

/// The bytes of a loaded store, shared by its records.
final class BotmuxSource: Sendable {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

/// One session of a store: its key, where its object lies, and the members
/// the mapping reads (as JavaScript sees them: a key given twice in the
/// object counts with its last value).
public struct BotmuxRecord: Sendable {
    /// The sessionId: the record's key, decoded.
    public let id: String
    /// The key as `JSON.stringify` writes it, quotes included: the exact
    /// identity used to find the record again in a re-read store.
    let key: [UInt8]
    /// The session object's bytes in the source.
    let range: Range<Int>
    /// The members read, absent ones left out.
    public let fields: [BotmuxField: JSValueSummary]
    /// `persistentBackendTarget`, parsed, when it is an object.
    public let target: JSONObject?

    /// The record's identity for a compare-and-set commit: its key as
    /// `JSON.stringify` writes it, quotes included (unique and exact, even
    /// for a key holding a lone surrogate, which `id` cannot spell).
    public var commitID: String { String(decoding: key, as: UTF8.self) }

    /// The member `field` as JavaScript sees it; nil when absent (`undefined`).
    public subscript(_ field: BotmuxField) -> JSValueSummary? { fields[field] }
}

/// A parsed botmux store.
public struct BotmuxStore: Sendable {
    /// The file it was read from (for messages).
    public let path: String
    let source: BotmuxSource
    /// The sessions in the order `JSON.parse` gives them.
    public let records: [BotmuxRecord]
    let indexByKey: [[UInt8]: Int]
    /// Edits to write, by record key (`serialized()` applies them).
    var pendingEdits: [[UInt8]: BotmuxEdit] = [:]

    /// Parses and validates a store.
    /// - Parameters:
    ///   - bytes: the file's bytes.
    ///   - path: the name used in messages.
    /// - Throws: `StoreError` `.invalidData` (exit 65) for a document that
    ///   does not parse (with line and column), that is not one object, that
    ///   names a key twice, that holds something other than an object under a
    ///   key, or whose key differs from its session's `sessionId` (the
    ///   message names the key and where it is).
    public init(parsing bytes: [UInt8], path: String) throws(StoreError) {
        let source = BotmuxSource(bytes)
        let result = source.bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONSyntaxError) -> ([BotmuxRecord], JSONSyntaxError?) in
                var reader = BotmuxStoreReader(scanner: javaScriptScanner(buffer))
                return try reader.read()
            }
        }
        let records: [BotmuxRecord]
        switch result {
        case .success(let (read, problem)):
            if let problem {
                let located = problem.located(in: bytes)
                throw StoreError(.invalidData, path: path, message: "line \(located.line), column \(located.column): \(located.message)")
            }
            records = read
        case .failure(let error):
            throw StoreError(.invalidData, path: path, message: error.located(in: bytes).description)
        }
        self.path = path
        self.source = source
        self.records = records
        var index: [[UInt8]: Int] = [:]
        index.reserveCapacity(records.count)
        for (position, record) in records.enumerated() { index[record.key] = position }
        self.indexByKey = index
    }

    /// The session object's bytes as they are in the file.
    public func bytes(of record: BotmuxRecord) -> ArraySlice<UInt8> {
        source.bytes[record.range]
    }

    /// The record with the same key as `record` (found in another version of
    /// the store), if this store holds one.
    public func record(matching record: BotmuxRecord) -> BotmuxRecord? {
        indexByKey[record.key].map { records[$0] }
    }

    /// The store's bytes with `edits` applied to the records they name
    /// (by key), laid out as `JSON.stringify(obj, null, 2)`: no trailing
    /// newline; untouched records copied as they are.
    func serialized(applying edits: [[UInt8]: BotmuxEdit]) -> [UInt8] {
        source.bytes.withUnsafeBufferPointer { buffer in
            let scanner = javaScriptScanner(buffer)
            var writer = StringifyWriter(reservingCapacity: buffer.count + 256 * edits.count + 8)
            guard !records.isEmpty else {
                writer.append("{}")
                return writer.bytes
            }
            writer.bytes.append(UInt8(ascii: "{"))
            for (position, record) in records.enumerated() {
                if position > 0 { writer.bytes.append(UInt8(ascii: ",")) }
                writer.newline(indent: 1)
                writer.bytes.append(contentsOf: record.key)
                writer.append(": ")
                if let edit = edits[record.key] {
                    var cursor = scanner
                    cursor.position = record.range.lowerBound
                    do throws(JSONSyntaxError) {
                        var layout = try JSObjectLayout(scanning: &cursor)
                        for (key, value) in edit.changes { layout.set(key, to: value) }
                        writer.writeObject(layout, depth: 1, in: scanner)
                    } catch {
                        preconditionFailure("a validated record failed to scan again: \(error.message)")
                    }
                } else {
                    writer.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[record.range]))
                }
            }
            writer.newline(indent: 0)
            writer.bytes.append(UInt8(ascii: "}"))
            return writer.bytes
        }
    }
}

/// Changes to one session object, applied in order: a string value sets the
/// member (in place, or appended at the end when new), nil deletes it.
struct BotmuxEdit: Sendable, Equatable {
    var changes: [(String, String?)]

    static func == (lhs: BotmuxEdit, rhs: BotmuxEdit) -> Bool {
        lhs.changes.elementsEqual(rhs.changes) { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}

// MARK: - Reading

/// The walk over a store document. Semantic problems are collected and the
/// first one is reported only after the whole document parsed, so a syntax
/// error anywhere is reported first.
private struct BotmuxStoreReader {
    var scanner: JSONScanner
    var problem: JSONSyntaxError?

    mutating func note(_ message: String, at offset: Int) {
        if problem == nil { problem = scanner.fail(message, at: offset) }
    }

    mutating func read() throws(JSONSyntaxError) -> ([BotmuxRecord], JSONSyntaxError?) {
        scanner.skipWhitespace()
        if scanner.atEnd {
            return ([], scanner.fail("the file is empty (a botmux store is one JSON object keyed by sessionId)", at: 0))
        }
        guard scanner.current == UInt8(ascii: "{") else {
            let start = scanner.position
            let value = try scanner.parseValue(depth: 0)
            try scanner.expectEnd()
            return ([], scanner.fail("the document is \(value.kindDescription); a botmux store is one JSON object keyed by sessionId", at: start))
        }
        var records: [BotmuxRecord] = []
        var seen: [[UInt8]: Int] = [:]
        if try scanner.enterObject(depth: 1) {
            repeat {
                let token = try scanner.memberKey()
                let keyStart = token.start - 1 // its opening quote
                var quoted = StringifyWriter()
                quoted.appendString(token, in: scanner)
                let id = scanner.decode(token)
                let valueStart = scanner.position
                if scanner.current == UInt8(ascii: "{") && !scanner.atEnd {
                    let (fields, target, sessionId) = try readSession()
                    let record = BotmuxRecord(id: id, key: quoted.bytes, range: valueStart..<scanner.position,
                                              fields: fields, target: target)
                    check(record, sessionId: sessionId, at: keyStart)
                    if seen[quoted.bytes] != nil {
                        note("key \(JSONValue.string(id).jsonText()) appears twice (JSON.parse would keep only the last; refusing to guess)", at: keyStart)
                    } else {
                        seen[quoted.bytes] = records.count
                        records.append(record)
                    }
                } else {
                    let value = try scanner.summarizeValue(depth: 1)
                    note("key \(JSONValue.string(id).jsonText()) holds \(value.kindDescription), expected a session object", at: valueStart)
                }
            } while try scanner.nextMember()
        }
        try scanner.expectEnd()
        // JSON.parse puts array-index keys first; a real store has none
        // (sessionIds are UUIDs), but keep the order botmux would see.
        if records.contains(where: { JSObjectLayout.arrayIndex($0.key) != nil }) {
            let indexed = records.compactMap { r in JSObjectLayout.arrayIndex(r.key).map { ($0, r) } }.sorted { $0.0 < $1.0 }.map(\.1)
            records = indexed + records.filter { JSObjectLayout.arrayIndex($0.key) == nil }
        }
        return (records, problem)
    }

    /// A record's key must be its session's `sessionId`: botmux's offline
    /// writer silently drops a record whose key differs, and which of the two
    /// is right cannot be known, so the store is refused instead.
    mutating func check(_ record: BotmuxRecord, sessionId: [UInt8]?, at offset: Int) {
        let name = JSONValue.string(record.id).jsonText()
        if record.key.count == 2 {
            note("key \"\" is an empty sessionId", at: offset)
            return
        }
        switch record[.sessionId] {
        case nil:
            break // absent: the key is the id (botmux keys by it)
        case .string(let value)?:
            if sessionId != record.key {
                note("key \(name) holds a session whose sessionId is \(JSONValue.string(value).jsonText()); refusing to guess which is right", at: offset)
            }
        case let other?:
            note("key \(name) holds a session whose sessionId is \(other.kindDescription), expected the string \(name)", at: offset)
        }
    }

    /// Reads one session object (cursor on its `{`), summarising the members
    /// the mapping needs; returns them, the parsed target, and the sessionId
    /// as `JSON.stringify` writes it.
    mutating func readSession() throws(JSONSyntaxError) -> ([BotmuxField: JSValueSummary], JSONObject?, [UInt8]?) {
        var fields: [BotmuxField: JSValueSummary] = [:]
        var target: JSONObject?
        var sessionId: [UInt8]?
        guard try scanner.enterObject(depth: 2) else { return (fields, target, sessionId) }
        repeat {
            let key = try scanner.memberKey()
            if let field = Self.field(key, in: scanner) {
                switch field {
                case .sessionId where scanner.current == UInt8(ascii: "\""):
                    let token = try scanner.scanString()
                    var quoted = StringifyWriter()
                    quoted.appendString(token, in: scanner)
                    sessionId = quoted.bytes
                    fields[field] = .string(scanner.decode(token))
                case .persistentBackendTarget where scanner.current == UInt8(ascii: "{"):
                    let value = try scanner.parseValue(depth: 2)
                    target = value.objectValue
                    fields[field] = .object
                default:
                    if field == .sessionId { sessionId = nil }
                    if field == .persistentBackendTarget { target = nil }
                    fields[field] = try scanner.summarizeValue(depth: 2)
                }
            } else {
                try scanner.skipValue(depth: 2)
            }
        } while try scanner.nextMember()
        return (fields, target, sessionId)
    }

    static func field(_ key: JSONStringToken, in scanner: JSONScanner) -> BotmuxField? {
        let length = key.end - key.start
        guard key.hasEscapes || (length >= 5 && length <= 23) else { return nil }
        for (index, name) in BotmuxField.names.enumerated() where scanner.token(key, equals: name) {
            return BotmuxField.allCases[index]
        }
        return nil
    }
}
