// The record-level rules: what a botmux store must look like, which records
// are probed under which name, which are skipped and why, and the decision
// table. One row, one expectation.
import Testing
import VigilCore
import VigilBackends
import VigilJSON
import VigilRestore
@testable import VigilBotmux
import VigilStore
import VigilTestSupport

@Suite("botmux records: validation, mapping, decisions")
struct MappingTests {
    static let id = "3f2c9a1e-7b7d-4c1e-9a55-0c1d2e3f4a5b"

    /// One record `{"sessionId": id, "status": "active", <members>}` parsed as a store.
    func record(_ members: String) throws -> BotmuxRecord {
        let text = #"{"\#(Self.id)": {"sessionId": "\#(Self.id)", "status": "active"\#(members.isEmpty ? "" : ", " + members)}}"#
        let store = try BotmuxStore(parsing: Array(text.utf8), path: "t.json")
        return store.records[0]
    }

    // MARK: - Validation

    @Test("a store botmux would not read, or whose meaning is ambiguous, is refused with exit 65 and a message naming it", arguments: [
        ("[]", "is an array; a botmux store is one JSON object keyed by sessionId"),
        ("", "the file is empty"),
        ("{\"a\": {\"sessionId\": \"a\"},\n \"b\": {\"sessionId\": \"c\"}}", "line 2, column 2: key \"b\" holds a session whose sessionId is \"c\""),
        ("{\"a\": {\"sessionId\": 5}}", "key \"a\" holds a session whose sessionId is a number"),
        ("{\"a\": {\"sessionId\": \"a\"}, \"a\": {\"sessionId\": \"a\"}}", "key \"a\" appears twice"),
        ("{\"a\": [1]}", "key \"a\" holds an array, expected a session object"),
        ("{\"\": {}}", "key \"\" is an empty sessionId"),
        ("{\"a\": {\"x\": 1,}}", "trailing commas"),
        ("{\"a\": {}} x", "unexpected data after the end"),
        ("{\"a\": {\"t\": \"\\ud800\"}, \"b\": {\"sessionId\": \"a\"}}", "key \"b\" holds a session whose sessionId is \"a\""),
    ])
    func refused(text: String, fragment: String) {
        let error = storeError { try BotmuxStore(parsing: Array(text.utf8), path: "s.json") }
        #expect(error?.exitCode == 65)
        #expect(error?.description.hasPrefix("store s.json: ") == true)
        #expect(error?.description.contains(fragment) == true, "\(String(describing: error))")
    }

    @Test("accepted: a record without sessionId (keyed by it), escapes that spell the key, lone surrogates as JSON.stringify writes them")
    func accepted() throws {
        let store = try BotmuxStore(parsing: Array(#"{"a": {"status": "active"}, "b\u0063": {"sessionId": "bc"}, "d": {"sessionId": "d", "title": "\ud83d"}}"#.utf8), path: "s.json")
        #expect(store.records.map(\.id) == ["a", "bc", "d"])
        #expect(store.records[2][.title] == .string("\u{FFFD}"))
    }

    // MARK: - Mapping

    @Test("skip rules, each with its reason", arguments: [
        (#""status": "closed""#, "record is closed"),
        (#""adoptedFrom": {"cwd": "/x"}"#, "adopted session (adoptedFrom)"),
        (#""title": "Adopt: my repo""#, "title starts with \"Adopt:\""),
        (#""queued": true"#, "queued session"),
        (#""deferredScheduleRun": {"id": 1}"#, "deferred schedule run"),
        (#""restoreQuarantinedAt": "2026-11-01T00:00:00.000Z""#, "quarantined"),
        (#""mojoCloseJournal": {"phase": "preparing"}"#, "Mojo close journal"),
        (#""queuedActivationPending": true"#, "activation pending"),
        (#""queuedActivationTail": [{"order": 1}]"#, "queuedActivationTail"),
        (#""pendingRepoSetup": null"#, "pendingRepoSetup"),
        (#""codexAppDispatchLedger": [{"turnId": "t"}]"#, "codexAppDispatchLedger"),
        (#""backendType": "pty""#, "non-persistent backend (pty)"),
        (#""backendType": "zmx""#, "zmx backend"),
        (#""backendType": "riff""#, "remote backend (riff)"),
        (#""backendType": "mojo""#, "remote backend (mojo)"),
        (#""backendType": "screen""#, "unknown backend"),
        (#""cliId": "claude-code""#, "no persistent backend recorded"),
        (#""backendType": "herdr", "persistentBackendTarget": {"backendType": "herdr", "sessionName": "host", "agentName": "a1"}"#, "herdr agent \"a1\""),
        (#""backendType": "tmux", "persistentBackendTarget": {"backendType": "tmux", "sessionName": 3}"#, "sessionName is not a string"),
    ])
    func skipRules(members: String, fragment: String) throws {
        let mapped = BotmuxMapping.map(try record(members), fileBot: "cli_a", bot: nil)
        guard case .skip(let why) = mapped.target else {
            Issue.record("\(members): probed as \(mapped.target)")
            return
        }
        #expect(why.contains(fragment), "\(why)")
    }

    @Test("not skipped by falsy flags: queued false, empty tail and ledger, title without the prefix")
    func falsyFlags() throws {
        let mapped = BotmuxMapping.map(try record(#""backendType": "tmux", "queued": false, "queuedActivationPending": false, "queuedActivationTail": [], "codexAppDispatchLedger": [], "adoptedFrom": null, "title": "Adoption", "restoreQuarantinedAt": """#), fileBot: "cli_a", bot: nil)
        #expect(mapped.target == .probe(.tmux, "bmx-3f2c9a1e"))
    }

    @Test("backend and backing session name", arguments: [
        (#""backendType": "tmux""#, nil as String?, BotmuxTarget.probe(.tmux, "bmx-3f2c9a1e")),
        ("", "zellij", .probe(.zellij, "bmx-3f2c9a1e")),
        (#""backendType": "herdr""#, "tmux", .probe(.herdr, "bmx-3f2c9a1e")),
        (#""backendType": "tmux", "persistentBackendTarget": {"backendType": "tmux", "sessionName": "work"}"#, nil, .probe(.tmux, "work")),
        (#""backendType": "tmux", "persistentBackendTarget": {"backendType": "zellij", "sessionName": "work"}"#, nil, .probe(.tmux, "bmx-3f2c9a1e")),
        (#""backendType": "tmux", "persistentBackendTarget": {"backendType": "tmux", "sessionName": "  "}"#, nil, .probe(.tmux, "bmx-3f2c9a1e")),
        (#""backendType": "herdr", "persistentBackendTarget": {"backendType": "herdr", "sessionName": "host", "agentName": " "}"#, nil, .probe(.herdr, "bmx-3f2c9a1e")),
        (#""backendType": "herdr", "persistentBackendTarget": {"backendType": "herdr", "sessionName": "host"}"#, nil, .probe(.herdr, "host")),
    ])
    func names(members: String, botBackend: String?, expected: BotmuxTarget) throws {
        let bot = BotmuxBot(larkAppId: "cli_a", cliId: "claude-code", backendType: botBackend)
        #expect(BotmuxMapping.map(try record(members), fileBot: "cli_a", bot: bot).target == expected)
    }

    @Test("a record of another bot kept in a per-bot file is left alone; in the legacy file it belongs to that bot")
    func otherBot() throws {
        let r = try record(#""backendType": "tmux", "larkAppId": "cli_b""#)
        guard case .skip(let why) = BotmuxMapping.map(r, fileBot: "cli_a", bot: nil).target else {
            Issue.record("probed")
            return
        }
        #expect(why.contains("names bot cli_b"))
        #expect(BotmuxMapping.map(r, fileBot: nil, bot: nil).target == .probe(.tmux, "bmx-3f2c9a1e"))
    }

    @Test("the name is bmx- and 8 UTF-16 code units of the id, as sessionId.slice(0, 8)")
    func shortName() {
        #expect(BotmuxMapping.sessionName(forID: "abc") == "bmx-abc")
        #expect(BotmuxMapping.sessionName(forID: "3f2c9a1e-7b7d") == "bmx-3f2c9a1e")
        #expect(BotmuxMapping.sessionName(forID: "ééééééééé") == "bmx-éééééééé")
    }

    // MARK: - Decisions

    static let exists = SessionProbe.exists(reason: "listed")
    static let missing = SessionProbe.missing(reason: "not listed")
    static let unknown = SessionProbe.unknown(reason: "tmux timed out")

    @Test("the decision table", arguments: [
        (exists, "codex", "claude-code", false, MissingPolicy.keep, RestoreAction.kill, "runs CLI codex"),
        (exists, "claude-code", "claude-code", false, .keep, .keep, "re-attaches"),
        (exists, nil, "claude-code", false, .close, .keep, "re-attaches"),
        (exists, "codex", nil, false, .close, .keep, "re-attaches"),
        (unknown, "codex", "claude-code", false, .close, .keep, "no authoritative answer"),
        (unknown, "claude-code", "claude-code", false, .close, .keep, "no authoritative answer"),
        (missing, "codex", "claude-code", false, .keep, .close, "closed, as the daemon does for a CLI change"),
        (missing, "claude-code", "claude-code", true, .close, .keep, "suspendedColdResume"),
        (missing, "claude-code", "claude-code", false, .keep, .keep, "missing; the daemon will cold-resume it"),
        (missing, nil, "claude-code", false, .close, .close, "session is gone"),
        (missing, "", "claude-code", false, .keep, .keep, "cold-resume"),
    ] as [(SessionProbe, String?, String?, Bool, MissingPolicy, RestoreAction, String)])
    func decisions(probe: SessionProbe, recordCLI: String?, expectedCLI: String?, suspended: Bool,
                   policy: MissingPolicy, action: RestoreAction, fragment: String) {
        let decided = BotmuxDecision.decide(probe: probe, recordCLI: recordCLI, expectedCLI: expectedCLI,
                                            suspended: suspended, onMissing: policy)
        #expect(decided.action == action)
        #expect(decided.reason.contains(fragment), "\(decided.reason)")
    }

    @Test("Vigil's own format: --on-missing keep keeps a missing record, close (the default) closes it")
    func ownFormatPolicy() {
        let close = Restorer.decide(status: .active, backend: .tmux, cliId: nil, probe: Self.missing, expectedCLI: nil, lazy: false)
        #expect(close.action == .close)
        let keep = Restorer.decide(status: .active, backend: .tmux, cliId: nil, probe: Self.missing, expectedCLI: nil, lazy: false, onMissing: .keep)
        #expect(keep.action == .keep)
        #expect(keep.reason.contains("--on-missing keep"))
        #expect(RestoreOptions().onMissing == .close)
    }
}
