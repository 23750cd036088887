// What one `restore --botmux` run found and did: one line per session, in
// store order, and a summary per bot.

public import VigilRestore
public import VigilStore

/// One session's line: the outcome Vigil's own restore reports, plus the
/// bot and the store file it belongs to.
public struct BotmuxSessionOutcome: Sendable, Hashable {
    /// The bot (the per-bot file's larkAppId, or the record's larkAppId in
    /// the legacy file); nil for a legacy record that names none.
    public var bot: String?
    /// The store file.
    public var store: String
    /// id, backend, backing session, probe, action, reason (workerPid is
    /// always nil: botmux re-attaches its own workers).
    public var outcome: SessionOutcome

    /// Creates a line.
    public init(bot: String?, store: String, outcome: SessionOutcome) {
        self.bot = bot
        self.store = store
        self.outcome = outcome
    }
}

/// One bot's part of the run.
public struct BotmuxBotSummary: Sendable, Hashable {
    /// The bot; nil for legacy records without a larkAppId.
    public var bot: String?
    /// The CLI its sessions are expected to run (bots.json `cliId`, default
    /// `claude-code`); nil when bots.json does not load the bot.
    public var expectedCLI: String?
    /// The store files holding its sessions.
    public var stores: [String]
    /// Its daemon's heartbeat when live ("heartbeat 3.2 s ago, pid 42"): a
    /// real run refuses to write then; nil when no daemon is live.
    public var liveDaemon: String?
    /// How many of its sessions got each action (every action present).
    public var totals: [RestoreAction: Int]

    /// Creates a summary.
    public init(bot: String?, expectedCLI: String?, stores: [String], liveDaemon: String?, totals: [RestoreAction: Int]) {
        self.bot = bot
        self.expectedCLI = expectedCLI
        self.stores = stores
        self.liveDaemon = liveDaemon
        self.totals = totals
    }
}

/// Everything one `restore --botmux` run did.
public struct BotmuxReport: Sendable {
    /// The data directory and how it was found.
    public var dataDirectory: BotmuxDataDirectory
    /// The bots configuration read (nil when there was none).
    public var botsConfiguration: String?
    /// One line per session, store by store (legacy `sessions.json` first),
    /// each store in its own order.
    public var sessions: [BotmuxSessionOutcome]
    /// One summary per bot, in order of first appearance.
    public var bots: [BotmuxBotSummary]
    /// Wall time of the whole run.
    public var elapsed: Duration
    /// True when nothing was changed (`--dry-run`).
    public var dryRun: Bool
    /// Listing calls made (one per backend).
    public var listingCalls: Int
    /// Things worth telling the user that are not per session.
    public var notices: [String]
    /// Stores that were to be written but were not (locked past the
    /// timeout, a daemon came up, a write failed), with why; the other
    /// stores were written. Empty after a complete run.
    public var failures: [StoreError] = []

    /// Creates a report.
    public init(dataDirectory: BotmuxDataDirectory, botsConfiguration: String?, sessions: [BotmuxSessionOutcome],
                bots: [BotmuxBotSummary], elapsed: Duration, dryRun: Bool, listingCalls: Int, notices: [String]) {
        self.dataDirectory = dataDirectory
        self.botsConfiguration = botsConfiguration
        self.sessions = sessions
        self.bots = bots
        self.elapsed = elapsed
        self.dryRun = dryRun
        self.listingCalls = listingCalls
        self.notices = notices
    }

    /// How many sessions got each action (every action present).
    public var totals: [RestoreAction: Int] {
        Self.count(sessions.map(\.outcome.action))
    }

    /// The report in Vigil's own shape (for shared rendering).
    public var restoreReport: RestoreReport {
        RestoreReport(sessions: sessions.map(\.outcome), elapsed: elapsed, dryRun: dryRun, listingCalls: listingCalls)
    }

    static func count(_ actions: [RestoreAction]) -> [RestoreAction: Int] {
        var totals: [RestoreAction: Int] = [:]
        for action in RestoreAction.allCases { totals[action] = 0 }
        for action in actions { totals[action, default: 0] += 1 }
        return totals
    }
}
