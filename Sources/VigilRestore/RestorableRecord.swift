public import VigilCore
public import VigilStore
public import VigilBackends
import VigilJSON

/// What restore reads of one record: the fields its decision depends on.
///
/// `SessionRecord` (a record of Vigil's store file) conforms, and so does
/// `RestoreRecord`, for a daemon that keeps its records in memory or in its
/// own database and asks `Restorer.decisions(for:)` without any file.
public protocol RestorableRecord: Sendable {
    /// The daemon's session id.
    var id: String { get }
    /// The multiplexer; `pty` records are never probed.
    var backend: BackendKind { get }
    /// Only `active` records are probed.
    var status: RecordStatus { get }
    /// The multiplexer session; `nil`: derived from the id (`bmx-` + 8).
    var backendSession: String? { get }
    /// The tmux `-L` socket name; `nil`: the default server.
    var socket: String? { get }
    /// The agent CLI the session runs, if the record says.
    var cliId: String? { get }
    /// Set when restore killed the session for a CLI change (then `missing`
    /// is expected and the record is kept). Read only for `missing` answers.
    var killedAt: String? { get }
    /// The record's session name: `backendSession`, or the name `naming`
    /// derives from the id. (A default is given; a record type can answer
    /// without making the id.)
    func sessionName(_ naming: SessionNaming) -> String
    /// Whether `other` has the same backend and, for tmux, the same socket
    /// (the same UTF-8 bytes, as tmux names its socket files): restore
    /// groups records in runs by server. (A default is given; a
    /// record type can answer without making the sockets.)
    func hasSameServer(as other: Self) -> Bool
}

extension RestorableRecord {
    public func sessionName(_ naming: SessionNaming) -> String { backendSession ?? naming.name(forID: id) }

    public func hasSameServer(as other: Self) -> Bool {
        backend == other.backend && (backend != .tmux || MultiplexerServer.sameSocket(socket, other.socket))
    }
}

/// A record held by the caller, not read from a store file.
public struct RestoreRecord: RestorableRecord, Hashable {
    public var id: String
    public var backend: BackendKind
    public var status: RecordStatus
    public var backendSession: String?
    public var socket: String?
    public var cliId: String?
    public var killedAt: String?

    /// Creates a record; only the id, the backend and the status are required.
    public init(id: String, backend: BackendKind, status: RecordStatus = .active, backendSession: String? = nil,
                socket: String? = nil, cliId: String? = nil, killedAt: String? = nil) {
        self.id = id
        self.backend = backend
        self.status = status
        self.backendSession = backendSession
        self.socket = socket
        self.cliId = cliId
        self.killedAt = killedAt
    }
}

extension SessionRecord: RestorableRecord {
    /// The `killedAt` member, when it is a string.
    public var killedAt: String? { self[marker: .killedAt]?.stringValue }
}

/// What the multiplexers answered for a list of records, in its order.
public struct RestoreAnswers: Sendable {
    /// The answer per record; `nil` for records that were not asked about
    /// (closed, or a non-persistent backend).
    public var probes: [SessionProbe?]
    /// The session name asked about per record (given, or derived from the id).
    public var sessionNames: [String]
    /// Listing calls made (one per backend and socket).
    public var listingCalls: Int
    /// What the listing children used, every attempt included.
    public var listingUsage: ChildrenUsage

    /// Creates answers, for a caller that asked the multiplexers itself.
    public init(probes: [SessionProbe?], sessionNames: [String], listingCalls: Int = 0, listingUsage: ChildrenUsage = .none) {
        self.probes = probes
        self.sessionNames = sessionNames
        self.listingCalls = listingCalls
        self.listingUsage = listingUsage
    }
}

/// A record of a store read as a `StoreIndex`: restore's view of it, its
/// name and server read from the store's bytes.
extension IndexedRecordView: RestorableRecord {
    package func sessionName(_ naming: SessionNaming) -> String {
        if let name = backendSession { return name }
        return withPlainID { naming.name(forIDBytes: $0) } ?? naming.name(forID: id)
    }

    package func hasSameServer(as other: IndexedRecordView) -> Bool {
        backend == other.backend && (backend != .tmux || hasSameSocket(as: other))
    }
}

/// A compact report reads its ids and backends back from the index.
extension StoreIndex: ReportedRecords {
    package func backendName(at position: Int) -> String { backend(at: position).rawValue }
}
