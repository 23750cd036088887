import VigilJSON
public import VigilCore
public import VigilBackends
public import VigilStore

/// What restore does with an active record whose session is authoritatively gone.
public enum MissingPolicy: String, Sendable, Hashable, CaseIterable {
    /// Close the record (`status: closed`): the zombie is tidied away.
    case close
    /// Keep the record active: the daemon can still resume the agent's
    /// transcript on the next message (a cold resume).
    case keep
}

/// Knobs of one restore.
public struct RestoreOptions: Sendable {
    /// The agent CLI the daemon runs now; a live session whose record names
    /// another `cliId` is killed rather than resurrected. `nil`: no check.
    public var expectedCLI: String?
    /// Lazy mode: live sessions stay registered without a worker.
    public var lazy: Bool
    /// Decide and report, but change nothing: no store write, no kill, no fork, no lock file.
    public var dryRun: Bool
    /// Worker launches and kills in flight at once.
    public var concurrency: Int
    /// How long to wait for the store's lock (held by the daemon or another
    /// restore) before failing.
    public var lockTimeout: Duration
    /// How session names are derived from ids when a record has no `backendSession`.
    public var naming: SessionNaming
    /// Create an empty store when none exists (otherwise a missing store is an error).
    public var createIfMissing: Bool
    /// What a `missing` session does to its record: `close` (the default) or `keep`.
    public var onMissing: MissingPolicy
    /// The lock the store's writers agree on: `flock` for Vigil's own
    /// format, `exclusiveCreate` where the daemon uses botmux's lock.
    public var lockProtocol: StoreLockProtocol
    /// Refuse a store file with other hard links (by default it is
    /// committed, with a notice that the other names keep the old version).
    public var strictLinks: Bool
    /// Told when restore enters each phase (from the restoring task; keep it
    /// short): for a progress line. `nil` by default.
    public var onPhase: (@Sendable (RestorePhase) -> Void)?

    /// The defaults: no CLI check, not lazy, not dry, 16 at once, 5 s lock
    /// wait, `flock`, hard links committed with a notice.
    public init(
        expectedCLI: String? = nil,
        lazy: Bool = false,
        dryRun: Bool = false,
        concurrency: Int = 16,
        lockTimeout: Duration = .seconds(5),
        naming: SessionNaming = SessionNaming(),
        createIfMissing: Bool = false,
        onMissing: MissingPolicy = .close,
        lockProtocol: StoreLockProtocol = .flock,
        strictLinks: Bool = false
    ) {
        self.expectedCLI = expectedCLI
        self.lazy = lazy
        self.dryRun = dryRun
        self.concurrency = max(1, concurrency)
        self.lockTimeout = lockTimeout
        self.naming = naming
        self.createIfMissing = createIfMissing
        self.onMissing = onMissing
        self.lockProtocol = lockProtocol
        self.strictLinks = strictLinks
        self.onPhase = nil
    }
}

/// The phases of one restore, in order, as `RestoreOptions.onPhase` hears them.
public enum RestorePhase: Sendable, Hashable, CustomStringConvertible {
    /// Listing the multiplexers' sessions: this many listing calls.
    case listing(calls: Int)
    /// Writing the decisions into the store (under its lock).
    case committing(records: Int)
    /// Killing sessions that run another CLI.
    case killing(sessions: Int)
    /// Launching workers for live sessions.
    case launching(workers: Int)

    /// `listing 3 servers`, `committing 1,200 records`, ...
    public var description: String {
        switch self {
        case .listing(let n): return "listing sessions (\(n) listing call\(n == 1 ? "" : "s"))"
        case .committing(let n): return "committing \(n) record\(n == 1 ? "" : "s") to the store"
        case .killing(let n): return "killing \(n) session\(n == 1 ? "" : "s")"
        case .launching(let n): return "launching \(n) worker\(n == 1 ? "" : "s")"
        }
    }
}

/// Reconciles a daemon's session store with what really survived.
///
/// For every `active` record of a persistent backend, one listing call per
/// backend and socket answers all its sessions; then `missing` closes the
/// record, `unknown` keeps it, a live session with another CLI is killed and
/// kept, and a live session gets a worker. All closes land in one atomic
/// store write, before any kill or fork, so a failed write leaves the world
/// as it was. The store's lock is held only for that write (milliseconds),
/// never across a probe or a spawn.
public struct Restorer: Sendable {
    /// The restore's knobs.
    public var options: RestoreOptions
    /// Makes the backend for a kind and socket.
    public var backends: any BackendProvider
    /// Starts workers for live sessions.
    public var launcher: any WorkerLauncher
    /// The daemon's registry of active sessions.
    public var registry: SessionRegistry
    /// Where events go.
    public var logger: RestoreLogger

    /// Creates an orchestrator.
    public init(
        options: RestoreOptions = RestoreOptions(),
        backends: any BackendProvider,
        launcher: any WorkerLauncher = NoWorkerLauncher(),
        registry: SessionRegistry = SessionRegistry(),
        logger: RestoreLogger = .standardError
    ) {
        self.options = options
        self.backends = backends
        self.launcher = launcher
        self.registry = registry
        self.logger = logger
    }

    // MARK: - The decision table

    /// The one place where a probe answer becomes an action.
    ///
    /// | record | probe | action |
    /// |---|---|---|
    /// | closed, or backend `pty` | not probed | skip |
    /// | active, `killedAt` set (restore killed it for a CLI change) | missing | keep |
    /// | active | missing | close (`onMissing: .keep`: keep) |
    /// | active | unknown | keep |
    /// | active | exists, `cliId` set and not the expected CLI | kill |
    /// | active | exists, lazy | keep |
    /// | active | exists | fork |
    ///
    /// A record without `cliId` is never killed for a mismatch: where the
    /// store does not say which CLI runs, destroying a live conversation on a
    /// guess is the expensive mistake.
    ///
    /// A kill is written to the record as `killedAt`/`killReason` (in the
    /// same atomic write as the closes), so that the next restore keeps the
    /// record, whose session is now missing on purpose, instead of closing
    /// it: restore stays idempotent, and the next message still finds the
    /// record active and starts the configured CLI. The daemon clears
    /// `killedAt` when it starts the new session.
    public static func decide(
        status: RecordStatus, backend: BackendKind, cliId: String?, probe: SessionProbe?,
        expectedCLI: String?, lazy: Bool, killedAt: String? = nil, onMissing: MissingPolicy = .close
    ) -> (action: RestoreAction, reason: String) {
        if status != .active { return (.skip, "record is closed") }
        if !backend.isPersistent { return (.skip, "non-persistent backend (pty)") }
        guard let probe else { return (.keep, "not probed") }
        switch probe {
        case .missing(let why):
            if let killedAt {
                // Echoed only when it reads as a timestamp: a report carries no free text from the store.
                let when = Self.looksLikeTimestamp(killedAt) ? " at \(killedAt)" : ""
                return (.keep, "session was killed by restore\(when) for a CLI change; the next message starts a fresh one (\(why))")
            }
            if onMissing == .keep {
                return (.keep, "session is gone (\(why)); kept active (--on-missing keep): the next message can cold-resume it")
            }
            return (.close, "session is gone: \(why)")
        case .unknown(let why):
            return (.keep, "no authoritative answer, kept for lazy recovery: \(why)")
        case .exists(let why):
            if let expectedCLI, let cliId, cliId != expectedCLI {
                return (.kill, "runs CLI \(cliId), daemon is configured for \(expectedCLI): killed, next message starts \(expectedCLI)")
            }
            if lazy { return (.keep, "alive (\(why)); lazy mode, no worker until the next message") }
            return (.fork, "alive: \(why)")
        }
    }

    /// True for text made of the characters of an ISO-8601 time (digits, `-:.+TZ`), 40 at most.
    static func looksLikeTimestamp(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 40 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || "-:.+TZ".utf8.contains($0) }
    }

    // MARK: - Restore

    /// The reason given for a decision that was not committed because its
    /// record changed after it was read.
    public static let changedMeanwhile = "changed by another writer during restore"
    /// The reason given for a decision whose record was removed after it was read.
    public static let removedMeanwhile = "removed by another writer during restore"

    /// Runs one restore of the store at `path`.
    ///
    /// The store is read, probed and decided on without its lock; the lock
    /// is taken only to commit (StoreFile's compare-and-set): a decision is
    /// applied only to a record that is still byte for byte what it was made
    /// from, otherwise the record is left as the other writer made it and
    /// reported `skip` ("changed by another writer during restore"). Kills
    /// and worker launches follow the commit, for committed decisions only.
    ///
    /// - Returns: one report line per record, in store order.
    /// - Throws: `StoreError` when the store is missing, unreadable, invalid,
    ///   locked past the timeout (or the task is cancelled while waiting for
    ///   the lock), or cannot be written. Nothing has been killed, forked or
    ///   written when it throws.
    public func restore(storeAt path: String) async throws(StoreError) -> RestoreReport {
        // The clock starts before the store is read, so `elapsed` covers the
        // read, the probes, the commit (with any wait for the lock), the
        // kills and the launches.
        let clock = ContinuousClock()
        let start = clock.now
        let file = StoreFile(path: path)
        var store = try await load(file)
        // Probe and decide, still without the lock.
        var plan = await self.plan(store)
        if options.dryRun {
            return RestoreReport(lines: plan.lines, elapsed: clock.now - start, dryRun: true, listingCalls: plan.listingCalls,
                                 listingUsage: plan.listingUsage)
        }
        let lockHeld = try await commit(&plan, to: file, store: &store)
        announceCommitted(plan)
        await execute(&plan, store: store)
        var report = RestoreReport(lines: plan.lines, elapsed: clock.now - start, dryRun: false, listingCalls: plan.listingCalls,
                                   listingUsage: plan.listingUsage)
        report.lockHeld = lockHeld
        return report
    }

    /// Where the store layer's notices go (a symlinked store, a broken stale
    /// lock, other hard links): the logger, as information.
    var storeNotice: (StoreNotice) -> Void {
        let logger = self.logger
        return { logger.info("\($0)") }
    }

    /// Reads and validates the store without the lock: a store that is
    /// missing, not a regular file or not valid is refused before anything
    /// (not even the lock file) is written. With `createIfMissing`, a missing
    /// store is created empty (a dry run creates nothing and reads it empty).
    ///
    /// The store is held as a `StoreIndex` (its bytes and 64 bytes per
    /// record), not as `SessionRecord`s.
    /// - Throws: as `restore(storeAt:)`; also `.cannotWrite` for a store
    ///   with other hard links under `strictLinks`.
    func load(_ file: StoreFile) async throws(StoreError) -> StoreIndex {
        let notice = storeNotice
        var store: StoreIndex
        do throws(StoreError) {
            store = try file.loadIndex()
        } catch {
            guard error.category == .notFound && options.createIfMissing else { throw error }
            // A dry run creates nothing: the store --create would make is empty.
            let created = options.dryRun
                ? SessionStore()
                : try await file.create(lock: options.lockProtocol, timeout: options.lockTimeout, notice: notice)
            store = try StoreIndex(parsing: created.serialized(), path: file.path)
        }
        if options.strictLinks && !options.dryRun, let others = file.otherHardLinks, others > 0 {
            throw StoreError(.cannotWrite, path: file.path, message: "has \(others) other hard link\(others == 1 ? "" : "s"), which a rewrite would leave on the previous version; refusing (--strict-links)")
        }
        return store
    }

    /// Commits the plan: closes and kill markers written, forks checked, each
    /// only where the record is still what it was decided from (StoreFile's
    /// compare-and-set, under the lock). A decision that could not be
    /// committed becomes `skip` and leaves the plan's lists.
    /// - Returns: how long the lock was held; nil when there was nothing to commit.
    func commit(_ plan: inout Plan, to file: StoreFile, store: inout StoreIndex) async throws(StoreError) -> Duration? {
        // (The closes alone, the common case, without a copy.)
        let decided = plan.kills.isEmpty && plan.forks.isEmpty ? plan.closes : plan.closes + plan.kills + plan.forks
        guard !decided.isEmpty else { return nil }
        options.onPhase?(.committing(records: decided.count))
        let now = StoreClock.nowISO8601()
        let lines = plan.lines
        // By position: no id is made unless another writer changed the file.
        let commit = try await file.commit(
            index: &store, positions: decided, writes: decided.map { lines.action(at: $0) != .fork },
            lock: options.lockProtocol, lockTimeout: options.lockTimeout, strictLinks: options.strictLinks, notice: storeNotice
        ) { document, change, position in
            let line = decided[change]
            Self.write(lines.action(at: line), reason: lines.reason(at: line), into: &document, at: position, now: now)
        }
        skipUncommitted(&plan, decided: decided, verdicts: commit.verdicts)
        return commit.lockHeld
    }

    /// The marker of a kill for a CLI change: `killedAt` and `killReason`.
    static func writeKillMarker(reason: String, into record: inout SessionRecord, at now: String) {
        record[marker: .killedAt] = .string(now)
        record[marker: .killReason] = .string(reason)
    }

    /// Writes one decision into the record at `position`: a close
    /// (`status`, `closedAt`, `closeReason`, kept compactly by the index),
    /// or the kill marker (`killedAt`, `killReason`, on the record read
    /// again). A fork writes nothing; its record is only checked.
    static func write(_ action: RestoreAction, reason: String, into store: inout StoreIndex, at position: Int, now: String) {
        switch action {
        case .close:
            store.close(position, at: now, reason: reason)
        case .kill:
            store.modify(position) { writeKillMarker(reason: reason, into: &$0, at: now) }
        case .fork, .keep, .skip:
            break
        }
    }

    /// Turns every decision the commit did not apply (its record was changed
    /// or removed by another writer meanwhile) into `skip` with the reason,
    /// logs it, and keeps only committed decisions in the plan's lists.
    /// - Parameters:
    ///   - decided: the plan's line index of each change, in commit order.
    ///   - verdicts: the commit's verdict of each change, in the same order.
    func skipUncommitted(_ plan: inout Plan, decided: [Int], verdicts: [RecordVerdict]) {
        for (change, verdict) in verdicts.enumerated() where verdict != .applied {
            let i = decided[change]
            let was = plan.lines[i].action
            plan.lines[i].action = .skip
            plan.lines[i].reason = verdict == .changed ? Self.changedMeanwhile : Self.removedMeanwhile
            let line = plan.lines[i]
            logger.warning(session: line.id, "did not \(was.rawValue) \(line.backend) session \(line.backendSession): \(line.reason)")
        }
        let lines = plan.lines
        plan.closes.removeAll { lines.action(at: $0) != .close }
        plan.kills.removeAll { lines.action(at: $0) != .kill }
        plan.forks.removeAll { lines.action(at: $0) != .fork }
    }

    /// After the commit: closed sessions leave the registry, and every close
    /// and every record kept on an `unknown` answer is logged.
    func announceCommitted(_ plan: Plan) {
        let lines = plan.lines
        registry.evict(plan.closes.lazy.map { lines.id(at: $0) })
        guard logger.wantsSessionEvents else { return }
        for i in plan.closes {
            let line = plan.lines[i]
            logger.warning(session: line.id, "closed \(line.backend) session \(line.backendSession): \(line.reason)")
        }
        for i in lines.indices where lines.action(at: i) == .keep && lines.probe(at: i) == .unknown {
            let line = lines[i]
            logger.warning(session: line.id, "kept \(line.backend) session \(line.backendSession): \(line.reason)")
        }
    }

    /// Probes and decisions for a loaded store; changes nothing.
    struct Plan {
        var lines: RestoreLines
        var closes: [Int] = []
        var kills: [Int] = []
        var forks: [Int] = []
        var listingCalls: Int
        /// What the listing children used, every attempt of every group.
        var listingUsage = ChildrenUsage.none
    }

    func plan(_ store: StoreIndex) async -> Plan {
        let records = IndexedRecordViews(store.views)
        let work = records.passWork()
        let answers = await probe(records, allNames: false, work: work)
        var plan = Plan(lines: await Self.compactDecisions(for: records, answers: answers, options: options, reportedFrom: store,
                                                           work: work),
                        listingCalls: answers.listingCalls, listingUsage: answers.listingUsage)
        for i in plan.lines.indices {
            switch plan.lines.action(at: i) {
            case .close: plan.closes.append(i)
            case .kill: plan.kills.append(i)
            case .fork: plan.forks.append(i)
            case .keep, .skip: break
            }
        }
        return plan
    }

    // MARK: - Restore from memory

    /// Probes the sessions of `records` and decides for each; changes
    /// nothing. For a daemon that keeps its records itself (in memory, in
    /// its own database): it applies the decisions itself. The file-based
    /// `restore(storeAt:)` makes the same two steps.
    /// - Returns: one line per record, in order, with the action and why.
    public func decisions<Record: RestorableRecord>(for records: [Record]) async -> [SessionOutcome] {
        Self.decisions(for: records, answers: await probe(records), options: options)
    }

    /// Asks the multiplexers about `records`: one listing per backend and
    /// socket, the groups in parallel, then exact lookups. Records that are
    /// closed or not persistent are not asked about.
    public func probe<Record: RestorableRecord>(_ records: [Record]) async -> RestoreAnswers {
        await probe(records, allNames: true)
    }

    /// `probe(_:)` for any records read by position from 0.
    /// - Parameters:
    ///   - allNames: false: `sessionNames` is empty, the names are derived
    ///     from the records where needed (a compact report derives them
    ///     again when a line is read; a name array is 16 bytes a record).
    ///   - work: what the names pass costs, in records (see `passWork`);
    ///     by default every record counts whole.
    func probe<Records: RecordsByPosition>(_ records: Records, allNames: Bool, work: Int? = nil) async -> RestoreAnswers {
        // 1. Names, and the active persistent records in runs by backend
        // and socket (a big list in two halves at once), then one group
        // per server.
        let naming = options.naming
        let halves = await inHalves(records.count, work: allNames ? nil : work) { range in
            Self.namesAndRuns(records, range, naming: naming, allNames: allNames)
        }
        var names = halves[0].names
        for half in halves.dropFirst() { names.append(contentsOf: half.names) }
        let sessionNames = names
        let name: @Sendable (Int) -> String = { i in allNames ? sessionNames[i] : records.record(at: i).sessionName(naming) }
        var groups: [MultiplexerServer: [Int]] = [:]
        for half in halves {
            for (server, indices) in half.runs { groups[server, default: []].append(contentsOf: indices) }
        }

        // 2. One listing per group, groups in parallel; each name made and
        // checked once, the most of them while the multiplexer lists.
        // (Positions and answers are kept apart, in arrays of their own: a
        // store of 100,000 records holds them all at once.)
        if !groups.isEmpty { options.onPhase?(.listing(calls: groups.count)) }
        let providers = backends
        let (numbered, listingUsage) = await withTaskGroup(of: GroupAnswers.self) { group in
            for (server, indices) in groups {
                let backend = providers.backend(for: server)
                group.addTask { await Self.answers(indices, name: name, by: backend) }
            }
            // Each group's numbers follow the ones before it.
            var numbers = [UInt32](repeating: 0, count: records.count)
            var distinct: [SessionProbe] = []
            var usage = ChildrenUsage.none
            for await answers in group {
                for (i, p) in answers.rejected {
                    distinct.append(p)
                    numbers[i] = UInt32(distinct.count)
                }
                var k = 0
                for part in answers.found {
                    let offset = UInt32(distinct.count)
                    distinct += part.distinct
                    for number in part.numbers {
                        numbers[answers.asked[k]] = number + offset
                        k += 1
                    }
                }
                usage.add(answers.usage)
            }
            return ((numbers: numbers, distinct: distinct), usage)
        }
        return RestoreAnswers(numbers: numbered.numbers, distinct: numbered.distinct, sessionNames: names, listingCalls: groups.count,
                              listingUsage: listingUsage)
    }

    /// The session names of `records[range]` (all, or only those asked
    /// about) and the positions of the records asked about, in runs of one
    /// server each, in order.
    static func namesAndRuns<Records: RecordsByPosition>(
        _ records: Records, _ range: Range<Int>, naming: SessionNaming, allNames: Bool
    ) -> (names: [String], runs: [(server: MultiplexerServer, indices: [Int])]) {
        var names = [String](repeating: "", count: allNames ? range.count : 0)
        var runs: [(server: MultiplexerServer, indices: [Int])] = []
        var first: Records.Record? // the current run's first record
        for i in range {
            let (status, backend) = records.statusAndBackend(at: i)
            let asked = status == .active && backend.isPersistent
            // Without names, a record not asked about is passed on its status and backend.
            guard asked || allNames else { continue }
            let record = records.record(at: i)
            if allNames { names[i - range.lowerBound] = record.sessionName(naming) }
            guard asked else { continue }
            if let first, record.hasSameServer(as: first) {
                runs[runs.count - 1].indices.append(i)
                continue
            }
            let server = MultiplexerServer(record.backend, recordSocket: record.socket)
            first = record
            if runs.last?.server == server {
                runs[runs.count - 1].indices.append(i)
            } else {
                runs.append((server, [i]))
            }
        }
        return (names, runs)
    }

    /// The answers of `backend` for the records at `indices`: one listing,
    /// then a lookup per name it accepts, and an `unknown` answer for each
    /// name it refuses (`rejected`). No listing is made when it refuses
    /// every name.
    ///
    /// Each name is made once. The listing starts as soon as one name is
    /// accepted, and the others are checked while the multiplexer runs.
    static func answers(_ indices: [Int], name: @escaping @Sendable (Int) -> String, by backend: any SessionBackend) async -> GroupAnswers {
        var answers = GroupAnswers()
        var first = 0
        while first < indices.count, let refused = refusal(of: name(indices[first]), by: backend) {
            answers.rejected.append((indices[first], refused))
            first += 1
        }
        guard first < indices.count else { return answers }
        async let listed = backend.lookup()
        let rest = indices[first...]
        let parts = await inHalves(rest.count) { range -> NamedPart in
            var part = NamedPart()
            part.asked.reserveCapacity(range.count)
            part.names.reserveCapacity(range.count)
            for i in rest[(rest.startIndex + range.lowerBound)..<(rest.startIndex + range.upperBound)] {
                let name = name(i)
                if let refused = refusal(of: name, by: backend) {
                    part.rejected.append((i, refused))
                } else {
                    part.asked.append(i)
                    part.names.append(name)
                }
            }
            return part
        }
        let found = await listed
        answers.usage = found.listing.usage
        answers.found = await concurrently(parts) { part in
            var numbering = AnswerNumbering(reservingCapacity: part.names.count)
            for name in part.names { numbering.append(found.answer(name)) }
            return numbering
        }
        for part in parts {
            answers.asked += part.asked
            answers.rejected += part.rejected
        }
        return answers
    }

    /// Records of one group checked: the positions asked about and their
    /// names, in order, and the refused ones with their answers.
    struct NamedPart: Sendable {
        var asked: [Int] = []
        var names: [String] = []
        var rejected: [(Int, SessionProbe)] = []
    }

    /// The `unknown` answer for a name `backend` refuses; nil if it accepts it.
    static func refusal(of name: String, by backend: any SessionBackend) -> SessionProbe? {
        do throws(SessionNameError) {
            try backend.validate(name)
            return nil
        } catch {
            return .unknown(reason: "session name cannot be probed: \(error)")
        }
    }

    /// The decisions for `records` given the multiplexers' answers: pure,
    /// no I/O, the table of `decide` applied to each record.
    ///
    /// Most records of a big store share one answer ("not listed by tmux
    /// list-sessions ..."), so decisions are memoised on their inputs: the
    /// lines then share a handful of reason strings rather than one each.
    /// - Parameters:
    ///   - records: the records, in the order of `answers`.
    ///   - answers: what `probe(_:)` found for the same records.
    ///   - options: the expected CLI, lazy mode and the missing policy.
    public static func decisions<Record: RestorableRecord>(
        for records: [Record], answers: RestoreAnswers, options: RestoreOptions
    ) -> [SessionOutcome] {
        precondition(answers.count == records.count && answers.sessionNames.count == records.count,
                     "answers for another list of records")
        var lines: [SessionOutcome] = []
        lines.reserveCapacity(records.count)
        forEachDecision(for: records, in: records.indices, answers: answers, options: options) { i, decided in
            lines.append(SessionOutcome(id: records[i].id, backend: records[i].backend, backendSession: answers.sessionNames[i],
                                        probe: answers.state(at: i), action: decided.action, reason: decided.reason))
        }
        return lines
    }

    /// `decisions(for:answers:options:)` as compact lines: each line an
    /// action, an answer and the number of its decision, the id, backend
    /// and name read back from `store` and the answers when asked for.
    package static func compactDecisions(for records: IndexedRecordViews, answers: RestoreAnswers, options: RestoreOptions,
                                 reportedFrom store: StoreIndex, work: Int? = nil) async -> RestoreLines {
        // A big store in two halves at once, each numbering its own
        // reasons; the second half's numbers then follow the first's.
        let halves = await inHalves(records.count, work: work) { range -> (entries: [RestoreLines.Entry], reasons: [String]) in
            var entries: [RestoreLines.Entry] = []
            entries.reserveCapacity(range.count)
            var reasons: [String] = []
            forEachDecision(for: records, in: range, answers: answers, options: options) { i, decided in
                if decided.number == reasons.count { reasons.append(decided.reason) }
                entries.append(RestoreLines.Entry(reason: UInt32(decided.number), action: decided.action, probe: answers.state(at: i)))
            }
            return (entries, reasons)
        }
        var entries = halves[0].entries
        var reasons = halves[0].reasons
        for half in halves.dropFirst() {
            let offset = UInt32(reasons.count)
            let joined = entries.count
            entries += half.entries
            if offset > 0 {
                for k in joined..<entries.count { entries[k].reason += offset }
            }
            reasons += half.reasons
        }
        return RestoreLines(records: store, naming: options.naming, entries: entries, reasons: reasons)
    }

    /// One decision: the action, why, and its number among the distinct
    /// decisions of one call (numbered from 0 in the order they first occur).
    struct Decided {
        let action: RestoreAction
        let reason: String
        let number: Int
    }

    /// Calls `body` with each record's position and decision, in order.
    ///
    /// Most records of a big store share one answer ("not listed by tmux
    /// list-sessions ..."), so decisions are memoised on their inputs: the
    /// lines then share a handful of reason strings rather than one each.
    static func forEachDecision<Records: RecordsByPosition>(
        for records: Records, in range: Range<Int>, answers: RestoreAnswers, options: RestoreOptions, _ body: (Int, Decided) -> Void
    ) {
        precondition(range.isEmpty || (range.lowerBound >= 0 && range.upperBound <= min(answers.count, records.count)),
                     "answers for another list of records")
        var memo: [DecisionInputs: Decided] = [:]
        // The last record decided from its inputs: the record, its answer's
        // number, its inputs and its decision. (Apart, so that the shortcut
        // below copies no inputs: their answer's reason is one string for
        // every record, and both halves would count references to it.)
        var lastRecord: Records.Record?
        var lastNumber: UInt32 = 0
        var lastInputs: DecisionInputs?
        var lastDecided: Decided?
        /// The decision for `inputs`, made once.
        func decision(_ inputs: DecisionInputs) -> Decided {
            if let known = memo[inputs] { return known }
            let (action, reason) = decide(status: inputs.status, backend: inputs.backend, cliId: inputs.cliId, probe: inputs.probe,
                                          expectedCLI: options.expectedCLI, lazy: options.lazy, killedAt: inputs.killedAt,
                                          onMissing: options.onMissing)
            let decided = Decided(action: action, reason: reason, number: memo.count)
            memo[inputs] = decided
            return decided
        }
        // Skipped records are decided whatever else they say: a closed one,
        // an active non-persistent one (no member read, no inputs made).
        var skipClosed: Decided?
        var skipNonPersistent: Decided?
        for i in range {
            let (status, backend) = records.statusAndBackend(at: i)
            if status != .active {
                if skipClosed == nil { skipClosed = decision(DecisionInputs(status: .closed, backend: .tmux)) }
                body(i, skipClosed!)
                continue
            }
            if !backend.isPersistent {
                if skipNonPersistent == nil { skipNonPersistent = decision(DecisionInputs(status: .active, backend: .pty)) }
                body(i, skipNonPersistent!)
                continue
            }
            let record = records.record(at: i)
            // Neighbours mostly share their inputs: the same answer (by
            // number) and the same fields need no inputs made.
            let number = answers.numbers[i]
            if number == lastNumber, let lastRecord, let lastDecided, record.hasSameDecisionFields(as: lastRecord) {
                body(i, lastDecided)
                continue
            }
            let answer = answers.answer(at: i)
            let inputs = DecisionInputs(
                status: record.status, backend: record.backend, cliId: record.cliId, probe: answer,
                killedAt: answer?.state == .missing ? record.killedAt : nil)
            let decided: Decided
            if let lastDecided, lastInputs == inputs {
                // Comparing strings that share storage costs no hashing.
                decided = lastDecided
            } else {
                decided = decision(inputs)
            }
            (lastRecord, lastNumber, lastInputs, lastDecided) = (record, number, inputs, decided)
            body(i, decided)
        }
    }

    /// Kills, then worker launches, with bounded concurrency; then the registry.
    func execute(_ plan: inout Plan, store: StoreIndex) async {
        let providers = backends
        let lines = plan.lines
        let records = store.views
        if !plan.kills.isEmpty { options.onPhase?(.killing(sessions: plan.kills.count)) }
        let killResults = await bounded(plan.kills, limit: options.concurrency) { i -> String in
            let record = records[i]
            let backend = providers.backend(for: MultiplexerServer(record.backend, recordSocket: record.socket))
            return "\(await backend.kill(lines[i].backendSession))"
        }
        for (i, outcome) in killResults {
            plan.lines[i].reason += " (\(outcome))"
            let line = plan.lines[i]
            logger.warning(session: line.id, "killed \(line.backend) session \(line.backendSession): \(line.reason)")
        }
        let launcher = self.launcher
        if !plan.forks.isEmpty { options.onPhase?(.launching(workers: plan.forks.count)) }
        let forkResults = await bounded(plan.forks, limit: options.concurrency) { i -> WorkerLaunchResult in
            let record = records[i]
            return await launcher.launch(WorkerRequest(id: record.id, backend: record.backend,
                                                       backendSession: lines[i].backendSession, socket: record.socket))
        }
        for (i, result) in forkResults {
            let line = lines[i]
            switch result {
            case .launched(let pid):
                plan.lines[i].workerPID = pid
            case .notLaunched(let why):
                plan.lines[i].reason += "; no worker launched: \(why)"
                logger.warning(session: line.id, "no worker for \(line.backend) session \(line.backendSession): \(why)")
            case .refused(let why):
                // The record's values cannot be used safely: kept, as for unknown.
                plan.lines[i].action = .keep
                plan.lines[i].reason += "; kept without a worker: \(why)"
                logger.warning(session: line.id, "no worker for \(line.backend) session \(line.backendSession): \(why)")
            }
        }
        // Every active persistent record that was not closed stays registered.
        for i in plan.lines.indices where plan.lines.action(at: i) != .close && plan.lines.action(at: i) != .skip {
            let line = plan.lines[i]
            registry.register(SessionRegistry.Entry(id: line.id, backend: records[i].backend, backendSession: line.backendSession,
                                                    workerPID: line.workerPID))
        }
    }

    // MARK: - Wake

    /// The non-destructive path for run time: probe one session and launch a
    /// worker only if it `exists`. `missing` and `unknown` change nothing
    /// (no close, no fork); the caller decides what to do with the answer.
    public func wake(id: String, backend: BackendKind, backendSession: String? = nil, socket: String? = nil) async -> SessionOutcome {
        let name = backendSession ?? options.naming.name(forID: id)
        guard backend.isPersistent else {
            return SessionOutcome(id: id, backend: backend, backendSession: name, probe: nil, action: .skip, reason: "non-persistent backend (pty)")
        }
        let b = backends.backend(for: MultiplexerServer(backend, recordSocket: socket))
        do throws(SessionNameError) { try b.validate(name) } catch {
            return SessionOutcome(id: id, backend: backend, backendSession: name, probe: .unknown, action: .keep, reason: "session name cannot be probed: \(error)")
        }
        let probe = await b.probe(name).answer
        guard case .exists(let why) = probe else {
            return SessionOutcome(id: id, backend: backend, backendSession: name, probe: probe.state, action: .keep, reason: "not woken: \(probe.reason)")
        }
        var line = SessionOutcome(id: id, backend: backend, backendSession: name, probe: .exists, action: .fork, reason: "alive: \(why)")
        switch await launcher.launch(WorkerRequest(id: id, backend: backend, backendSession: name, socket: socket)) {
        case .launched(let pid):
            line.workerPID = pid
            registry.register(SessionRegistry.Entry(id: id, backend: backend, backendSession: name, workerPID: pid))
        case .notLaunched(let why):
            line.reason += "; no worker launched: \(why)"
        case .refused(let why):
            line.action = .keep
            line.reason += "; kept without a worker: \(why)"
        }
        return line
    }
}

/// What one listing group answered: the positions asked about and their
/// answers in the same order, and the positions refused before asking.
struct GroupAnswers: Sendable {
    var asked: [Int] = []
    /// The answers for `asked`, in order, in parts (made in parts, not
    /// copied into one array).
    var found: [AnswerNumbering] = []
    var rejected: [(Int, SessionProbe)] = []
    var usage = ChildrenUsage.none
}

/// Everything `Restorer.decide` reads from one record (the options are fixed per restore).
struct DecisionInputs: Hashable {
    var status: RecordStatus
    var backend: BackendKind
    var cliId: String? = nil
    var probe: SessionProbe? = nil
    var killedAt: String? = nil
}

/// One multiplexer server: a backend and, for tmux, the `-L` socket name.
/// tmux is the one backend with several servers per user; a record's
/// `socket` means nothing to zellij and herdr, so it is dropped for them
/// (their records form one group, whatever their `socket` says).
///
/// Sockets are compared by their UTF-8 bytes, as tmux names its socket
/// files: a precomposed and a decomposed "é" are two servers (String
/// equality would take them for one, and probe a record on one server
/// against the other's listing).
struct MultiplexerServer: Hashable, Sendable {
    let kind: BackendKind
    let socket: String?

    /// The server a record's `backend` and `socket` name.
    init(_ kind: BackendKind, recordSocket: String?) {
        self.kind = kind
        self.socket = kind == .tmux ? recordSocket : nil
    }

    static func == (a: MultiplexerServer, b: MultiplexerServer) -> Bool {
        a.kind == b.kind && sameSocket(a.socket, b.socket)
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(socket != nil)
        if let socket { for byte in socket.utf8 { hasher.combine(byte) } }
    }

    /// Whether two sockets are the same file name: both absent, or the same bytes.
    static func sameSocket(_ a: String?, _ b: String?) -> Bool {
        switch (a, b) {
        case (nil, nil): true
        case (let a?, let b?): a.utf8.elementsEqual(b.utf8)
        default: false
        }
    }
}

extension BackendProvider {
    /// The backend that answers for `server`.
    func backend(for server: MultiplexerServer) -> any SessionBackend {
        backend(for: server.kind, socket: server.socket)
    }
}

/// Records from which restore's passes over every record run in two halves
/// at once (on the cooperative pool, which has a thread per processor).
let halvesThreshold = 8_192

/// `body` over `0..<count`: in one call, or, when `work` (what the items
/// cost, in items; `count` by default) is `halvesThreshold` or more, in
/// two halves at once; the results in order. (Handing a half to another
/// thread and taking its result back costs about 0.1 ms.)
func inHalves<T: Sendable>(_ count: Int, work: Int? = nil, _ body: @escaping @Sendable (Range<Int>) -> T) async -> [T] {
    guard (work ?? count) >= halvesThreshold else { return [body(0..<count)] }
    return await concurrently([0..<(count / 2), (count / 2)..<count], body)
}

/// `body` over each of `items` (one or two: the parts `inHalves` made) at
/// once; the results in order.
func concurrently<T: Sendable, U: Sendable>(_ items: [T], _ body: @escaping @Sendable (T) -> U) async -> [U] {
    guard items.count == 2 else { return items.map(body) }
    async let first = body(items[0])
    let second = body(items[1])
    return [await first, second]
}

/// Runs `body` for each index with at most `limit` in flight; results in input order.
func bounded<T: Sendable>(_ indices: [Int], limit: Int, _ body: @escaping @Sendable (Int) async -> T) async -> [(Int, T)] {
    guard !indices.isEmpty else { return [] }
    return await withTaskGroup(of: (Int, T).self) { group in
        var next = 0
        var results: [(Int, T)] = []
        results.reserveCapacity(indices.count)
        while next < indices.count && next < limit {
            let i = indices[next]
            group.addTask { (i, await body(i)) }
            next += 1
        }
        for await r in group {
            results.append(r)
            if next < indices.count {
                let i = indices[next]
                group.addTask { (i, await body(i)) }
                next += 1
            }
        }
        return results.sorted { $0.0 < $1.0 }
    }
}
