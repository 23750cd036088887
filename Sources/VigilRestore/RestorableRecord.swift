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
    /// Whether `other` has the same status, backend, `cliId` and
    /// `killedAt`, so that one answer decides both alike. Never true when
    /// they differ; false when unsure (the fields are then compared as
    /// values). (A default is given; a record type can answer without
    /// making the strings.)
    func hasSameDecisionFields(as other: Self) -> Bool
}

extension RestorableRecord {
    public func sessionName(_ naming: SessionNaming) -> String { backendSession ?? naming.name(forID: id) }

    public func hasSameServer(as other: Self) -> Bool {
        backend == other.backend && (backend != .tmux || MultiplexerServer.sameSocket(socket, other.socket))
    }

    public func hasSameDecisionFields(as other: Self) -> Bool {
        status == other.status && backend == other.backend && cliId == other.cliId && killedAt == other.killedAt
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
    /// (closed, or a non-persistent backend). (Made from the numbered
    /// answers on each read: for one record, `answer(at:)`.)
    public var probes: [SessionProbe?] {
        get { numbers.map { $0 == 0 ? nil : distinct[Int($0) - 1] } }
        set { (numbers, distinct, states) = Self.numbered(newValue) }
    }
    /// The session name asked about per record (given, or derived from the id).
    public var sessionNames: [String]
    /// Listing calls made (one per backend and socket).
    public var listingCalls: Int
    /// What the listing children used, every attempt included.
    public var listingUsage: ChildrenUsage

    /// Each record's answer as a number: 0 for none, `n` for
    /// `distinct[n - 1]`. Records given one answer value share its number
    /// (a listing answers 100,000 names with two values), so restore
    /// compares neighbours' answers as numbers: no string is compared,
    /// and no reference count shared by two threads is touched.
    package private(set) var numbers: [UInt32]
    /// The answers the numbers stand for (two numbers may stand for equal
    /// answers: equal numbers mean equal answers, not the converse).
    package private(set) var distinct: [SessionProbe]
    /// `distinct[n].state`, read without copying the answer.
    private var states: [SessionState]

    /// Creates answers, for a caller that asked the multiplexers itself.
    public init(probes: [SessionProbe?], sessionNames: [String], listingCalls: Int = 0, listingUsage: ChildrenUsage = .none) {
        (numbers, distinct, states) = Self.numbered(probes)
        self.sessionNames = sessionNames
        self.listingCalls = listingCalls
        self.listingUsage = listingUsage
    }

    /// Answers already numbered (restore's own probe).
    package init(numbers: [UInt32], distinct: [SessionProbe], sessionNames: [String], listingCalls: Int, listingUsage: ChildrenUsage) {
        precondition(numbers.allSatisfy { Int($0) <= distinct.count }, "an answer number without its answer")
        self.numbers = numbers
        self.distinct = distinct
        self.states = distinct.map(\.state)
        self.sessionNames = sessionNames
        self.listingCalls = listingCalls
        self.listingUsage = listingUsage
    }

    /// The number of records answered for (asked about or not).
    public var count: Int { numbers.count }

    /// The answer for record `i`; nil if it was not asked about.
    public func answer(at i: Int) -> SessionProbe? {
        let number = numbers[i]
        return number == 0 ? nil : distinct[Int(number) - 1]
    }

    /// The state of the answer for record `i`; nil if it was not asked about.
    public func state(at i: Int) -> SessionState? {
        let number = numbers[i]
        return number == 0 ? nil : states[Int(number) - 1]
    }

    /// Numbers for `probes`, equal answers sharing one.
    static func numbered(_ probes: [SessionProbe?]) -> ([UInt32], [SessionProbe], [SessionState]) {
        var known: [SessionProbe: UInt32] = [:]
        var distinct: [SessionProbe] = []
        let numbers = probes.map { probe -> UInt32 in
            guard let probe else { return 0 }
            if let number = known[probe] { return number }
            distinct.append(probe)
            known[probe] = UInt32(distinct.count)
            return UInt32(distinct.count)
        }
        return (numbers, distinct, distinct.map(\.state))
    }
}

/// Answers numbered as they come: an answer equal to one of the last few
/// numbered takes its number (a listing's answers are a few shared values,
/// compared by their storage first), any other a new one.
struct AnswerNumbering: Sendable {
    var numbers: [UInt32] = []
    var distinct: [SessionProbe] = []

    init(reservingCapacity count: Int = 0) { numbers.reserveCapacity(count) }

    mutating func append(_ probe: SessionProbe) {
        for k in distinct.indices.suffix(4).reversed() where distinct[k] == probe {
            numbers.append(UInt32(k + 1))
            return
        }
        distinct.append(probe)
        numbers.append(UInt32(distinct.count))
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

    package func hasSameDecisionFields(as other: IndexedRecordView) -> Bool {
        hasSameDecisionMembers(as: other)
    }
}

/// A compact report reads its ids and backends back from the index.
extension StoreIndex: ReportedRecords {
    package func backendName(at position: Int) -> String { backend(at: position).rawValue }
    /// The name as restore asked about it (the same rule, from the bytes).
    package func sessionName(at position: Int, naming: SessionNaming) -> String { views[position].sessionName(naming) }
}

/// Records that restore's passes read one by one, by position from 0: a
/// daemon's array of records, or a store index's views.
///
/// Not `RandomAccessCollection`: through it, each read of a store index's
/// view (a 72-byte value) from the generic passes went through the standard
/// library's subscript coroutine, which allocated and freed its frame per
/// record (20,000 mallocs for the two passes over 10,000 records).
protocol RecordsByPosition: Sendable {
    associatedtype Record: RestorableRecord
    var count: Int { get }
    func record(at position: Int) -> Record
    /// The status and backend of the record at `position`, without the
    /// rest of it: the passes look at these first, and skip most records
    /// of a big store (every closed one) on them alone.
    func statusAndBackend(at position: Int) -> (status: RecordStatus, backend: BackendKind)
}

extension RecordsByPosition {
    func statusAndBackend(at position: Int) -> (status: RecordStatus, backend: BackendKind) {
        let record = record(at: position)
        return (record.status, record.backend)
    }

    /// What restore's passes over these records cost, in records: each
    /// record asked about (active, of a persistent backend) counts whole,
    /// any other a quarter (it is passed on its status and backend alone).
    /// 10,000 closed records are 2,500: one thread does them sooner than
    /// two (0.25 ms less in interleaved runs of the command).
    func passWork() -> Int {
        var asked = 0
        for position in 0..<count {
            let (status, backend) = statusAndBackend(at: position)
            if status == .active && backend.isPersistent { asked += 1 }
        }
        return asked + (count - asked) / 4
    }
}

extension Array: RecordsByPosition where Element: RestorableRecord {
    func record(at position: Int) -> Element { self[position] }
}

/// A store index's records for restore's passes: their views, with every
/// record's status and backend read out once beforehand (a pass reads two
/// array elements per record, not a 72-byte view or a call into the index).
package struct IndexedRecordViews: RecordsByPosition {
    let views: StoreIndex.Views
    private let statuses: [RecordStatus]
    private let backends: [BackendKind]

    package init(_ views: StoreIndex.Views) {
        self.views = views
        (statuses, backends) = views.statusesAndBackends()
    }

    var count: Int { statuses.count }
    func record(at position: Int) -> IndexedRecordView { views[position] }
    func statusAndBackend(at position: Int) -> (status: RecordStatus, backend: BackendKind) {
        (statuses[position], backends[position])
    }
}
