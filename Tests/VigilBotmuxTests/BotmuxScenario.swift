// The standard botmux installation of the end-to-end tests: three bots, the
// legacy file, heartbeats, hundreds of active records of every kind, and
// real tmux sessions for the ones that are alive.
import VigilJSON
@testable import VigilBotmux
import VigilTestSupport

struct BotmuxScenario {
    /// cli_a, tmux, claude-code, alive: keep.
    var alive: [String] = []
    /// cli_a, tmux, claude-code, missing: keep (default) or close.
    var missing: [String] = []
    /// cli_a, alive but runs codex: kill and close.
    var mismatchAlive = uuid(0xc000_0001, 1)
    /// cli_a, missing and ran codex: close.
    var mismatchMissing = uuid(0xc000_0002, 2)
    /// cli_a, missing, suspendedColdResume: keep under both policies.
    var suspended = uuid(0xc000_0003, 3)
    /// cli_a, no backendType (the bot's tmux applies), alive: keep.
    var botDefault = uuid(0xc000_0004, 4)
    /// cli_a, persistentBackendTarget names tmux session "custom-work", alive: keep.
    var customTarget = uuid(0xc000_0005, 5)
    /// Records that are skipped, with a fragment of the reason. Those with a
    /// live tmux session (and another CLI) would be killed if the rule failed.
    var skipped: [String: String] = [:]
    /// cli_b (codex): alive codex sessions, keep.
    var botB: [String] = []
    /// cli_b, alive but runs claude-code: kill and close.
    var botBMismatch = uuid(0xe100_0001, 1)
    /// cli_c, whose daemon is live.
    var botC: [String] = [uuid(0xf000_0001, 1), uuid(0xf000_0002, 2)]
    /// sessions.json: a copy of one of cli_a's records (superseded, skipped).
    var legacySuperseded = ""
    /// sessions.json: cli_a's record found only there, missing.
    var legacyOwn = uuid(0xa900_0001, 1)
    /// sessions.json: no larkAppId (no bot, no CLI check), runs codex, missing.
    var legacyNoBot = uuid(0xa900_0002, 2)

    /// Every tmux session that is alive at the start.
    var liveSessions: [String] {
        alive.map(BotmuxMapping.sessionName(forID:)) + botB.map(BotmuxMapping.sessionName(forID:))
            + [mismatchAlive, botDefault, botBMismatch, skippedAliveAdopted].map(BotmuxMapping.sessionName(forID:)) + ["custom-work"]
    }

    var skippedAliveAdopted = uuid(0xd000_0002, 2)

    /// Builds it in `world`: `aliveCount` live sessions and `missingCount`
    /// gone ones for cli_a, besides the special records.
    static func build(in world: BotmuxWorld, aliveCount: Int = 30, missingCount: Int = 270) async throws -> BotmuxScenario {
        var s = BotmuxScenario()
        typealias W = BotmuxWorld
        s.alive = (0..<aliveCount).map { uuid(0xa000_0000 + UInt32($0), $0) }
        s.missing = (0..<missingCount).map { uuid(0xb000_0000 + UInt32($0), $0) }
        s.botB = (0..<5).map { uuid(0xe000_0000 + UInt32($0), $0) }
        s.legacySuperseded = s.missing[0]

        var a: [JSONObject] = []
        for id in s.alive + s.missing { a.append(W.session(id, bot: "cli_a")) }
        a.append(W.session(s.mismatchAlive, bot: "cli_a", cli: "codex"))
        a.append(W.session(s.mismatchMissing, bot: "cli_a", cli: "codex", ["queuedActivationTail": .array([])]))
        a.append(W.session(s.suspended, bot: "cli_a", ["suspendedColdResume": .bool(true)]))
        a.append(W.session(s.botDefault, bot: "cli_a", backend: nil))
        a.append(W.session(s.customTarget, bot: "cli_a", [
            "persistentBackendTarget": .object(["backendType": .string("tmux"), "sessionName": .string("custom-work")]),
        ]))
        let skips: [(JSONObject, String, String?, String?, String)] = [
            (["closedAt": .string("2026-11-19T10:00:00.000Z")], "closed", "codex", "tmux", "record is closed"),
            (["adoptedFrom": .object(["cwd": .string("/src"), "cliId": .string("codex"), "originalCliPid": .integer(77)])],
             "active", "codex", "tmux", "adopted session (adoptedFrom)"),
            (["title": .string("Adopt: legacy")], "active", "codex", "tmux", "title starts with \"Adopt:\""),
            (["queued": .bool(true), "queuedPrompt": .string("later")], "active", "codex", "tmux", "queued session"),
            (["deferredScheduleRun": .object(["scheduleId": .string("s1")])], "active", "codex", "tmux", "deferred schedule run"),
            (["restoreQuarantinedAt": .string("2026-11-20T10:00:00.000Z")], "active", "codex", "tmux", "quarantined"),
            (["mojoCloseJournal": .object(["phase": .string("preparing"), "requestId": .string("r")])], "active", "codex", "tmux", "Mojo close journal"),
            (["queuedActivationPending": .bool(true)], "active", "codex", "tmux", "activation pending"),
            (["queuedActivationTail": .array([.object(["order": .integer(1)])])], "active", "codex", "tmux", "queuedActivationTail"),
            (["pendingRepoSetup": .object(["rawInput": .string("go")])], "active", "codex", "tmux", "pendingRepoSetup"),
            (["codexAppDispatchLedger": .array([.object(["turnId": .string("t1")])])], "active", "codex", "tmux", "codexAppDispatchLedger"),
            ([:], "active", "codex", "pty", "non-persistent backend (pty)"),
            ([:], "active", "codex", "zmx", "zmx backend"),
            (["persistentBackendTarget": .object(["backendType": .string("herdr"), "sessionName": .string("host"), "agentName": .string("agent-1")])],
             "active", "codex", "herdr", "herdr agent"),
        ]
        for (index, (extra, status, cli, backend, fragment)) in skips.enumerated() {
            let id = uuid(0xd000_0001 + UInt32(index), index + 1)
            a.append(W.session(id, bot: "cli_a", cli: cli, backend: backend, status: status, extra))
            s.skipped[id] = fragment
        }
        try await world.writeStore("sessions-cli_a.json", a)

        var b: [JSONObject] = s.botB.map { W.session($0, bot: "cli_b", cli: "codex") }
        b.append(W.session(s.botBMismatch, bot: "cli_b", cli: "claude-code"))
        let noBackend = uuid(0xe200_0001, 1)
        b.append(W.session(noBackend, bot: "cli_b", cli: "codex", backend: nil))
        s.skipped[noBackend] = "no persistent backend recorded"
        try await world.writeStore("sessions-cli_b.json", b)

        try await world.writeStore("sessions-cli_c.json", s.botC.map { W.session($0, bot: "cli_c") })

        var superseded = W.session(s.legacySuperseded, bot: "cli_a", cli: "codex")
        superseded["title"] = .string("an older copy")
        try await world.writeStore("sessions.json", [
            superseded,
            W.session(s.legacyOwn, bot: "cli_a"),
            W.session(s.legacyNoBot, bot: nil, cli: "codex"),
        ])
        s.skipped[s.legacySuperseded + "@legacy"] = "superseded"

        try world.writeBots([
            ["larkAppId": .string("cli_a"), "larkAppSecret": .string("x"), "cliId": .string("claude-code"), "backendType": .string("tmux")],
            ["larkAppId": .string("cli_b"), "larkAppSecret": .string("x"), "cliId": .string("codex")],
            ["larkAppId": .string("cli_c"), "larkAppSecret": .string("x")],
        ])
        try world.heartbeat("cli_a", age: 600_000)
        try world.heartbeat("cli_c", age: 5_000, pid: 4711)

        try await world.createSessions(s.liveSessions)
        return s
    }
}
