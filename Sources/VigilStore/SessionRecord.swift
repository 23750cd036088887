// One session record. The typed properties are the fields Vigil reads and
// writes; everything else belongs to the daemon and rides along untouched.
//
// A record loaded from disk does not hold a parsed tree: it points at its byte
// range in the loaded file (`Body.raw`). If it is never modified, the commit
// copies those bytes verbatim, so untouched records come back byte-identical
// and loading 100,000 records allocates little more than their ids. A
// modified record is rewritten at commit time (SessionRecord+Writing.swift):
// a close is spliced into its bytes at the points the loader noted
// (`PatchPoints`); any other change patches it member by member, the typed
// properties written over their members (in place if present, appended at
// the end if new) and every other member copied as it was.

public import VigilJSON
// The backend enum (`backend` of a record) is shared with the backends
// module; re-exported so that `import VigilStore` names it.
@_exported public import VigilBackendKind

/// Whether a session record is live or has been closed.
public enum RecordStatus: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The daemon considers the session live.
    case active
    /// The session is over; `closedAt` and `closeReason` say when and why.
    case closed

    /// The word the store holds: `active`, `closed`.
    public var description: String { rawValue }
}

/// One entry of the store's `sessions` array.
///
/// Changing a typed property to a different value marks the record modified;
/// a modified record is re-serialized on commit, an unmodified one is written
/// back byte for byte as it was read.
public struct SessionRecord: Sendable {
    /// The keys the typed properties own. Setting them through
    /// `subscript(field:)` is a programming error.
    public static let reservedKeys: [String] = [
        "id", "backend", "status", "backendSession", "socket", "cliId", "closedAt", "closeReason",
    ]

    /// The daemon's session id (`id`).
    public var id: String { didSet { if id != oldValue { changed(.id) } } }
    /// The multiplexer's own session name (`backendSession`), if recorded.
    public var backendSession: String? { didSet { if backendSession != oldValue { changed(.backendSession) } } }
    /// The tmux `-L` socket name (`socket`), if recorded.
    public var socket: String? { didSet { if socket != oldValue { changed(.socket) } } }
    /// The daemon's CLI id (`cliId`), if recorded.
    public var cliId: String? { didSet { if cliId != oldValue { changed(.cliId) } } }
    /// When the session was closed (`closedAt`, ISO-8601 UTC), if it was.
    ///
    /// Read leniently: a `closedAt` that is not a string (the daemon's own
    /// format, say) reads as nil and is kept as it is unless this is set.
    public var closedAt: String? { didSet { if closedAt != oldValue { changed(.closedAt) } } }
    /// Why the session was closed (`closeReason`), if it was. Read leniently,
    /// like `closedAt`.
    public var closeReason: String? { didSet { if closeReason != oldValue { changed(.closeReason) } } }

    /// The multiplexer (`backend`).
    public var backend: BackendKind { didSet { if backend != oldValue { changed(.backend) } } }
    /// `active` or `closed` (`status`).
    public var status: RecordStatus { didSet { if status != oldValue { changed(.status) } } }
    // (The one-byte members together, after the strings: a record takes
    // 152 bytes, not 192, and a store holds one per record.)
    /// Whether anything changed since the record was loaded or last committed.
    public internal(set) var isModified: Bool

    /// The typed properties changed since loading, one bit per `RecordKey`.
    var changedKeys: UInt8 = 0

    /// False when the loader saw that the raw body has no `killedAt`
    /// member: restore asks every gone record for that marker, and this
    /// answers it without scanning the record again.
    var rawMayHoldKilledAt = true

    /// Where the record's full object lives.
    enum Body: Sendable {
        /// Still the validated bytes `range` of `source`: an object at
        /// document depth 3 (root object, `sessions` array, record).
        case raw(StoreSource, Range<Int>)
        /// A parsed (or caller-built) object.
        case object(JSONObject)
    }

    var body: Body

    /// Where a loaded record's `status`, `closedAt` and `closeReason`
    /// values and its last member are, so that a close is spliced in
    /// without scanning the record again (SessionRecord+Writing.swift).
    var patchPoints = PatchPoints.unavailable

    /// Daemon members set through `subscript(field:)` while the body is still
    /// raw: one entry per key with its final value (nil: remove), in the
    /// order first set. The patcher and `baseObject` apply them.
    var fieldEdits: [FieldEdit] = []

    /// A pending change to one daemon member of a raw record.
    struct FieldEdit: Sendable {
        let key: String
        var value: JSONValue?
    }

    /// Creates a new record. Its members come out in the order `id`,
    /// `backend`, `status`, the optional fields that are set, then
    /// `otherFields` in their order.
    /// - Parameters:
    ///   - otherFields: the daemon's members; reserved keys among them are
    ///     dropped (the typed properties own those).
    public init(
        id: String,
        backend: BackendKind,
        status: RecordStatus,
        backendSession: String? = nil,
        socket: String? = nil,
        cliId: String? = nil,
        otherFields: JSONObject = [:]
    ) {
        self.id = id
        self.backend = backend
        self.status = status
        self.backendSession = backendSession
        self.socket = socket
        self.cliId = cliId
        self.closedAt = nil
        self.closeReason = nil
        self.isModified = true
        // Placeholders fix the typed members' positions at the front; their
        // values are written from the properties at serialization time (and
        // a string placeholder whose property is cleared later is removed).
        var object: JSONObject = ["id": .string(""), "backend": .string(""), "status": .string("")]
        for (key, value) in [("backendSession", backendSession), ("socket", socket), ("cliId", cliId)] where value != nil {
            object.append(key, .string(""))
        }
        object.members += otherFields.members.filter { !Self.reservedKeys.contains($0.key) }
        self.body = .object(object)
    }

    /// A record read from a store; the typed values were taken from `range`.
    init(
        id: String, backend: BackendKind, status: RecordStatus,
        backendSession: String?, socket: String?, cliId: String?,
        closedAt: String?, closeReason: String?,
        source: StoreSource, range: Range<Int>, mayHoldKilledAt: Bool = true,
        patchPoints: PatchPoints = .unavailable
    ) {
        self.id = id
        self.backend = backend
        self.status = status
        self.backendSession = backendSession
        self.socket = socket
        self.cliId = cliId
        self.closedAt = closedAt
        self.closeReason = closeReason
        self.isModified = false
        self.body = .raw(source, range)
        self.rawMayHoldKilledAt = mayHoldKilledAt
        self.patchPoints = patchPoints
    }

    /// The record's bytes in the document it was read from (or last
    /// written to), nil for a record built in memory.
    var sourceRange: Range<Int>? {
        if case .raw(_, let range) = body { return range }
        return nil
    }

    // MARK: - Closing

    /// Marks the session closed: `status` becomes `closed`, and `closedAt` and
    /// `closeReason` are set (updated in place if the record has them,
    /// appended at the end if not).
    ///
    /// Closing again with the same arguments changes nothing and does not mark
    /// the record modified; closing again with a different time or reason
    /// updates them.
    /// - Parameters:
    ///   - timestamp: ISO-8601 UTC, e.g. `2026-11-25T10:00:00Z`
    ///     (`StoreClock.nowISO8601()`).
    ///   - reason: a short machine-readable reason, e.g. `backend-gone`.
    public mutating func close(at timestamp: String, reason: String) {
        status = .closed
        closedAt = timestamp
        closeReason = reason
    }

    /// After a commit: the record now lives at `range` of the written bytes.
    mutating func markWritten(source: StoreSource, range: Range<Int>) {
        body = .raw(source, range)
        fieldEdits = []
        isModified = false
        changedKeys = 0
        patchPoints = .unavailable
        rawMayHoldKilledAt = true
    }

    /// Notes that typed property `key` took a new value.
    private mutating func changed(_ key: RecordKey) {
        isModified = true
        changedKeys |= 1 << key.rawValue
    }
}

/// Offsets from a loaded record's `{` of the values a close rewrites (0..<0:
/// the member is absent) and of the end of the record's last member (0: not
/// noted; then the record is patched by a scan). Sixteen bits each: a record
/// of 64 KiB or more (none in practice) is patched by a scan.
struct PatchPoints: Sendable {
    var status: Span
    var closedAt: Span
    var closeReason: Span
    var membersEnd: UInt16

    /// The longest record whose points fit.
    static let maximumRecordSize = Int(UInt16.max)

    /// A value's bytes within the record.
    struct Span: Sendable {
        var start: UInt16
        var end: UInt16

        static let absent = Span(start: 0, end: 0)
        var isPresent: Bool { end != 0 }
    }

    static let unavailable = PatchPoints(status: .absent, closedAt: .absent, closeReason: .absent, membersEnd: 0)

    /// The span noted for `key` (only the three keys a close writes).
    func span(_ key: RecordKey) -> Span {
        switch key {
        case .status: status
        case .closedAt: closedAt
        case .closeReason: closeReason
        default: .absent
        }
    }
}
