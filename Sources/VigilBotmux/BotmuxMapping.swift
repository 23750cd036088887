// From one botmux session record to what restore asks the multiplexer, or
// why it asks nothing. Every rule is a fact of botmux's own restore
// (src/core/session-manager.ts `restoreActiveSessions`,
// src/core/persistent-backend.ts, src/core/session-mutation-guard.ts):
// records botmux does not probe, or whose state only the daemon can settle,
// are skipped with the reason in the report, and a skip changes nothing.

public import VigilBackends
import VigilJSON

/// What restore does with one record before any probe.
public enum BotmuxTarget: Sendable, Hashable {
    /// Not restore's business; the reason goes to the report.
    case skip(String)
    /// Ask `kind` about session `name`.
    case probe(BackendKind, String)
}

/// A record mapped: the backend and backing-session name the report shows,
/// and the target.
public struct BotmuxMapped: Sendable, Hashable {
    /// The resolved `backendType` (`tmux`, `pty`, `zmx`, ...), or `none`.
    public var backend: String
    /// The backing session's name (`bmx-` + 8 characters of the id unless
    /// the record's `persistentBackendTarget` names another).
    public var backendSession: String
    /// Skip or probe.
    public var target: BotmuxTarget
}

/// Names and skip rules for botmux records.
public enum BotmuxMapping {
    /// botmux's deterministic backing-session name (`TmuxBackend.sessionName`
    /// and its zellij/herdr twins): `bmx-` + `sessionId.slice(0, 8)`, eight
    /// UTF-16 code units, which for a UUID are its first eight characters.
    public static func sessionName(forID id: String) -> String {
        let units = Array(id.utf16.prefix(8))
        return "bmx-" + String(decoding: units, as: UTF16.self)
    }

    /// Maps one record.
    ///
    /// | rule, in order | result |
    /// |---|---|
    /// | `status` is not `"active"` | skip |
    /// | `adoptedFrom` truthy, or `title` starts with `Adopt:` | skip: the CLI is the user's own |
    /// | `queued` truthy | skip: no CLI ever ran |
    /// | `deferredScheduleRun`, `restoreQuarantinedAt`, `mojoCloseJournal`, `queuedActivationPending` truthy | skip: the daemon settles these itself |
    /// | `queuedActivationTail` non-empty, `pendingRepoSetup` present, `codexAppDispatchLedger` non-empty | skip: protected ownership (session-mutation-guard.ts) |
    /// | `larkAppId` names another bot than the per-bot file's | skip |
    /// | backend: `backendType`, else the bot's; none | skip: "no persistent backend recorded" |
    /// | backend `pty`; `zmx`, `riff`, `mojo`; anything else | skip: not persistent / not probed by Vigil / unknown |
    /// | `persistentBackendTarget` for this backend with a non-blank `sessionName` | probe that name, unless herdr with a non-blank `agentName`: skip |
    /// | otherwise | probe `bmx-` + 8 characters of the id |
    ///
    /// - Parameters:
    ///   - record: the session.
    ///   - fileBot: the per-bot file's larkAppId; nil for the legacy file.
    ///   - bot: the bot's configuration, if bots.json loads it.
    public static func map(_ record: BotmuxRecord, fileBot: String?, bot: BotmuxBot?) -> BotmuxMapped {
        let fallbackName = sessionName(forID: record.id)
        let resolved = record[.backendType]?.stringValue ?? bot?.backendType
        do throws(Skip) {
            try checkRestorable(record, fileBot: fileBot)
            guard let backend = resolved else {
                throw Skip("no persistent backend recorded (no backendType on the record or its bot)")
            }
            let kind = try multiplexer(backendType: backend)
            let name = try backingSession(record, backendType: backend, fallback: fallbackName)
            return BotmuxMapped(backend: backend, backendSession: name, target: .probe(kind, name))
        } catch {
            return BotmuxMapped(backend: resolved ?? "none", backendSession: error.name ?? fallbackName, target: .skip(error.reason))
        }
    }

    /// Why a record is skipped, and the session name to show when it is not the default.
    struct Skip: Error {
        let reason: String
        var name: String? = nil
        init(_ reason: String, name: String? = nil) {
            self.reason = reason
            self.name = name
        }
    }

    /// The table's rules up to `larkAppId`: the record's status, ownership and
    /// pending work, before its backend is looked at.
    /// - Throws: `Skip` with the first rule that applies.
    static func checkRestorable(_ record: BotmuxRecord, fileBot: String?) throws(Skip) {
        switch record[.status] {
        case .string("active")?: break
        case .string(let status)?: throw Skip(status == "closed" ? "record is closed" : "record is not active (status \(status.debugDescription))")
        case let other?: throw Skip("record is not active (status is \(other.kindDescription))")
        case nil: throw Skip("record is not active (no status)")
        }
        if record[.adoptedFrom]?.isTruthy == true {
            throw Skip("adopted session (adoptedFrom): the CLI belongs to the user; the daemon validates it on start")
        }
        if let title = record[.title]?.stringValue, title.hasPrefix("Adopt:") {
            throw Skip("adopted session (title starts with \"Adopt:\"): left to the daemon")
        }
        if record[.queued]?.isTruthy == true {
            throw Skip("queued session: no CLI has run yet, there is nothing to probe")
        }
        let settledByDaemon: [(BotmuxField, String)] = [
            (.deferredScheduleRun, "deferred schedule run: the daemon decides on start whether to resume or close it"),
            (.restoreQuarantinedAt, "quarantined by the daemon's own restore (restoreQuarantinedAt): left for the daemon"),
            (.mojoCloseJournal, "Mojo close journal pending: only the daemon can finish it"),
            (.queuedActivationPending, "activation pending (queuedActivationPending): the daemon owns its first turn"),
        ]
        for (field, why) in settledByDaemon where record[field]?.isTruthy == true {
            throw Skip(why)
        }
        if let tail = record[.queuedActivationTail], tail != .null, tail != .array(count: 0) {
            throw Skip("queued activations pending (queuedActivationTail): the daemon owns them")
        }
        if record[.pendingRepoSetup] != nil {
            throw Skip("repository setup pending (pendingRepoSetup): the daemon owns it")
        }
        if let ledger = record[.codexAppDispatchLedger], ledger != .null, ledger != .array(count: 0) {
            throw Skip("unsettled Codex App dispatch (codexAppDispatchLedger): the daemon reconciles it")
        }
        if let fileBot, let own = record[.larkAppId]?.stringValue, own != fileBot {
            throw Skip("record names bot \(own) but is kept in bot \(fileBot)'s store: left alone")
        }
    }

    /// The multiplexer a botmux `backendType` names.
    /// - Throws: `Skip` for `pty`, `zmx`, the remote backends and words botmux does not use.
    static func multiplexer(backendType backend: String) throws(Skip) -> BackendKind {
        switch backend {
        case "tmux": return .tmux
        case "zellij": return .zellij
        case "herdr": return .herdr
        case "pty": throw Skip("non-persistent backend (pty): nothing survives a restart")
        case "zmx": throw Skip("zmx backend: not probed by Vigil (left to the daemon)")
        case "riff", "mojo": throw Skip("remote backend (\(backend)): no local session to probe")
        default: throw Skip("unknown backend \(backend.debugDescription)")
        }
    }

    /// The backing session's name, as botmux's `resolvePersistentBackendTarget`
    /// finds it: the worker's recorded target wins when it is for this
    /// backend and names a session; otherwise `fallback`.
    /// - Throws: `Skip` for a target that is not a string, or a herdr agent
    ///   inside a shared session (probing the session would not tell).
    static func backingSession(_ record: BotmuxRecord, backendType backend: String, fallback: String) throws(Skip) -> String {
        guard let target = record.target, target["backendType"]?.stringValue == backend else { return fallback }
        guard let recorded = target["sessionName"]?.stringValue else {
            throw Skip("persistentBackendTarget.sessionName is not a string: left alone")
        }
        if BotmuxPath.trimJavaScriptWhitespace(recorded).isEmpty { return fallback }
        switch backend == "herdr" ? target["agentName"] : nil {
        case nil:
            return recorded
        case .string(let agent)?:
            if !BotmuxPath.trimJavaScriptWhitespace(agent).isEmpty {
                throw Skip("herdr agent \(agent.debugDescription) inside shared session \(recorded.debugDescription): probing the session would not tell whether the agent lives", name: recorded)
            }
            // A blank agent name: botmux ignores the whole target and falls
            // back to the deterministic bmx- name.
            return fallback
        default:
            throw Skip("persistentBackendTarget.agentName is not a string: left alone")
        }
    }
}
