public import VigilCore
public import VigilBackends

/// What restore decided for one record.
public enum RestoreAction: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The session is alive: a worker re-attaches to it.
    case fork
    /// The session is authoritatively gone: the record is marked closed.
    case close
    /// No authoritative answer (or lazy mode): the record stays active, untouched.
    case keep
    /// Alive, but running another CLI than the daemon's: the backing session is killed, the record stays active.
    case kill
    /// Not restore's business: a closed record, or a non-persistent (`pty`) one.
    case skip

    /// The word the command line prints: `fork`, `close`, `keep`, `kill`, `skip`.
    public var description: String { rawValue }
}

/// One line of the report.
public struct SessionOutcome: Sendable, Hashable {
    /// The record's id.
    public var id: String
    /// The backend as the report prints it: a `BackendKind`'s word (`tmux`,
    /// `zellij`, `herdr`, `pty`) for Vigil's store. Text rather than
    /// `BackendKind` because a botmux line shows the record's own
    /// `backendType`, which may be one Vigil does not know (`zmx`, `riff`,
    /// or `none` when there is none).
    public var backend: String
    /// The multiplexer session name (derived from the id when the record has none).
    public var backendSession: String
    /// Why, in one line.
    public var reason: String
    /// The worker launched for a `fork`, if one was.
    public var workerPID: Int32?
    /// The probe's answer; `nil` for skipped records, which are not probed.
    public var probe: SessionState?
    /// What was decided.
    public var action: RestoreAction
    // (The small members last: a line takes 72 bytes, not 80, and a report
    // holds one per record.)

    /// Creates a report line.
    public init(id: String, backend: String, backendSession: String, probe: SessionState?, action: RestoreAction, reason: String, workerPID: Int32? = nil) {
        self.id = id
        self.backend = backend
        self.backendSession = backendSession
        self.probe = probe
        self.action = action
        self.reason = reason
        self.workerPID = workerPID
    }

    /// Creates a report line for a record of a known backend.
    public init(id: String, backend: BackendKind, backendSession: String, probe: SessionState?, action: RestoreAction, reason: String,
                workerPID: Int32? = nil) {
        self.init(id: id, backend: backend.description, backendSession: backendSession, probe: probe, action: action,
                  reason: reason, workerPID: workerPID)
    }
}

/// Everything one restore did, in store order.
public struct RestoreReport: Sendable {
    /// One line per store record, in store order. For a restore of a store
    /// file the lines are compact and each `SessionOutcome` is made when
    /// read (see `RestoreLines`); iterate them rather than asking for
    /// `sessions`, which makes them all at once.
    public var lines: RestoreLines
    /// One line per store record, in store order, as an array.
    public var sessions: [SessionOutcome] {
        get { Array(lines) }
        set { lines = RestoreLines(newValue) }
    }
    /// Wall time of the whole restore: the clock starts when `restore(storeAt:)`
    /// is called, before the store is read, and stops when the report is
    /// made, after the commit (any wait for the lock included), the kills and
    /// the worker launches (for a dry run: after the decisions).
    public var elapsed: Duration
    /// How long the store's lock was held for the commit; nil when no lock
    /// was taken (a dry run, or nothing to commit).
    public var lockHeld: Duration?
    /// True when nothing was changed (`--dry-run`).
    public var dryRun: Bool
    /// Listing calls made (one per backend and socket), for the curious and the benchmarks.
    public var listingCalls: Int
    /// What the multiplexer children behind the probe answers used: every
    /// attempt of every listing call (CPU time, context switches, the
    /// largest peak memory). Kills and workers are not included.
    public var listingUsage: ChildrenUsage

    /// Creates a report.
    public init(sessions: [SessionOutcome], elapsed: Duration, dryRun: Bool, listingCalls: Int,
                listingUsage: ChildrenUsage = .none) {
        self.init(lines: RestoreLines(sessions), elapsed: elapsed, dryRun: dryRun, listingCalls: listingCalls,
                  listingUsage: listingUsage)
    }

    /// Creates a report from its lines.
    public init(lines: RestoreLines, elapsed: Duration, dryRun: Bool, listingCalls: Int, listingUsage: ChildrenUsage = .none) {
        self.lines = lines
        self.elapsed = elapsed
        self.dryRun = dryRun
        self.listingCalls = listingCalls
        self.listingUsage = listingUsage
        self.lockHeld = nil
    }

    /// How many records got each action (every action present, zero or not).
    public var totals: [RestoreAction: Int] { lines.totals }
}
