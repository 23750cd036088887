// The bots of a botmux installation (`bots.json`, or the file `$BOTS_CONFIG`
// names), read as botmux's `parseBotConfigsFromText` reads them
// (src/bot-registry.ts), for the two things restore needs per bot: which
// agent CLI it runs (`cliId`, default `claude-code`, LEGACY_DEFAULT_CLI_ID)
// and its default backend (`backendType`).
//
// - The file is a JSON array; every entry needs a non-empty string
//   `larkAppId` (botmux refuses the whole file otherwise, and so does Vigil).
// - An entry still being onboarded (`activationPending: true`, or any of
//   `activationDeactivating`, `activationStarting`, `activationCommitted`)
//   is not loaded by botmux, so no daemon runs it and it names no CLI here.
// - Two entries with one larkAppId: the last wins (botmux's map `set`).

import VigilJSON
public import VigilStore

/// One bot's settings that restore uses.
public struct BotmuxBot: Sendable, Hashable {
    /// The bot's Lark app id, which names its store `sessions-<id>.json`.
    public var larkAppId: String
    /// The agent CLI the bot runs: `cliId`, or `claude-code` when absent or
    /// null. nil when `cliId` is present but not a string (then no CLI
    /// check is made for the bot).
    public var cliId: String?
    /// The bot's `backendType`, the default for sessions that record none.
    public var backendType: String?

    /// Creates a value.
    public init(larkAppId: String, cliId: String?, backendType: String?) {
        self.larkAppId = larkAppId
        self.cliId = cliId
        self.backendType = backendType
    }

    /// botmux's default CLI for a bot whose entry names none.
    public static let defaultCLI = "claude-code"
}

/// The bots configuration as loaded.
public struct BotmuxBots: Sendable {
    /// Where it was read from; nil when there was no file.
    public var path: String?
    /// The loaded bots by larkAppId.
    public var bots: [String: BotmuxBot]

    /// Creates a value.
    public init(path: String?, bots: [String: BotmuxBot]) {
        self.path = path
        self.bots = bots
    }

    /// The bot with this id, if the configuration loads it.
    public subscript(larkAppId: String) -> BotmuxBot? { bots[larkAppId] }

    /// Reads the configuration at `location`.
    /// - Returns: the bots; an empty configuration (path nil) when the
    ///   default file does not exist.
    /// - Throws: `.notFound` when `$BOTS_CONFIG` names a file that does not
    ///   exist (botmux refuses to fall back to another registry);
    ///   `.invalidData` when the file is not a JSON array of entries with a
    ///   string `larkAppId`; `.cannotWrite` when it cannot be read.
    public static func load(_ location: BotmuxBotsLocation) throws(StoreError) -> BotmuxBots {
        let bytes: [UInt8]
        do throws(StoreError) {
            bytes = try StoreFile(path: location.path).readBytes()
        } catch {
            if error.category == .notFound && !location.isExplicit {
                return BotmuxBots(path: nil, bots: [:])
            }
            if error.category == .notFound {
                throw StoreError(.notFound, path: location.path, message: "BOTS_CONFIG names a file that does not exist (botmux refuses to fall back to another registry, and so does Vigil)")
            }
            throw error
        }
        return try parse(bytes, path: location.path)
    }

    /// Parses bots.json text.
    /// - Throws: `.invalidData` naming the entry at fault.
    public static func parse(_ bytes: [UInt8], path: String) throws(StoreError) -> BotmuxBots {
        let value: JSONValue
        do throws(JSONParseError) {
            value = try parseJavaScriptJSON(bytes)
        } catch {
            throw StoreError(.invalidData, path: path, message: "bots configuration: \(error)")
        }
        guard let entries = value.arrayValue else {
            throw StoreError(.invalidData, path: path, message: "bots configuration is \(value.kindDescription); botmux needs a JSON array of bots")
        }
        var bots: [String: BotmuxBot] = [:]
        for (index, entry) in entries.enumerated() {
            guard let object = entry.objectValue, let appId = object["larkAppId"]?.stringValue, !appId.isEmpty else {
                throw StoreError(.invalidData, path: path, message: "bots configuration [\(index)]: larkAppId is required and must be a string")
            }
            if object["activationPending"] == .bool(true) || object["activationDeactivating"] != nil
                || object["activationStarting"] != nil || object["activationCommitted"] != nil {
                continue // still being onboarded: botmux does not load it
            }
            let cliId: String?
            switch object["cliId"] {
            case nil, .null?: cliId = BotmuxBot.defaultCLI
            case .string(let text)?: cliId = text
            default: cliId = nil
            }
            bots[appId] = BotmuxBot(larkAppId: appId, cliId: cliId, backendType: object["backendType"]?.stringValue)
        }
        return BotmuxBots(path: path, bots: bots)
    }
}
