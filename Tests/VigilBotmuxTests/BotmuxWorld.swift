// A real botmux installation in a temporary folder: a home with
// `.botmux/bots.json`, a data directory with per-bot stores, the legacy
// `sessions.json` and daemon heartbeats, and a real tmux default server under
// a private TMUX_TMPDIR (the server botmux uses: no -L, no -S).
//
// Stores are written as botmux writes them, `JSON.stringify(obj, null, 2)`
// without a trailing newline: through Node when it is installed, else
// through Vigil's own re-layout, which the StringifyTests hold to Node's
// bytes.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import VigilCore
import VigilBackends
import VigilJSON
@testable import VigilBotmux
import VigilTestSupport

/// `JSON.stringify(value, null, 2)` of a JSON value (no trailing newline).
func stringify(_ value: JSONValue) -> [UInt8] {
    let compact = value.serialized(.compact)
    return compact.withUnsafeBufferPointer { buffer in
        var writer = StringifyWriter()
        writer.relayValue(at: 0, depth: 0, in: javaScriptScanner(buffer))
        return writer.bytes
    }
}

/// A UUID-shaped id whose first eight characters are `prefix` (hex) and
/// whose tail is `n`.
func uuid(_ prefix: UInt32, _ n: Int) -> String {
    func hex(_ value: UInt64, _ width: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    return "\(hex(UInt64(prefix), 8))-\(hex(UInt64(n % 0x10000), 4))-4000-8000-\(hex(UInt64(n), 12))"
}

final class BotmuxWorld: @unchecked Sendable {
    let root: TemporaryDirectory
    let home: String
    let data: String
    let tmuxTmpdir: String
    let tmux: TmuxServer

    /// A new world, holding `DefaultSocketServers.lock` in shared mode until
    /// it goes away (its tmux server is a `default` one: see that lock).
    static func make() async throws -> BotmuxWorld {
        await DefaultSocketServers.lock.acquire(exclusive: false)
        do {
            return try BotmuxWorld()
        } catch {
            await DefaultSocketServers.lock.release(exclusive: false)
            throw error
        }
    }

    private init() throws {
        root = try TemporaryDirectory("vigil-botmux")
        home = try root.makeDirectory("home", mode: 0o755)
        try root.makeDirectory("home/.botmux", mode: 0o755)
        data = try root.makeDirectory("data", mode: 0o755)
        try root.makeDirectory("data/dashboard-daemons", mode: 0o755)
        tmuxTmpdir = try root.makeDirectory("tmux", mode: 0o700)
        tmux = TmuxServer(socket: .default, tmuxTmpdir: tmuxTmpdir)
    }

    deinit {
        tmux.tearDown()
        Task { await DefaultSocketServers.lock.release(exclusive: false) }
    }

    /// A session object with the members botmux writes, in its order, then `extra`.
    static func session(_ id: String, bot: String?, cli: String? = "claude-code", backend: String? = "tmux",
                        status: String = "active", _ extra: JSONObject = [:]) -> JSONObject {
        var object: JSONObject = [
            "sessionId": .string(id), "chatId": .string("oc_\(id.prefix(8))"), "chatType": .string("group"),
            "rootMessageId": .string("om_\(id.suffix(6))"), "scope": .string("thread"),
            "title": .string("fix the build \(id.suffix(4))"), "status": .string(status),
            "createdAt": .string("2026-11-20T08:00:00.000Z"), "lastMessageAt": .string("2026-11-20T09:15:02.250Z"),
            "workingDir": .string("/home/dev/repo"),
        ]
        if let bot { object.append("larkAppId", .string(bot)) }
        if let cli { object.append("cliId", .string(cli)) }
        if let backend { object.append("backendType", .string(backend)) }
        object.append("pid", .integer(4242))
        object.append("previewTarget", .object(["host": .string("127.0.0.1"), "port": .integer(5173)]))
        object.append("codexAppGenerationCommits", .object([:]))
        object.members += extra.members
        return object
    }

    /// Writes `sessions` as a store keyed by sessionId, as botmux would.
    @discardableResult
    func writeStore(_ name: String, _ sessions: [JSONObject]) async throws -> String {
        var store = JSONObject()
        for session in sessions { store.append(session["sessionId"]!.stringValue!, .object(session)) }
        let path = data + "/" + name
        if Node.available {
            let compact = root.file("compact-\(name)")
            try writeFile(compact, JSONValue.object(store).serialized(.compact))
            _ = try await Node.run("const fs=require('fs');fs.writeFileSync(process.argv[2],JSON.stringify(JSON.parse(fs.readFileSync(process.argv[1],'utf8')),null,2))",
                             [compact, path])
            unlink(compact)
        } else {
            try writeFile(path, stringify(.object(store)))
        }
        return path
    }

    /// `~/.botmux/bots.json`.
    func writeBots(_ bots: [JSONObject]) throws {
        try writeFile(home + "/.botmux/bots.json", stringify(.array(bots.map { .object($0) })))
    }

    /// A daemon descriptor whose heartbeat is `age` milliseconds old.
    func heartbeat(_ bot: String, age: Int64, pid: Int = 31337) throws {
        let beat: JSONObject = [
            "ipcPort": .integer(4100), "larkAppId": .string(bot), "pid": .integer(pid),
            "lastHeartbeat": .number(String(BotmuxRestorer.wallClock() - age)),
        ]
        try writeFile(data + "/dashboard-daemons/\(bot).json", stringify(.object(beat)))
    }

    /// The environment a user's shell would give vigil: HOME, TMUX_TMPDIR,
    /// and whatever `extra` sets (SESSION_DATA_DIR, BOTS_CONFIG).
    func environment(_ extra: [String: String] = [:]) -> Environment {
        .inherited(removing: ["TMUX", "TMUX_PANE", "SESSION_DATA_DIR", "BOTS_CONFIG"],
                   setting: ["HOME": home, "TMUX_TMPDIR": tmuxTmpdir].merging(extra) { $1 })
    }

    /// Runs `vigil ARGS...` as a user would in this world (waiting on the
    /// reactor: no thread of the cooperative pool is held meanwhile).
    func vigil(_ args: [String], _ extra: [String: String] = [:]) async -> Outcome {
        await VigilBinary.runAsync(args, environment: environment(extra))
    }

    /// Creates detached tmux sessions running `sleep` on the world's default
    /// server, all in one tmux call (commands joined by `;`).
    func createSessions(_ names: [String]) async throws {
        guard !names.isEmpty else { return }
        var args = ["-f", "/dev/null"]
        for (index, name) in names.enumerated() {
            if index > 0 { args.append(";") }
            args += ["new-session", "-d", "-s", name, "sleep", "3600"]
        }
        let o = await Spawner().run(Command(tmux.executable, arguments: tmux.socket.arguments + args,
                                            environment: tmux.environment, timeout: .seconds(60)))
        guard o.termination == .exited(0) else { throw TestFailure("tmux new-session: \(o.termination) \(o.stderr.text)") }
    }

    /// The names of the sessions alive on the world's tmux server now.
    func liveSessions() async -> Set<String> {
        let o = await Spawner().run(Command(tmux.executable, arguments: tmux.socket.arguments + ["list-sessions", "-F", "#{session_name}"],
                                            environment: tmux.environment, timeout: .seconds(20)))
        return Set(o.stdout.text.split(separator: "\n").map(String.init))
    }

    /// The bytes of every file in the data directory (not the heartbeats), by name.
    func snapshot() throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for name in folderNames(data) where name != "dashboard-daemons" {
            files[name] = try readFile(data + "/" + name)
        }
        return files
    }
}
