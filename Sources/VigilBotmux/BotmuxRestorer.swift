// `restore --botmux`: every store of a botmux data directory in one run,
// read as botmux keeps it, probed with one listing per backend, decided per
// record, and written back in place as botmux would write it.
//
// The order of a run, and why:
// 1. Find the data directory, the bots and the store files; parse every
//    store. A bad store is refused (exit 65) before anything happens.
// 2. Read the daemons' heartbeats. A bot whose daemon is live keeps its
//    whole store in memory and rewrites it on its next save, so a real run
//    refuses (exit 75) before probing anything; a dry run reports.
// 3. Map each record (BotmuxMapping) and probe: one listing per backend,
//    the default tmux server (no -L/-S: TMUX_TMPDIR picks the socket
//    directory, as for botmux), no lock held.
// 4. Decide each record (BotmuxDecision).
// 5. Kill the backing sessions that run another CLI than their bot's, no
//    lock held. As in botmux, a record is closed only when its kill worked:
//    a failed kill keeps it active, so no live CLI is left without a record.
// 6. Commit, store by store: check the heartbeat again, take the lock,
//    re-read, apply each close only to a record byte for byte as it was
//    decided from, write, rename, release (BotmuxRestorer+Commit.swift).

import VigilCore
import VigilBackends
public import VigilRestore
public import VigilStore
import VigilJSON

/// Knobs of one botmux restore.
public struct BotmuxRestoreOptions: Sendable {
    /// The data directory; nil: botmux's discovery rule.
    public var dataDirectory: String?
    /// Only this bot's store (and its records in the legacy file).
    public var bot: String?
    /// What a missing session does: `keep` (default: the daemon cold-resumes
    /// it) or `close`.
    public var onMissing: MissingPolicy
    /// Decide and report; no write, no kill, no lock file.
    public var dryRun: Bool
    /// Kills in flight at once.
    public var concurrency: Int
    /// How long to wait for a store's lock.
    public var lockTimeout: Duration
    /// Refuse to write a store file with other hard links (by default it is
    /// written, with a notice that the other names keep the old version).
    public var strictLinks: Bool

    /// The defaults: discovery, every bot, keep missing sessions, 16 at
    /// once, 5 s lock wait (botmux's own `MAX_WAIT_MS`).
    public init(dataDirectory: String? = nil, bot: String? = nil, onMissing: MissingPolicy = .keep,
                dryRun: Bool = false, concurrency: Int = 16, lockTimeout: Duration = .seconds(5), strictLinks: Bool = false) {
        self.dataDirectory = dataDirectory
        self.bot = bot
        self.onMissing = onMissing
        self.dryRun = dryRun
        self.concurrency = max(1, concurrency)
        self.lockTimeout = lockTimeout
        self.strictLinks = strictLinks
    }
}

/// Restores a botmux data directory in place.
public struct BotmuxRestorer: Sendable {
    /// The run's knobs.
    public var options: BotmuxRestoreOptions
    /// Environment variables and working directory for botmux's discovery.
    public var environment: BotmuxEnvironment
    /// Makes the backends; tmux is asked on its default server.
    public var backends: any BackendProvider
    /// Where events go.
    public var logger: RestoreLogger
    /// Milliseconds since the epoch: heartbeat ages and `closedAt`.
    public var now: @Sendable () -> Int64

    /// Creates a restorer.
    public init(
        options: BotmuxRestoreOptions = BotmuxRestoreOptions(),
        environment: BotmuxEnvironment,
        backends: any BackendProvider,
        logger: RestoreLogger = .standardError,
        now: @escaping @Sendable () -> Int64 = BotmuxRestorer.wallClock
    ) {
        self.options = options
        self.environment = environment
        self.backends = backends
        self.logger = logger
        self.now = now
    }

    /// Milliseconds since the epoch from CLOCK_REALTIME, as JavaScript's
    /// `Date.now()` reads them (heartbeats are compared with it).
    public static let wallClock: @Sendable () -> Int64 = { BotmuxSystem.nowMilliseconds() }

    /// A store and where it came from.
    struct Loaded {
        var file: BotmuxStoreFile
        var store: BotmuxStore
    }

    /// One record in the run.
    struct Entry {
        var store: Int
        var record: Int
        var bot: String?
        var mapped: BotmuxMapped
    }

    // MARK: - The run

    /// Runs one restore.
    /// - Returns: the report, one line per session. A store that could not
    ///   be written (its lock held past the timeout, its daemon came up, a
    ///   write failed) is left untouched and listed in `failures`; the other
    ///   stores are written.
    /// - Throws: `StoreError`: `.notFound` (66) for a missing data directory,
    ///   store or `$BOTS_CONFIG` file; `.invalidData` (65) for a store or
    ///   bots.json that is not valid; `.locked` (75) when a bot's daemon is
    ///   live (not with `dryRun`); `.cannotWrite` (73) when a store cannot be
    ///   read. Nothing has been killed or written when it throws.
    public func restore() async throws(StoreError) -> BotmuxReport {
        let clock = ContinuousClock()
        let start = clock.now
        var notices: [String] = []

        // 1. Where things are, and every store parsed.
        let directory = BotmuxDataDirectory.locate(explicit: options.dataDirectory, environment: environment)
        var files = try BotmuxStoreFile.list(in: directory.path)
        let botsLocation = BotmuxBotsLocation.locate(environment: environment)
        let bots = try BotmuxBots.load(botsLocation)
        if bots.path == nil {
            notices.append("no bots configuration at \(botsLocation.path): no CLI checks, and sessions without a backendType are skipped")
        }
        if let only = options.bot {
            files = files.filter { $0.isLegacy || $0.larkAppId == only }
        }
        var loaded: [Loaded] = []
        for file in files {
            let bytes = try StoreFile(path: file.path).readBytes()
            loaded.append(Loaded(file: file, store: try BotmuxStore(parsing: bytes, path: file.path)))
        }
        let entries = self.entries(loaded, bots: bots)
        if files.isEmpty || (options.bot != nil && entries.isEmpty && !loaded.contains { !$0.file.isLegacy }) {
            let what = options.bot.map { "no store of bot \($0) (sessions-\($0).json, or its records in sessions.json)" }
                ?? "no botmux session store (sessions-<larkAppId>.json or sessions.json)"
            throw StoreError(.notFound, path: directory.path, message: "\(what) in this data directory (\(directory.source.rawValue))")
        }

        // 2. Live daemons.
        let daemons = BotmuxDaemons.read(dataDirectory: directory.path)
        let scope = botsInScope(loaded, entries)
        let moment = now()
        var live: [String: BotmuxHeartbeat] = [:]
        for bot in scope { if let beat = daemons.live(bot, now: moment) { live[bot] = beat } }
        if !options.dryRun && !live.isEmpty {
            throw liveDaemonError(live, loaded: loaded, now: moment)
        }

        // 3 and 4. Probe and decide.
        var (lines, listingCalls) = await probeAndDecide(entries, loaded: loaded, bots: bots)

        var failures: [StoreError] = []
        if !options.dryRun {
            // 5. Kills (no lock held), then 6. the commit.
            let closable = await kill(entries, lines: &lines)
            if !closable.isEmpty {
                failures = await commit(closable, entries: entries, loaded: loaded, dataDirectory: directory.path, lines: &lines)
            }
        }
        for (entry, line) in zip(entries, lines) {
            log(line.outcome, store: loaded[entry.store].file.path)
        }
        let summaries = summarize(entries, lines: lines, loaded: loaded, bots: bots, live: live, now: moment)
        var report = BotmuxReport(dataDirectory: directory, botsConfiguration: bots.path, sessions: lines, bots: summaries,
                                  elapsed: clock.now - start, dryRun: options.dryRun, listingCalls: listingCalls, notices: notices)
        report.failures = failures
        return report
    }

    /// Every record of the run, in store order, with its bot and mapping.
    func entries(_ loaded: [Loaded], bots: BotmuxBots) -> [Entry] {
        var perBotKeys: [String: BotmuxStore] = [:]
        for item in loaded { if let bot = item.file.larkAppId { perBotKeys[bot] = item.store } }
        var entries: [Entry] = []
        for (storeIndex, item) in loaded.enumerated() {
            for (recordIndex, record) in item.store.records.enumerated() {
                let bot = item.file.larkAppId ?? record[.larkAppId]?.stringValue
                if item.file.isLegacy, let only = options.bot, bot != only { continue }
                var mapped = BotmuxMapping.map(record, fileBot: item.file.larkAppId, bot: bot.flatMap { bots[$0] })
                if item.file.isLegacy, let bot, let own = perBotKeys[bot], own.record(matching: record) != nil {
                    mapped.target = .skip("superseded: bot \(bot)'s own store sessions-\(bot).json holds this session (botmux no longer reads this copy)")
                }
                entries.append(Entry(store: storeIndex, record: recordIndex, bot: bot, mapped: mapped))
            }
        }
        return entries
    }

    /// The bots whose daemon could rewrite a store this run may write.
    func botsInScope(_ loaded: [Loaded], _ entries: [Entry]) -> [String] {
        var seen = Set<String>()
        var order: [String] = []
        for bot in loaded.compactMap(\.file.larkAppId) + entries.compactMap(\.bot) where seen.insert(bot).inserted {
            order.append(bot)
        }
        return order
    }

    func liveDaemonError(_ live: [String: BotmuxHeartbeat], loaded: [Loaded], now: Int64) -> StoreError {
        let names = live.keys.sorted()
        let parts = names.map { "bot \($0)'s daemon is live (\(live[$0]!.describe(now: now)))" }
        let store = loaded.first { $0.file.larkAppId == names[0] }?.file.path
            ?? loaded.first?.file.path ?? ""
        return StoreError(.locked, path: store, message: parts.joined(separator: "; ")
            + ": a live daemon keeps its store in memory and rewrites it on its next save; stop it first (or look with --dry-run)")
    }

    // MARK: - Probing and deciding

    func probeAndDecide(_ entries: [Entry], loaded: [Loaded], bots: BotmuxBots) async -> ([BotmuxSessionOutcome], Int) {
        var wanted: [BackendKind: [(Int, String)]] = [:]
        var answers = [SessionProbe?](repeating: nil, count: entries.count)
        // One backend per kind for the whole run (making one snapshots the
        // environment: never per record).
        var made: [BackendKind: any SessionBackend] = [:]
        for (index, entry) in entries.enumerated() {
            guard case .probe(let kind, let name) = entry.mapped.target else { continue }
            let backend = made[kind] ?? backends.backend(for: kind, socket: nil)
            made[kind] = backend
            do throws(SessionNameError) {
                try backend.validate(name)
                wanted[kind, default: []].append((index, name))
            } catch {
                answers[index] = .unknown(reason: "session name cannot be probed: \(error)")
            }
        }
        let listed = await withTaskGroup(of: [(Int, SessionProbe)].self) { group in
            for (kind, names) in wanted {
                let backend = made[kind]!
                group.addTask {
                    let found = await backend.lookup()
                    return names.map { ($0.0, found.answer($0.1)) }
                }
            }
            var all: [(Int, SessionProbe)] = []
            for await batch in group { all += batch }
            return all
        }
        for (index, probe) in listed { answers[index] = probe }

        var lines: [BotmuxSessionOutcome] = []
        lines.reserveCapacity(entries.count)
        for (index, entry) in entries.enumerated() {
            let item = loaded[entry.store]
            let record = item.store.records[entry.record]
            var outcome = SessionOutcome(id: record.id, backend: entry.mapped.backend, backendSession: entry.mapped.backendSession,
                                         probe: nil, action: .skip, reason: "")
            switch entry.mapped.target {
            case .skip(let why):
                outcome.reason = why
            case .probe:
                let probe = answers[index] ?? .unknown(reason: "not probed")
                let decided = BotmuxDecision.decide(
                    probe: probe, recordCLI: record[.cliId]?.stringValue,
                    expectedCLI: entry.bot.flatMap { bots[$0] }?.cliId,
                    suspended: record[.suspendedColdResume]?.isTruthy == true, onMissing: options.onMissing)
                outcome.probe = probe.state
                outcome.action = decided.action
                outcome.reason = decided.reason
            }
            lines.append(BotmuxSessionOutcome(bot: entry.bot, store: item.file.path, outcome: outcome))
        }
        return (lines, wanted.count)
    }

    // MARK: - Kills

    /// Kills the backing sessions of `kill` decisions, at most
    /// `concurrency` at once, and returns the entries whose record is to be
    /// closed: every `close`, and every `kill` whose session is now gone. A
    /// failed kill turns its line into `keep`, record untouched.
    func kill(_ entries: [Entry], lines: inout [BotmuxSessionOutcome]) async -> [Int] {
        let targets: [(Int, BackendKind, String)] = entries.indices.compactMap { index in
            guard lines[index].outcome.action == .kill, case .probe(let kind, let name) = entries[index].mapped.target else { return nil }
            return (index, kind, name)
        }
        var made: [BackendKind: any SessionBackend] = [:]
        for (_, kind, _) in targets where made[kind] == nil { made[kind] = backends.backend(for: kind, socket: nil) }
        let killers = made
        let limit = options.concurrency
        let results = await withTaskGroup(of: (Int, KillResult).self) { group in
            var next = 0
            var results: [Int: KillResult] = [:]
            func start(_ group: inout TaskGroup<(Int, KillResult)>) {
                let (index, kind, name) = targets[next]
                next += 1
                let backend = killers[kind]!
                group.addTask { (index, await backend.kill(name)) }
            }
            while next < targets.count && next < limit { start(&group) }
            for await (index, result) in group {
                results[index] = result
                if next < targets.count { start(&group) }
            }
            return results
        }
        var closable: [Int] = []
        for index in entries.indices {
            switch lines[index].outcome.action {
            case .close:
                closable.append(index)
            case .kill:
                guard let result = results[index] else { continue }
                if result.succeeded {
                    lines[index].outcome.reason += " (\(result))"
                    closable.append(index)
                } else {
                    lines[index].outcome.action = .keep
                    lines[index].outcome.reason += "; but the kill did not succeed (\(result)): record kept active for the daemon to settle"
                }
            default:
                break
            }
        }
        return closable
    }

    // MARK: - Report

    func summarize(_ entries: [Entry], lines: [BotmuxSessionOutcome], loaded: [Loaded], bots: BotmuxBots,
                   live: [String: BotmuxHeartbeat], now: Int64) -> [BotmuxBotSummary] {
        var order: [String?] = []
        var stores: [String?: [String]] = [:]
        var actions: [String?: [RestoreAction]] = [:]
        func note(_ bot: String?, _ store: String) {
            if stores[bot] == nil { order.append(bot); stores[bot] = [] }
            if !stores[bot]!.contains(store) { stores[bot]!.append(store) }
        }
        for item in loaded where !item.file.isLegacy { note(item.file.larkAppId, item.file.path) }
        for (entry, line) in zip(entries, lines) {
            note(entry.bot, line.store)
            actions[entry.bot, default: []].append(line.outcome.action)
        }
        return order.map { bot in
            BotmuxBotSummary(bot: bot, expectedCLI: bot.flatMap { bots[$0] }?.cliId, stores: stores[bot] ?? [],
                             liveDaemon: bot.flatMap { live[$0] }?.describe(now: now),
                             totals: BotmuxReport.count(actions[bot] ?? []))
        }
    }

    func log(_ outcome: SessionOutcome, store: String) {
        let verb: String
        switch outcome.action {
        case .close: verb = options.dryRun ? "would close" : "closed"
        case .kill: verb = options.dryRun ? "would kill and close" : "killed and closed"
        case .keep where outcome.probe == .unknown: verb = "kept"
        default: return
        }
        logger.emit(RestoreEvent(level: .warning, sessionID: outcome.id,
                                 message: "\(verb) \(outcome.backend) session \(outcome.backendSession) of \(store): \(outcome.reason)"))
    }
}
