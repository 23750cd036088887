// The lines of a restore report, one per record in store order.
//
// A report made from `SessionOutcome`s holds them as they are. A restore of a
// store file holds each line in 8 bytes instead (the action, the probe's
// answer and the index of a shared reason) and reads the id, the backend and
// the session name from what the restore read (the store's bytes, the
// session names), making a `SessionOutcome` only when a line is asked for:
// at 100,000 records that is 0.8 MB of lines rather than 7 MB of outcomes
// plus a heap string per id.

import VigilCore

/// What a compact report reads of the record behind each line.
package protocol ReportedRecords: Sendable {
    /// The record's id.
    func id(at position: Int) -> String
    /// The record's backend as the report prints it.
    func backendName(at position: Int) -> String
}

/// The report's lines, in store order; each element is a `SessionOutcome`
/// (made when read, for a report of a store file).
public struct RestoreLines: RandomAccessCollection, MutableCollection, Sendable {
    // Either `outcomes` (made from outcomes) or the compact lines: `entries`
    // over `records`, with `names`, `reasons` and `workers`. (Stored side
    // by side rather than as an enum, so reading one line copies nothing.)
    private var outcomes: [SessionOutcome]
    private let records: (any ReportedRecords)?
    private var names: [String] = []
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
        self.records = nil
    }

    /// Compact lines over `records`, with the session name of each.
    /// - Parameters:
    ///   - entries: one per record: the action, the answer, and the index
    ///     of the reason in `reasons`.
    init(records: any ReportedRecords, names: [String], entries: [Entry], reasons: [String]) {
        precondition(names.count == entries.count, "a session name per line")
        self.outcomes = []
        self.records = records
        self.names = names
        self.entries = entries
        self.reasons = reasons
    }

    public var startIndex: Int { 0 }

    public var endIndex: Int { records == nil ? outcomes.count : entries.count }

    /// The line at `position`. Setting it in a compact report keeps the
    /// line's record (its id, backend and session name) and takes the rest.
    public subscript(position: Int) -> SessionOutcome {
        get {
            guard let records else { return outcomes[position] }
            let entry = entries[position]
            return SessionOutcome(id: records.id(at: position), backend: records.backendName(at: position),
                                  backendSession: names[position], probe: entry.probe, action: entry.action,
                                  reason: reasons[Int(entry.reason)], workerPID: workers[position])
        }
        set {
            guard records != nil else {
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
        records == nil ? outcomes[position].action : entries[position].action
    }

    /// The reason of the line at `position`, without making the line.
    public func reason(at position: Int) -> String {
        records == nil ? outcomes[position].reason : reasons[Int(entries[position].reason)]
    }

    /// The record id of the line at `position`, without making the line.
    public func id(at position: Int) -> String {
        guard let records else { return outcomes[position].id }
        return records.id(at: position)
    }

    /// How many lines have each action (every action present, zero or not).
    public var totals: [RestoreAction: Int] {
        // Counted in a fixed array (no hashing per line), then named.
        var counts = [Int](repeating: 0, count: RestoreAction.allCases.count)
        if records == nil {
            for outcome in outcomes { counts[outcome.action.ordinal] += 1 }
        } else {
            for entry in entries { counts[entry.action.ordinal] += 1 }
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
