// The lines of a restore report, one per record in store order.
//
// A report made from `SessionOutcome`s holds them as they are. A restore of a
// store file holds each line in 8 bytes instead (the action, the probe's
// answer and the index of a shared reason) and reads the id, the backend and
// the session name from what the restore read (the store's bytes, the
// session names), making a `SessionOutcome` only when a line is asked for:
// at 100,000 records that is 0.8 MB of lines rather than 7 MB of outcomes
// plus a heap string per id.

public import VigilCore

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
    private var storage: Storage

    private enum Storage: Sendable {
        case outcomes([SessionOutcome])
        case compact(Compact)
    }

    /// One line of a compact report.
    struct Entry: Sendable {
        var reason: UInt32
        var action: RestoreAction
        var probe: SessionState?
    }

    /// The compact form: lines of 8 bytes, reasons shared.
    private struct Compact: Sendable {
        let records: any ReportedRecords
        let names: [String]
        var entries: [Entry]
        var reasons: [String]
        var workers: [Int: Int32]
    }

    /// Lines made of `SessionOutcome`s, held as they are.
    public init(_ outcomes: [SessionOutcome] = []) {
        storage = .outcomes(outcomes)
    }

    /// Compact lines over `records`, with the session name of each.
    /// - Parameters:
    ///   - entries: one per record: the action, the answer, and the index
    ///     of the reason in `reasons`.
    init(records: any ReportedRecords, names: [String], entries: [Entry], reasons: [String]) {
        precondition(names.count == entries.count, "a session name per line")
        storage = .compact(Compact(records: records, names: names, entries: entries, reasons: reasons, workers: [:]))
    }

    public var startIndex: Int { 0 }

    public var endIndex: Int {
        switch storage {
        case .outcomes(let outcomes): outcomes.count
        case .compact(let compact): compact.entries.count
        }
    }

    /// The line at `position`. Setting it in a compact report keeps the
    /// line's record (its id, backend and session name) and takes the rest.
    public subscript(position: Int) -> SessionOutcome {
        get {
            switch storage {
            case .outcomes(let outcomes):
                return outcomes[position]
            case .compact(let compact):
                let entry = compact.entries[position]
                return SessionOutcome(id: compact.records.id(at: position), backend: compact.records.backendName(at: position),
                                      backendSession: compact.names[position], probe: entry.probe, action: entry.action,
                                      reason: compact.reasons[Int(entry.reason)], workerPID: compact.workers[position])
            }
        }
        set {
            switch storage {
            case .outcomes(var outcomes):
                storage = .outcomes([])
                outcomes[position] = newValue
                storage = .outcomes(outcomes)
            case .compact(var compact):
                storage = .outcomes([])
                var entry = compact.entries[position]
                entry.action = newValue.action
                entry.probe = newValue.probe
                if compact.reasons[Int(entry.reason)] != newValue.reason {
                    entry.reason = UInt32(compact.reasons.count)
                    compact.reasons.append(newValue.reason)
                }
                compact.entries[position] = entry
                compact.workers[position] = newValue.workerPID
                storage = .compact(compact)
            }
        }
    }

    /// The action of the line at `position`, without making the line.
    public func action(at position: Int) -> RestoreAction {
        switch storage {
        case .outcomes(let outcomes): outcomes[position].action
        case .compact(let compact): compact.entries[position].action
        }
    }

    /// The reason of the line at `position`, without making the line.
    public func reason(at position: Int) -> String {
        switch storage {
        case .outcomes(let outcomes): outcomes[position].reason
        case .compact(let compact): compact.reasons[Int(compact.entries[position].reason)]
        }
    }

    /// How many lines have each action (every action present, zero or not).
    public var totals: [RestoreAction: Int] {
        // Counted in a fixed array (no hashing per line), then named.
        var counts = [Int](repeating: 0, count: RestoreAction.allCases.count)
        for position in indices { counts[action(at: position).ordinal] += 1 }
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
