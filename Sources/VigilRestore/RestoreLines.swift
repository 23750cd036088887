// The lines of a restore report, one per record in store order.
//
// A report made from `SessionOutcome`s holds them as they are. A restore of a
// store file holds each line in 8 bytes instead (the action, the probe's
// answer and the index of a shared reason) and reads the id, the backend and
// the session name from the records the restore read (the store's bytes),
// making a `SessionOutcome` only when a line is asked for:
// at 100,000 records that is 0.8 MB of lines rather than 7 MB of outcomes
// plus a heap string per id.

public import VigilCore
package import VigilBackends

/// What a compact report reads of the record behind each line.
package protocol ReportedRecords: Sendable {
    /// The record's id.
    func id(at position: Int) -> String
    /// The record's backend as the report prints it.
    func backendName(at position: Int) -> String
    /// The record's session name: its `backendSession`, or the name
    /// `naming` derives from its id (as restore asked about it).
    func sessionName(at position: Int, naming: SessionNaming) -> String
}

/// The report's lines, in store order; each element is a `SessionOutcome`
/// (made when read, for a report of a store file).
public struct RestoreLines: RandomAccessCollection, MutableCollection, Sendable {
    // Either `outcomes` (made from outcomes) or the compact lines: `entries`
    // over `records`, with `reasons` and `workers`. (Stored side
    // by side rather than as an enum, so reading one line copies nothing.)
    private var outcomes: [SessionOutcome]
    /// `records != nil`, kept as a plain flag: the test runs for every line
    /// read, and a Bool needs no look at the existential.
    private let isCompact: Bool
    private let records: (any ReportedRecords)?
    private let naming: SessionNaming
    private var entries: [Entry] = []
    private var reasons: [String] = []
    private var workers: [Int: Int32] = [:]

    /// One line of a compact report.
    struct Entry: Sendable {
        var reason: UInt32
        var action: RestoreAction
        var probe: SessionState?
    }

    /// Lines made of `SessionOutcome`s, held as they are.
    public init(_ outcomes: [SessionOutcome] = []) {
        self.outcomes = outcomes
        self.isCompact = false
        self.records = nil
        self.naming = .standard
    }

    /// Compact lines over `records` (each line's session name derived
    /// with `naming` when the line is read).
    /// - Parameters:
    ///   - entries: one per record: the action, the answer, and the index
    ///     of the reason in `reasons`.
    init(records: any ReportedRecords, naming: SessionNaming, entries: [Entry], reasons: [String]) {
        self.outcomes = []
        self.isCompact = true
        self.records = records
        self.naming = naming
        self.entries = entries
        self.reasons = reasons
    }

    public var startIndex: Int { 0 }

    public var endIndex: Int { isCompact ? entries.count : outcomes.count }

    /// The line at `position`. Setting it in a compact report keeps the
    /// line's record (its id, backend and session name) and takes the rest.
    public subscript(position: Int) -> SessionOutcome {
        get {
            guard isCompact, let records else { return outcomes[position] }
            let entry = entries[position]
            let id = records.id(at: position)
            return SessionOutcome(id: id, backend: records.backendName(at: position),
                                  backendSession: records.sessionName(at: position, naming: naming), probe: entry.probe, action: entry.action,
                                  reason: reasons[Int(entry.reason)], workerPID: workers[position])
        }
        set {
            guard isCompact else {
                outcomes[position] = newValue
                return
            }
            entries[position].action = newValue.action
            entries[position].probe = newValue.probe
            if reasons[Int(entries[position].reason)] != newValue.reason {
                entries[position].reason = UInt32(reasons.count)
                reasons.append(newValue.reason)
            }
            workers[position] = newValue.workerPID
        }
    }

    /// The action of the line at `position`, without making the line.
    public func action(at position: Int) -> RestoreAction {
        isCompact ? entries[position].action : outcomes[position].action
    }

    /// The reason of the line at `position`, without making the line.
    public func reason(at position: Int) -> String {
        isCompact ? reasons[Int(entries[position].reason)] : outcomes[position].reason
    }

    /// The probe's answer of the line at `position`, without making the line.
    public func probe(at position: Int) -> SessionState? {
        isCompact ? entries[position].probe : outcomes[position].probe
    }

    /// The record id of the line at `position`, without making the line.
    public func id(at position: Int) -> String {
        guard isCompact, let records else { return outcomes[position].id }
        return records.id(at: position)
    }

    /// How many lines have each action (every action present, zero or not).
    public var totals: [RestoreAction: Int] {
        // Counted in a fixed array (no hashing per line), then named.
        var counts = [Int](repeating: 0, count: RestoreAction.allCases.count)
        if isCompact {
            for entry in entries { counts[entry.action.ordinal] += 1 }
        } else {
            for outcome in outcomes { counts[outcome.action.ordinal] += 1 }
        }
        return Dictionary(uniqueKeysWithValues: RestoreAction.allCases.map { ($0, counts[$0.ordinal]) })
    }
}

extension RestoreAction {
    /// The action's place in `allCases`.
    var ordinal: Int {
        switch self {
        case .fork: 0
        case .close: 1
        case .keep: 2
        case .kill: 3
        case .skip: 4
        }
    }
}
