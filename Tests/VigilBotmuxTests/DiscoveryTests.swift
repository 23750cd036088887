// Finding a botmux installation's files with botmux's own rules
// (src/core/data-dir.ts, src/core/config-dir.ts, src/bot-registry.ts,
// src/cli.ts listOnlineDaemons), on real files in temporary folders.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import Testing
import VigilCore
import VigilJSON
@testable import VigilBotmux
import VigilStore
import VigilTestSupport

@Suite("botmux discovery: data directory, bots, heartbeats, store files")
struct DiscoveryTests {
    /// A home folder with `.botmux/` in it.
    func home() throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory("vigil-botmux-home")
        try dir.makeDirectory(".botmux", mode: 0o755)
        return dir
    }

    func environment(_ home: TemporaryDirectory, _ extra: [String: String] = [:], cwd: String = "/") -> BotmuxEnvironment {
        BotmuxEnvironment(variables: ["HOME": home.path].merging(extra) { $1 }, currentDirectory: cwd)
    }

    // MARK: - Data directory

    @Test("SESSION_DATA_DIR wins, trimmed and made absolute against the working directory")
    func sessionDataDir() throws {
        let home = try home()
        let absolute = BotmuxDataDirectory.locate(explicit: nil, environment: environment(home, ["SESSION_DATA_DIR": " /srv/bots/data/ \n"]))
        #expect(absolute == BotmuxDataDirectory(path: "/srv/bots/data", source: .environment))
        let relative = BotmuxDataDirectory.locate(explicit: nil, environment: environment(home, ["SESSION_DATA_DIR": "d/../data"], cwd: "/work/x"))
        #expect(relative.path == "/work/x/data")
        // Blank: ignored, as botmux's `?.trim()` then `if (explicit)`.
        let blank = BotmuxDataDirectory.locate(explicit: nil, environment: environment(home, ["SESSION_DATA_DIR": "  "]))
        #expect(blank == BotmuxDataDirectory(path: home.path + "/.botmux/data", source: .fallback))
    }

    @Test("an explicit directory beats SESSION_DATA_DIR")
    func explicitWins() throws {
        let home = try home()
        let found = BotmuxDataDirectory.locate(explicit: "here", environment: environment(home, ["SESSION_DATA_DIR": "/elsewhere"], cwd: "/a"))
        #expect(found == BotmuxDataDirectory(path: "/a/here", source: .argument))
    }

    @Test("the breadcrumb is followed when it is a small regular file naming an existing absolute directory")
    func breadcrumb() throws {
        let home = try home()
        let target = try home.makeDirectory("custom-data", mode: 0o755)
        try home.write(".botmux/.data-dir", "  \(target)/ \n")
        #expect(BotmuxDataDirectory.locate(explicit: nil, environment: environment(home))
            == BotmuxDataDirectory(path: target, source: .breadcrumb))
    }

    @Test("a breadcrumb that fails a check falls back to ~/.botmux/data", arguments: [
        "relative", "missing target", "target is a file", "too big", "symlink", "empty", "a folder",
    ])
    func badBreadcrumb(kind: String) throws {
        let home = try home()
        let target = try home.makeDirectory("custom-data", mode: 0o755)
        let crumb = home.file(".botmux/.data-dir")
        switch kind {
        case "relative": try writeFile(crumb, "custom-data")
        case "missing target": try writeFile(crumb, home.file("nope"))
        case "target is a file": try writeFile(crumb, try home.write("plain", "x"))
        case "too big": try writeFile(crumb, target + String(repeating: " ", count: 4097 - target.utf8.count))
        case "symlink":
            let real = try home.write("real-crumb", target)
            #expect(symlink(real, crumb) == 0)
        case "empty": try writeFile(crumb, " \n")
        default: #expect(mkdir(crumb, 0o755) == 0)
        }
        #expect(BotmuxDataDirectory.locate(explicit: nil, environment: environment(home))
            == BotmuxDataDirectory(path: home.path + "/.botmux/data", source: .fallback))
    }

    @Test("a breadcrumb of exactly 4096 bytes is still read")
    func breadcrumbAtLimit() throws {
        let home = try home()
        let target = try home.makeDirectory("custom-data", mode: 0o755)
        try home.write(".botmux/.data-dir", target + String(repeating: "\n", count: 4096 - target.utf8.count))
        #expect(BotmuxDataDirectory.locate(explicit: nil, environment: environment(home)).source == .breadcrumb)
    }

    // MARK: - Store files

    @Test("store files: sessions.json and sessions-<id>.json only; temporaries, locks and other names are not stores")
    func storeFiles() throws {
        let dir = try TemporaryDirectory("vigil-botmux-data")
        for name in ["sessions.json", "sessions-cli_a.json", "sessions-cli_b.json", "sessions-.json",
                     "sessions-cli_a.json.lock", "sessions-cli_a.json.123.4f1e.tmp", ".sessions-cli_a.json.vigil-tmp-1-a",
                     "sessions.json.bak", "other.json", "sessionsX.json"] {
            try dir.write(name, "{}")
        }
        try dir.makeDirectory("sessions-cli_dir.json", mode: 0o755)
        let files = try BotmuxStoreFile.list(in: dir.path)
        #expect(files.map(\.path) == [dir.file("sessions.json"), dir.file("sessions-cli_a.json"), dir.file("sessions-cli_b.json")])
        #expect(files.map(\.larkAppId) == [nil, "cli_a", "cli_b"])
    }

    @Test("a missing data directory is not found (exit 66); a file is not a directory")
    func missingDirectory() throws {
        let dir = try TemporaryDirectory("vigil-botmux-data")
        #expect(storeError { try BotmuxStoreFile.list(in: dir.file("nope")) }?.exitCode == 66)
        #expect(storeError { try BotmuxStoreFile.list(in: try dir.write("file", "x")) }?.exitCode == 66)
    }

    @Test("a folder's names come sorted, without . and ..; a folder that cannot be opened gives opendir's errno")
    func folderNames() throws {
        let dir = try TemporaryDirectory("vigil-botmux-data")
        for name in ["b", "a", ".hidden", "c.json"] { try dir.write(name, "x") }
        try dir.makeDirectory("sub", mode: 0o755)
        #expect(try BotmuxSystem.listFolder(dir.path).get() == [".hidden", "a", "b", "c.json", "sub"])
        #expect(throws: Errno.noSuchFile) { try BotmuxSystem.listFolder(dir.file("nope")).get() }
        #expect(throws: Errno.notDirectory) { try BotmuxSystem.listFolder(dir.file("a")).get() }
    }

    // MARK: - Bots

    @Test("bots.json: cliId defaults to claude-code, the last of two entries wins, onboarding entries are not loaded")
    func bots() throws {
        let text = #"""
        [{"larkAppId":"cli_a","larkAppSecret":"s"},
         {"larkAppId":"cli_b","larkAppSecret":"s","cliId":"codex","backendType":"zellij"},
         {"larkAppId":"cli_c","cliId":null},
         {"larkAppId":"cli_b","cliId":"gemini"},
         {"larkAppId":"cli_d","cliId":"codex","activationPending":true},
         {"larkAppId":"cli_e","cliId":"codex","activationCommitted":false},
         {"larkAppId":"cli_f","cliId":7}]
        """#
        let bots = try BotmuxBots.parse(Array(text.utf8), path: "bots.json")
        #expect(bots["cli_a"] == BotmuxBot(larkAppId: "cli_a", cliId: "claude-code", backendType: nil))
        #expect(bots["cli_b"] == BotmuxBot(larkAppId: "cli_b", cliId: "gemini", backendType: nil))
        #expect(bots["cli_c"]?.cliId == "claude-code")
        #expect(bots["cli_d"] == nil)
        #expect(bots["cli_e"] == nil)
        #expect(bots["cli_f"] != nil && bots["cli_f"]?.cliId == nil)
    }

    @Test("a bots.json botmux would refuse is refused (exit 65, naming the entry)", arguments: [
        ("{}", "JSON array"), ("[{\"cliId\":\"x\"}]", "[0]: larkAppId"), ("[{\"larkAppId\":\"\"}]", "[0]: larkAppId"),
        ("[{\"larkAppId\":\"a\"},3]", "[1]: larkAppId"), ("[", "line 1"),
    ])
    func badBots(text: String, fragment: String) {
        let error = storeError { try BotmuxBots.parse(Array(text.utf8), path: "bots.json") }
        #expect(error?.exitCode == 65)
        #expect(error?.description.contains(fragment) == true, "\(String(describing: error))")
    }

    @Test("BOTS_CONFIG names the exact file; a missing one is an error (66); a missing default is no configuration")
    func botsLocation() throws {
        let home = try home()
        let explicit = try home.write("fleet-a.json", #"[{"larkAppId":"cli_x","cliId":"codex"}]"#)
        let location = BotmuxBotsLocation.locate(environment: environment(home, ["BOTS_CONFIG": " \(explicit) "]))
        #expect(location == BotmuxBotsLocation(path: explicit, isExplicit: true))
        #expect(try BotmuxBots.load(location)["cli_x"]?.cliId == "codex")

        let missing = BotmuxBotsLocation.locate(environment: environment(home, ["BOTS_CONFIG": home.file("gone.json")]))
        #expect(storeError { try BotmuxBots.load(missing) }?.exitCode == 66)

        let fallback = BotmuxBotsLocation.locate(environment: environment(home))
        #expect(fallback.path == home.path + "/.botmux/bots.json")
        let none = try BotmuxBots.load(fallback)
        #expect(none.path == nil && none.bots.isEmpty)
        try home.write(".botmux/bots.json", #"[{"larkAppId":"cli_y"}]"#)
        #expect(try BotmuxBots.load(fallback)["cli_y"]?.cliId == "claude-code")
    }

    // MARK: - Heartbeats

    @Test("heartbeats: live when at most 90,000 ms old (or in the future); descriptors without numeric ipcPort and string larkAppId ignored")
    func heartbeats() throws {
        let dir = try TemporaryDirectory("vigil-botmux-data")
        try dir.makeDirectory("dashboard-daemons", mode: 0o755)
        let now: Int64 = 1_800_000_000_000
        func beat(_ name: String, _ body: String) throws { try dir.write("dashboard-daemons/\(name)", body) }
        try beat("fresh.json", #"{"ipcPort":4100,"larkAppId":"cli_fresh","pid":42,"lastHeartbeat":\#(now - 90_000)}"#)
        try beat("stale.json", #"{"ipcPort":4101,"larkAppId":"cli_stale","pid":43,"lastHeartbeat":\#(now - 90_001)}"#)
        try beat("future.json", #"{"ipcPort":4102,"larkAppId":"cli_future","lastHeartbeat":\#(now + 5_000)}"#)
        try beat("nobeat.json", #"{"ipcPort":4103,"larkAppId":"cli_nobeat"}"#)
        try beat("noport.json", #"{"ipcPort":"4104","larkAppId":"cli_noport","lastHeartbeat":\#(now)}"#)
        try beat("noid.json", #"{"ipcPort":4105,"larkAppId":7,"lastHeartbeat":\#(now)}"#)
        try beat("broken.json", #"{"ipcPort":4106,"#)
        try beat("fresh.txt", #"{"ipcPort":4107,"larkAppId":"cli_txt","lastHeartbeat":\#(now)}"#)
        let daemons = BotmuxDaemons.read(dataDirectory: dir.path)
        #expect(Set(daemons.heartbeats.map(\.larkAppId)) == ["cli_fresh", "cli_stale", "cli_future", "cli_nobeat"])
        #expect(daemons.live("cli_fresh", now: now)?.pid == 42)
        #expect(daemons.live("cli_fresh", now: now)?.describe(now: now) == "heartbeat 90.0 s ago, pid 42")
        #expect(daemons.live("cli_stale", now: now) == nil)
        #expect(daemons.live("cli_future", now: now) != nil)
        #expect(daemons.live("cli_nobeat", now: now) == nil)
        #expect(daemons.live("cli_noport", now: now) == nil)
        #expect(BotmuxDaemons.read(dataDirectory: dir.file("nowhere")).heartbeats.isEmpty)
    }
}
