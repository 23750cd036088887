// Whether a bot's daemon is running, the way botmux's own CLI decides it
// (src/cli.ts `listDaemonDescriptors`, `listOnlineDaemons`): every `*.json`
// file in `<dataDir>/dashboard-daemons/` that parses to an object with a
// numeric `ipcPort` and a string `larkAppId` is a daemon descriptor (other
// files are ignored); a descriptor whose `lastHeartbeat` (milliseconds since
// the epoch; absent counts as 0) is at most 90,000 ms old is a live daemon.
// A live daemon holds its whole store in memory and rewrites the file from
// it on its next save, so nothing written behind its back would survive.

import VigilJSON
import VigilStore

/// One daemon descriptor.
public struct BotmuxHeartbeat: Sendable, Hashable {
    /// The bot the daemon runs.
    public var larkAppId: String
    /// The daemon's pid, when the descriptor has a numeric one.
    public var pid: Int?
    /// `lastHeartbeat` in milliseconds since the epoch (nil when absent).
    public var lastHeartbeat: Double?
    /// The descriptor file.
    public var file: String

    /// Creates a value.
    public init(larkAppId: String, pid: Int?, lastHeartbeat: Double?, file: String) {
        self.larkAppId = larkAppId
        self.pid = pid
        self.lastHeartbeat = lastHeartbeat
        self.file = file
    }

    /// `now - lastHeartbeat` in milliseconds (negative when the heartbeat
    /// is in the future, which botmux counts as live too).
    public func age(now: Int64) -> Double {
        Double(now) - (lastHeartbeat ?? 0)
    }

    /// botmux's rule: live when the heartbeat is at most 90 s old.
    public func isLive(now: Int64) -> Bool {
        age(now: now) <= Double(BotmuxDaemons.staleAfterMilliseconds)
    }

    /// "heartbeat 12.3 s ago, pid 4242".
    public func describe(now: Int64) -> String {
        let age = self.age(now: now)
        let when = age < 0 ? "heartbeat \(Self.seconds(-age)) s in the future" : "heartbeat \(Self.seconds(age)) s ago"
        return pid.map { "\(when), pid \($0)" } ?? when
    }

    static func seconds(_ milliseconds: Double) -> String {
        let tenths = Int((milliseconds / 100).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}

/// The daemon descriptors of a data directory.
public struct BotmuxDaemons: Sendable {
    /// botmux's staleness bound for a heartbeat.
    public static let staleAfterMilliseconds = 90_000

    /// Every valid descriptor, in file-name order.
    public var heartbeats: [BotmuxHeartbeat]

    /// Creates a value.
    public init(heartbeats: [BotmuxHeartbeat]) {
        self.heartbeats = heartbeats
    }

    /// Reads `<dataDirectory>/dashboard-daemons/*.json`. A missing or
    /// unreadable folder, and files that are not descriptors, are skipped,
    /// as botmux skips them.
    public static func read(dataDirectory: String) -> BotmuxDaemons {
        let folder = BotmuxPath.join(dataDirectory, "dashboard-daemons")
        guard case .success(let names) = BotmuxSystem.listFolder(folder) else { return BotmuxDaemons(heartbeats: []) }
        var heartbeats: [BotmuxHeartbeat] = []
        for name in names where name.hasSuffix(".json") {
            let path = BotmuxPath.join(folder, name)
            guard let bytes = try? StoreFile(path: path).readBytes(),
                  let value = try? parseJavaScriptJSON(bytes),
                  case .number(let port)? = value["ipcPort"], Double(port) != nil,
                  let appId = value["larkAppId"]?.stringValue else { continue }
            var pid: Int?
            if case .number(let text)? = value["pid"], let number = Double(text) { pid = Int(exactly: number) }
            var last: Double?
            if case .number(let text)? = value["lastHeartbeat"] { last = Double(text) }
            heartbeats.append(BotmuxHeartbeat(larkAppId: appId, pid: pid, lastHeartbeat: last, file: path))
        }
        return BotmuxDaemons(heartbeats: heartbeats)
    }

    /// The freshest live descriptor of bot `larkAppId` at `now`, if any.
    public func live(_ larkAppId: String, now: Int64) -> BotmuxHeartbeat? {
        heartbeats.filter { $0.larkAppId == larkAppId && $0.isLive(now: now) }
            .min { $0.age(now: now) < $1.age(now: now) }
    }
}
