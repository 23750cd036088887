// The loaded store document: the records in order plus the daemon's other
// top-level members. Parsing lives in SessionStore+Parsing.swift, writing in
// SessionStore+Writing.swift, files in StoreFile.swift.

public import VigilJSON

/// A session store document: `{"version": 1, "sessions": [...], ...}`.
///
/// Records keep their order. A document read from a file is written back
/// as those bytes with only the changed records replaced: every top-level
/// member keeps its place and its bytes (`version` and whitespace included).
/// Top-level members other than `version` and `sessions` are also offered in
/// `otherFields`; changing them (or adding, removing or reordering records)
/// rewrites the affected part in Vigil's layout (see SessionStore+Writing.swift).
public struct SessionStore: Sendable {
    /// The only document version this code understands.
    public static let currentVersion = 1

    /// The records of `sessions`, in order.
    public var records: [SessionRecord]

    /// The document's top-level members other than `version` and `sessions`,
    /// in their original order.
    public var otherFields: JSONObject

    /// The identity of the file this was loaded from (or last committed to).
    /// A commit refuses to overwrite a file that no longer matches, because
    /// that would silently drop another writer's changes.
    var origin: FileIdentity?

    /// Where everything was in the bytes the document was read from (or last
    /// written to); nil for a document built in memory.
    var layout: DocumentLayout?

    /// Creates a document in memory.
    /// - Parameters:
    ///   - records: the sessions, in order.
    ///   - otherFields: other top-level members (`version` and `sessions`
    ///     among them are ignored).
    public init(records: [SessionRecord] = [], otherFields: JSONObject = [:]) {
        self.records = records
        self.otherFields = JSONObject(otherFields.members.filter { $0.key != "version" && $0.key != "sessions" })
        self.origin = nil
        self.layout = nil
    }

    /// How many records are modified since loading (they will be
    /// re-serialized by the next commit; the rest are copied verbatim).
    public var modifiedCount: Int {
        records.reduce(0) { $0 + ($1.isModified ? 1 : 0) }
    }

    /// The index of the first record with this id, if any. Ids are compared
    /// by code points, as the loader compares them (not by canonical
    /// equivalence: a precomposed and a decomposed "é" are two ids).
    public func firstIndex(ofID id: String) -> Int? {
        records.firstIndex { $0.id.utf8.elementsEqual(id.utf8) }
    }
}

/// The byte layout of a document as read: the source, the `sessions` array,
/// each record's range, the other members as parsed, and the ids.
struct DocumentLayout: Sendable {
    /// The bytes read.
    let source: StoreSource
    /// The `sessions` array, from `[` to just after `]`.
    let sessions: Range<Int>
    /// Each record's bytes, in document order.
    let recordRanges: [Range<Int>]
    /// The top-level members other than `version` and `sessions`, as read.
    let otherFields: JSONObject
    /// Each record's id as loaded.
    let ids: [String]
    /// Record id to position (first occurrence), over `ids`.
    let idIndex: RecordIDIndex
}
