// `vigil restore --botmux` end to end: the built binary on a real botmux
// data directory (BotmuxScenario) against a real tmux default server under a
// private TMUX_TMPDIR, checking its stdout, stderr, exit status, the files
// and the tmux sessions afterwards.
import Testing
import VigilCore
import VigilJSON
@testable import VigilBotmux
import VigilTestSupport

/// The --json report, decoded enough for the assertions.
struct ParsedReport {
    struct Line {
        var id: String
        var bot: String?
        var store: String
        var backend: String
        var backendSession: String
        var probe: String?
        var action: String
        var reason: String

        /// "bot backend session probe action", for one-line comparisons.
        var summary: String { "\(bot ?? "-") \(backend) \(backendSession) \(probe ?? "-") \(action)" }
    }

    var lines: [Line]
    var document: JSONObject

    init(_ text: String) throws {
        guard case .object(let doc) = try JSONValue.parse(text) else { throw TestFailure("not an object: \(text)") }
        document = doc
        lines = (doc["sessions"]?.arrayValue ?? []).compactMap { value -> Line? in
            guard let o = value.objectValue else { return nil }
            return Line(id: o["id"]?.stringValue ?? "", bot: o["bot"]?.stringValue, store: o["store"]?.stringValue ?? "",
                        backend: o["backend"]?.stringValue ?? "", backendSession: o["backendSession"]?.stringValue ?? "",
                        probe: o["probe"]?.stringValue, action: o["action"]?.stringValue ?? "", reason: o["reason"]?.stringValue ?? "")
        }
    }

    /// The line of `id` in store file `store` (a name like sessions-cli_a.json).
    func line(_ id: String, in store: String = "sessions-cli_a.json") -> Line? {
        lines.first { $0.id == id && $0.store.hasSuffix("/" + store) }
    }

    /// The per-bot summary of `bot` (nil: the legacy records without a bot).
    func bot(_ bot: String?) -> JSONObject? {
        document["bots"]?.arrayValue?.compactMap(\.objectValue).first { $0["bot"]?.stringValue == bot }
    }
}

@Suite("vigil restore --botmux, end to end", .serialized, .timeLimit(.minutes(3)))
struct BotmuxCLITests {
    // MARK: - Report and refusals (nothing written)

    @Test("dry run: every store read, every skip rule reported, the decisions per bot, nothing changed")
    func dryRunReport() async throws {
        let world = try await BotmuxWorld.make()
        let s = try await BotmuxScenario.build(in: world)
        let before = try world.snapshot()
        let o = await world.vigil(["restore", "--botmux", world.data, "--dry-run", "--json"])
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        let report = try ParsedReport(o.stdout.text)
        #expect(report.document["dryRun"] == .bool(true))
        #expect(report.lines.count == s.alive.count + s.missing.count + 5 + 14 + 7 + 2 + 3)

        for id in s.alive {
            let line = report.line(id)
            #expect(line?.probe == "exists" && line?.action == "keep" && line?.bot == "cli_a")
        }
        for id in s.missing {
            let line = report.line(id)
            #expect(line?.probe == "missing" && line?.action == "keep")
            #expect(line?.reason.hasPrefix("missing; the daemon will cold-resume it") == true)
        }
        #expect(report.line(s.mismatchAlive)?.action == "kill")
        #expect(report.line(s.mismatchMissing)?.action == "close")
        #expect(report.line(s.suspended)?.action == "keep")
        #expect(report.line(s.botDefault)?.summary == "cli_a tmux \(BotmuxMapping.sessionName(forID: s.botDefault)) exists keep")
        #expect(report.line(s.customTarget)?.summary == "cli_a tmux custom-work exists keep")
        for (key, fragment) in s.skipped {
            let legacy = key.hasSuffix("@legacy")
            let id = legacy ? String(key.dropLast("@legacy".count)) : key
            let store = legacy ? "sessions.json" : (fragment.contains("no persistent backend") ? "sessions-cli_b.json" : "sessions-cli_a.json")
            let line = report.line(id, in: store)
            #expect(line?.action == "skip" && line?.probe == nil, "\(id)")
            #expect(line?.reason.contains(fragment) == true, "\(id): \(line?.reason ?? "no line")")
        }
        for id in s.botB { #expect(report.line(id, in: "sessions-cli_b.json")?.action == "keep") }
        #expect(report.line(s.botBMismatch, in: "sessions-cli_b.json")?.action == "kill")
        #expect(report.line(s.legacyOwn, in: "sessions.json")?.summary == "cli_a tmux \(BotmuxMapping.sessionName(forID: s.legacyOwn)) missing keep")
        let noBot = report.line(s.legacyNoBot, in: "sessions.json")
        #expect(noBot?.bot == nil && noBot?.probe == "missing" && noBot?.action == "keep")
        for id in s.botC { #expect(report.line(id, in: "sessions-cli_c.json")?.bot == "cli_c") }

        // Per bot: the expected CLI, the live daemon, the totals.
        #expect(report.bot("cli_a")?["expectedCli"] == .string("claude-code"))
        #expect(report.bot("cli_a")?["liveDaemon"] == .null)
        #expect(report.bot("cli_b")?["expectedCli"] == .string("codex"))
        #expect(report.bot("cli_c")?["liveDaemon"]?.stringValue?.contains("pid 4711") == true)
        #expect(report.bot("cli_b")?["totals"]?["kill"] == .integer(1))

        // Nothing changed: files, lock files, tmux sessions.
        #expect(try world.snapshot() == before)
        let live = await world.liveSessions()
        for name in s.liveSessions { #expect(live.contains(name), "\(name)") }
    }

    @Test("a live daemon is refused with exit 75 naming the bot and its heartbeat's age; nothing probed, killed or written")
    func liveDaemonRefused() async throws {
        let world = try await BotmuxWorld.make()
        let s = try await BotmuxScenario.build(in: world, aliveCount: 3, missingCount: 3)
        let before = try world.snapshot()
        let o = await world.vigil(["restore", "--botmux", world.data])
        #expect(o.termination == .exited(75))
        let lines = o.stderr.text.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("Error: "), "\(o.stderr.text)")
        #expect(o.stderr.text.contains("bot cli_c's daemon is live (heartbeat ") && o.stderr.text.contains(" s ago, pid 4711)"))
        #expect(o.stdout.text.isEmpty)
        #expect(try world.snapshot() == before)
        #expect(await world.liveSessions().contains(BotmuxMapping.sessionName(forID: s.mismatchAlive)))

        // The same for the one bot (--bot), and a stale heartbeat does not count.
        #expect(await world.vigil(["restore", "--botmux", world.data, "--bot", "cli_c"]).termination == .exited(75))
        try world.heartbeat("cli_c", age: 90_500)
        let dry = await world.vigil(["restore", "--botmux", world.data, "--bot", "cli_c", "--dry-run", "--json"])
        #expect(dry.termination == .exited(0))
        #expect(try ParsedReport(dry.stdout.text).bot("cli_c")?["liveDaemon"] == .null)
    }

    @Test("--on-missing close decides close for missing sessions, keep for a suspended one; --bot limits the run to one bot")
    func closePolicyAndOneBot() async throws {
        let world = try await BotmuxWorld.make()
        let s = try await BotmuxScenario.build(in: world, aliveCount: 2, missingCount: 5)
        let o = await world.vigil(["restore", "--botmux=\(world.data)", "--bot", "cli_a", "--on-missing", "close", "--dry-run", "--json"])
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        let report = try ParsedReport(o.stdout.text)
        for id in s.missing.dropFirst() { #expect(report.line(id)?.action == "close") }
        #expect(report.line(s.suspended)?.action == "keep")
        #expect(report.line(s.legacyOwn, in: "sessions.json")?.action == "close")
        #expect(report.line(s.legacyNoBot, in: "sessions.json") == nil, "not cli_a's")
        #expect(report.lines.allSatisfy { $0.bot == "cli_a" })
        #expect(report.bot("cli_c") == nil)
    }

    // MARK: - Discovery from the command line

    @Test("without DIR: SESSION_DATA_DIR, then the breadcrumb, then ~/.botmux/data")
    func discovery() async throws {
        let world = try await BotmuxWorld.make()
        _ = try await BotmuxScenario.build(in: world, aliveCount: 1, missingCount: 1)
        let args = ["restore", "--botmux", "--bot", "cli_a", "--dry-run", "--json"]

        let viaEnv = await world.vigil(args, ["SESSION_DATA_DIR": world.data])
        #expect(viaEnv.termination == .exited(0), "\(viaEnv.stderr.text)")
        #expect(try ParsedReport(viaEnv.stdout.text).document["dataDirectory"]?["source"] == .string("SESSION_DATA_DIR"))

        try writeFile(world.home + "/.botmux/.data-dir", world.data + "\n")
        let viaCrumb = await world.vigil(args)
        #expect(viaCrumb.termination == .exited(0), "\(viaCrumb.stderr.text)")
        #expect(try ParsedReport(viaCrumb.stdout.text).document["dataDirectory"]?["path"] == .string(world.data))

        try writeFile(world.home + "/.botmux/.data-dir", "relative/path")
        let fallback = await world.vigil(args)
        #expect(fallback.termination == .exited(66), "no ~/.botmux/data here")
        #expect(fallback.stderr.text.contains(world.home + "/.botmux/data"))
    }

    @Test("BOTS_CONFIG names the bots file; without any bots file there is no CLI check (and a notice)")
    func botsConfig() async throws {
        let world = try await BotmuxWorld.make()
        let s = try await BotmuxScenario.build(in: world, aliveCount: 1, missingCount: 1)
        let fleet = try world.root.write("fleet.json", #"[{"larkAppId":"cli_a","larkAppSecret":"x","cliId":"codex","backendType":"tmux"}]"#)
        let o = await world.vigil(["restore", "--botmux", world.data, "--bot", "cli_a", "--dry-run", "--json"], ["BOTS_CONFIG": fleet])
        let report = try ParsedReport(o.stdout.text)
        #expect(report.line(s.mismatchAlive)?.action == "keep", "codex is now the bot's CLI")
        #expect(report.line(s.alive[0])?.action == "kill", "claude-code sessions now mismatch")

        removeTree(world.home + "/.botmux/bots.json")
        let none = await world.vigil(["restore", "--botmux", world.data, "--bot", "cli_a", "--dry-run", "--json"])
        let bare = try ParsedReport(none.stdout.text)
        #expect(bare.line(s.mismatchAlive)?.action == "keep")
        #expect(bare.line(s.botDefault)?.action == "skip", "no bot backendType without bots.json")
        #expect(none.stderr.text.contains("no bots configuration"))

        let missing = await world.vigil(["restore", "--botmux", world.data, "--dry-run"], ["BOTS_CONFIG": world.root.file("gone.json")])
        #expect(missing.termination == .exited(66))
    }

    // MARK: - Usage and data errors

    @Test("usage errors exit 64 with one line", arguments: [
        ["--botmux", "--worker", "node w.js"], ["--botmux", "--store", "/x"], ["--botmux", "--expect-cli", "codex"],
        ["--botmux", "--lazy"], ["--botmux", "--create"], ["--botmux", "--worker-log", "/tmp/l"], ["--botmux", "--worker-env", "A=1"], ["--botmux", "--worker-env-clear"],
        ["--bot", "cli_a", "--store", "/x"], ["--botmux", "--on-missing", "drop"], ["--store", "/x", "--on-missing", "maybe"],
        ["--botmux", "a", "b"], ["--botmux", "--bot", ""], ["--botmux="], ["--botmux", "--lock", "flock"],
    ])
    func usage(args: [String]) async {
        let o = await VigilBinary.runAsync(["restore"] + args)
        #expect(o.termination == .exited(64))
        let lines = o.stderr.text.split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.hasPrefix("Error: ") == true, "\(o.stderr.text)")
        #expect(o.stdout.text.isEmpty)
    }

    @Test("a store whose key is not its sessionId is refused with exit 65 naming the key; nothing written")
    func badStore() async throws {
        let world = try await BotmuxWorld.make()
        _ = try await BotmuxScenario.build(in: world, aliveCount: 1, missingCount: 1)
        try writeFile(world.data + "/sessions-cli_b.json", "{\n  \"k1\": {\n    \"sessionId\": \"k2\"\n  }\n}")
        let before = try world.snapshot()
        let o = await world.vigil(["restore", "--botmux", world.data, "--on-missing", "close"])
        #expect(o.termination == .exited(65))
        #expect(o.stderr.text.contains("sessions-cli_b.json: line 2, column 3: key \"k1\" holds a session whose sessionId is \"k2\""), "\(o.stderr.text)")
        #expect(try world.snapshot() == before)

        try writeFile(world.data + "/sessions-cli_b.json", "[]")
        let array = await world.vigil(["restore", "--botmux", world.data, "--dry-run"])
        #expect(array.termination == .exited(65))
        #expect(array.stderr.text.contains("is an array"))
    }

    @Test("a missing data directory, or a bot without a store, is exit 66")
    func notFound() async throws {
        let world = try await BotmuxWorld.make()
        #expect(await world.vigil(["restore", "--botmux", world.root.file("nope"), "--dry-run"]).termination == .exited(66))
        #expect(await world.vigil(["restore", "--botmux", world.data, "--dry-run"]).termination == .exited(66), "an empty data directory")
        _ = try await BotmuxScenario.build(in: world, aliveCount: 1, missingCount: 1)
        let o = await world.vigil(["restore", "--botmux", world.data, "--bot", "cli_zz", "--dry-run"])
        #expect(o.termination == .exited(66))
        #expect(o.stderr.text.contains("no store of bot cli_zz"))
    }
}
