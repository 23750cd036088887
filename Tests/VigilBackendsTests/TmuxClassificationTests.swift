// The tmux classification table, row by row, as a pure function:
// exit status and stderr text in, state and reason out. Each message row of
// `TmuxBackend.messageTable` has at least one row here.
import Testing
import VigilBackends
import VigilCore

struct TmuxRow: Sendable, CustomTestStringConvertible {
    let name: String
    let termination: Termination
    let stderr: String
    var truncated = false
    let state: SessionState
    /// A fragment the reason must contain.
    let reason: String

    var testDescription: String { name }
}

private let probeRows: [TmuxRow] = [
    TmuxRow(name: "exit 0 is exists", termination: .exited(0), stderr: "", state: .exists, reason: "exit 0"),
    TmuxRow(name: "exit 0 with stray stderr is still exists", termination: .exited(0), stderr: "warning\n", state: .exists, reason: "exit 0"),
    TmuxRow(name: "can't find session (cmd-find.c)", termination: .exited(1),
            stderr: "can't find session: bmx-dead\n", state: .missing, reason: "no such session"),
    TmuxRow(name: "can't find session with CRLF and spaces", termination: .exited(1),
            stderr: "  can't find session: bmx-dead \r\n", state: .missing, reason: "can't find session: bmx-dead"),
    TmuxRow(name: "no current target: server with zero sessions (cmd-find.c)", termination: .exited(1),
            stderr: "no current target\n", state: .missing, reason: "no sessions at all"),
    TmuxRow(name: "no server running on: ECONNREFUSED (client.c)", termination: .exited(1),
            stderr: "no server running on /tmp/tmux-0/work\n", state: .missing, reason: "no server"),
    TmuxRow(name: "error connecting ENOENT: no socket file (client.c)", termination: .exited(1),
            stderr: "error connecting to /tmp/tmux-0/work (No such file or directory)\n", state: .missing, reason: "no server"),
    TmuxRow(name: "error connecting EACCES is unknown", termination: .exited(1),
            stderr: "error connecting to /tmp/tmux-1000/default (Permission denied)\n", state: .unknown, reason: "could not be reached"),
    TmuxRow(name: "error connecting ENOTDIR is unknown", termination: .exited(1),
            stderr: "error connecting to /tmp/file/sock (Not a directory)\n", state: .unknown, reason: "Not a directory"),
    TmuxRow(name: "error connecting with Connection refused wording is unknown", termination: .exited(1),
            stderr: "error connecting to /tmp/tmux-0/x (Connection refused)\n", state: .unknown, reason: "could not be reached"),
    TmuxRow(name: "error connecting: ENOENT text inside the path, other errno", termination: .exited(1),
            stderr: "error connecting to /tmp/(No such file or directory)/s (Permission denied)\n", state: .unknown, reason: "Permission denied"),
    TmuxRow(name: "unsafe socket directory permissions (tmux.c, 3.3a)", termination: .exited(1),
            stderr: "directory /tmp/tmux-0 has unsafe permissions\n", state: .unknown, reason: "refuses the socket directory"),
    TmuxRow(name: "couldn't create directory (tmux.c, 3.3a)", termination: .exited(1),
            stderr: "couldn't create directory /x/tmux-0 (Permission denied)\n", state: .unknown, reason: "cannot make"),
    TmuxRow(name: "couldn't read directory (tmux.c, 3.3a)", termination: .exited(1),
            stderr: "couldn't read directory /x/tmux-0 (Permission denied)\n", state: .unknown, reason: "cannot read"),
    TmuxRow(name: "socket directory is not a directory (tmux.c, 3.3a)", termination: .exited(1),
            stderr: "/tmp/tmux-0 is not a directory\n", state: .unknown, reason: "not a directory"),
    TmuxRow(name: "error creating: older make_label wording", termination: .exited(1),
            stderr: "error creating /tmp/tmux-0 (Permission denied)\n", state: .unknown, reason: "cannot use the socket directory"),
    TmuxRow(name: "protocol version mismatch: upgraded tmux, old server alive", termination: .exited(1),
            stderr: "protocol version mismatch (client 8, server 7)\n", state: .unknown, reason: "sessions are alive"),
    TmuxRow(name: "server exited unexpectedly (lost server, 2.x-3.5)", termination: .exited(1),
            stderr: "server exited unexpectedly\n", state: .unknown, reason: "went away"),
    TmuxRow(name: "lost server (1.x wording)", termination: .exited(1),
            stderr: "lost server\n", state: .unknown, reason: "went away"),
    TmuxRow(name: "unrecognised message is unknown", termination: .exited(1),
            stderr: "something new in tmux 9\n", state: .unknown, reason: "unrecognised"),
    TmuxRow(name: "exit 1 without a message is unknown", termination: .exited(1), stderr: "", state: .unknown, reason: "no message"),
    TmuxRow(name: "a missing line followed by an unknown line is unknown", termination: .exited(1),
            stderr: "can't find session: x\nserver exited unexpectedly\n", state: .unknown, reason: "went away"),
    TmuxRow(name: "truncated stderr is unknown", termination: .exited(1),
            stderr: "can't find session: x", truncated: true, state: .unknown, reason: "stderr longer"),
    TmuxRow(name: "exit 2 is unknown", termination: .exited(2), stderr: "usage: has-session [-t target-session]\n",
            state: .unknown, reason: "tmux exit 2"),
    TmuxRow(name: "exit 127 (what a shell says for not found) is unknown", termination: .exited(127),
            stderr: "sh: tmux: not found\n", state: .unknown, reason: "exit 127"),
    TmuxRow(name: "killed by a signal is unknown", termination: .signaled(.segmentationFault), stderr: "",
            state: .unknown, reason: "SIGSEGV"),
    TmuxRow(name: "timeout is unknown", termination: .timedOut(.kill), stderr: "", state: .unknown, reason: "timed out after 3000 ms"),
    TmuxRow(name: "spawn ENOENT is unknown", termination: .spawnFailed(.noSuchFile), stderr: "",
            state: .unknown, reason: "tmux not found on PATH (ENOENT)"),
    TmuxRow(name: "spawn EACCES is unknown", termination: .spawnFailed(.permissionDenied), stderr: "",
            state: .unknown, reason: "EACCES"),
    TmuxRow(name: "wait failed (ECHILD) is unknown", termination: .waitFailed(.noChild), stderr: "",
            state: .unknown, reason: "ECHILD"),
]

private let listingRows: [TmuxRow] = [
    TmuxRow(name: "list exit 0 is the live set", termination: .exited(0), stderr: "", state: .exists, reason: "a|b b"),
    TmuxRow(name: "list exit 1 no server running is an empty set", termination: .exited(1),
            stderr: "no server running on /tmp/tmux-0/x\n", state: .missing, reason: "no server"),
    TmuxRow(name: "list exit 1 ENOENT is an empty set", termination: .exited(1),
            stderr: "error connecting to /tmp/tmux-0/x (No such file or directory)\n", state: .missing, reason: "no server"),
    TmuxRow(name: "list exit 1 can't find session is unknown", termination: .exited(1),
            stderr: "can't find session: x\n", state: .unknown, reason: "exit 1"),
    TmuxRow(name: "list exit 1 no current target is unknown", termination: .exited(1),
            stderr: "no current target\n", state: .unknown, reason: "exit 1"),
    TmuxRow(name: "list exit 1 EACCES is unknown", termination: .exited(1),
            stderr: "error connecting to /x (Permission denied)\n", state: .unknown, reason: "could not be reached"),
    TmuxRow(name: "list exit 1 protocol mismatch is unknown", termination: .exited(1),
            stderr: "protocol version mismatch (client 8, server 7)\n", state: .unknown, reason: "alive"),
    TmuxRow(name: "list exit 1 without message is unknown", termination: .exited(1), stderr: "", state: .unknown, reason: "no message"),
    TmuxRow(name: "list timeout is unknown", termination: .timedOut(.kill), stderr: "", state: .unknown, reason: "timed out"),
    TmuxRow(name: "list spawn ENOENT is unknown", termination: .spawnFailed(.noSuchFile), stderr: "", state: .unknown, reason: "ENOENT"),
]

@Suite("tmux classification table")
struct TmuxClassificationTests {
    @Test(arguments: probeRows)
    func probe(_ row: TmuxRow) {
        let outcome = Outcome(termination: row.termination, stderr: captured(row.stderr, truncated: row.truncated))
        let answer = TmuxBackend.classify(outcome, program: "tmux", timeout: .seconds(3))
        #expect(answer.state == row.state, "\(answer)")
        #expect(answer.reason.contains(row.reason), "\(answer.reason)")
    }

    /// Listing rows: `exists` stands for "a live set" (checked against `a`,
    /// `b b`), `missing` for "an authoritative empty set".
    @Test(arguments: listingRows)
    func listing(_ row: TmuxRow) {
        let stdout = row.termination == .exited(0) ? "a\nb b\n\n" : ""
        let outcome = Outcome(termination: row.termination, stdout: captured(stdout), stderr: captured(row.stderr))
        let listing = TmuxBackend.classifyListing(outcome, program: "tmux", timeout: .seconds(3))
        switch (row.state, listing) {
        case (.exists, .live(let names, _)):
            #expect(names == ["a", "b b"])
        case (.missing, .live(let names, let reason)):
            #expect(names.isEmpty)
            #expect(reason.contains(row.reason), "\(reason)")
        case (.unknown, .unknown(let reason)):
            #expect(reason.contains(row.reason), "\(reason)")
        default:
            Issue.record("expected \(row.state), got \(listing)")
        }
    }

    @Test func truncatedListingIsUnknown() {
        let outcome = Outcome(termination: .exited(0), stdout: captured("a\nb\nc", truncated: true))
        guard case .unknown(let reason) = TmuxBackend.classifyListing(outcome) else {
            Issue.record("a truncated listing must be unknown")
            return
        }
        #expect(reason.contains("incomplete"))
    }

    @Test func emptyListingFromARunningServerIsAnEmptySet() {
        let outcome = Outcome(termination: .exited(0), stdout: captured(""))
        #expect(TmuxBackend.classifyListing(outcome) == .live([], reason: "tmux list-sessions"))
    }
}
