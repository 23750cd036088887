// The tmux classification table, row by row, as a pure function:
// exit status and stderr text in, state and reason out. Each message row of
// `TmuxBackend.messageTable` has at least one row here.
import Synchronization
import Testing
import VigilBackends
import VigilCore

struct TmuxRow: Sendable, CustomTestStringConvertible {
    let name: String
    let termination: Termination
    let stderr: String
    var truncated = false
    /// What the socket table says (only read on the "no server" rows).
    var sockets: UnixSocketSource = noListeners
    let state: SessionState
    /// A fragment the reason must contain.
    let reason: String

    var testDescription: String { name }
}

/// /proc/net/unix as the kernel prints it, with the rows given.
func procNetUnix(_ rows: String...) -> String {
    "Num       RefCount Protocol Flags    Type St Inode Path\n" + rows.map { $0 + "\n" }.joined()
}

/// A table where nothing listens at the paths the rows name (a client
/// socket, a datagram socket and an abstract one only).
let noListeners = UnixSocketSource.fixed(procNetUnix(
    "0000000000000000: 00000003 00000000 00000000 0001 03 20001",
    "0000000000000000: 00000002 00000000 00000000 0002 01 20002 /run/systemd/notify",
    "0000000000000000: 00000002 00000000 00010000 0001 01 20003 @/tmp/.X11-unix/X0"))

/// A server listening on /tmp/tmux-0/work (its file may be gone), pid 4242.
let listenerAtWork = UnixSocketSource.fixed(procNetUnix(
    "0000000000000000: 00000002 00000000 00010000 0001 01 30001 /tmp/tmux-0/work"), owners: [30001: 4242])

/// A server of the same socket name under another TMUX_TMPDIR.
let listenerElsewhere = UnixSocketSource.fixed(procNetUnix(
    "0000000000000000: 00000002 00000000 00010000 0001 01 30002 /run/other/tmux-0/work"))

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
    TmuxRow(name: "no server running on, but a server listens there (file replaced): unknown", termination: .exited(1),
            stderr: "no server running on /tmp/tmux-0/work\n", sockets: listenerAtWork, state: .unknown, reason: "kill -USR1 4242"),
    TmuxRow(name: "ENOENT, but a server listens on the deleted path: unknown with the pid", termination: .exited(1),
            stderr: "error connecting to /tmp/tmux-0/work (No such file or directory)\n", sockets: listenerAtWork,
            state: .unknown, reason: "a tmux server (pid 4242) still listens on /tmp/tmux-0/work"),
    TmuxRow(name: "ENOENT, same socket name under another TMUX_TMPDIR: unknown naming it", termination: .exited(1),
            stderr: "error connecting to /tmp/tmux-0/work (No such file or directory)\n", sockets: listenerElsewhere,
            state: .unknown, reason: "listens at /run/other/tmux-0/work"),
    TmuxRow(name: "ENOENT, socket table unreadable: unknown", termination: .exited(1),
            stderr: "error connecting to /tmp/tmux-0/work (No such file or directory)\n",
            sockets: .unavailable("/proc/net/unix cannot be read (EACCES)"), state: .unknown, reason: "cannot be checked"),
    TmuxRow(name: "no server running on, socket table not the kernel's format: unknown", termination: .exited(1),
            stderr: "no server running on /tmp/tmux-0/work\n", sockets: .fixed("garbage\n"), state: .unknown, reason: "not called missing"),
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
    TmuxRow(name: "list exit 1 ENOENT with a listener on the deleted path is unknown", termination: .exited(1),
            stderr: "error connecting to /tmp/tmux-0/work (No such file or directory)\n", sockets: listenerAtWork,
            state: .unknown, reason: "kill -USR1 4242"),
    TmuxRow(name: "list exit 1 no server running, same name elsewhere, is unknown", termination: .exited(1),
            stderr: "no server running on /tmp/tmux-0/work\n", sockets: listenerElsewhere, state: .unknown, reason: "/run/other/tmux-0/work"),
    TmuxRow(name: "list exit 1 no server, socket table unreadable, is unknown", termination: .exited(1),
            stderr: "no server running on /tmp/tmux-0/x\n", sockets: .unavailable("no /proc/net/unix on this platform"),
            state: .unknown, reason: "no /proc/net/unix"),
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
        let answer = TmuxBackend.classify(outcome, program: "tmux", timeout: .seconds(3), sockets: row.sockets)
        #expect(answer.state == row.state, "\(answer)")
        #expect(answer.reason.contains(row.reason), "\(answer.reason)")
    }

    /// Listing rows: `exists` stands for "a live set" (checked against `a`,
    /// `b b`), `missing` for "an authoritative empty set".
    @Test(arguments: listingRows)
    func listing(_ row: TmuxRow) {
        let stdout = row.termination == .exited(0) ? "a\nb b\n\n" : ""
        let outcome = Outcome(termination: row.termination, stdout: captured(stdout), stderr: captured(row.stderr))
        let listing = TmuxBackend.classifyListing(outcome, program: "tmux", timeout: .seconds(3), sockets: row.sockets)
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

    @Test("a no-server answer reads the socket table once, and only then")
    func socketTableReadOnlyOnNoServer() {
        let reads = Atomic<Int>(0)
        let counting = UnixSocketSource(table: {
            reads.add(1, ordering: .relaxed)
            return .success(UnixSocketTable(entries: []))
        })
        let missing = Outcome(termination: .exited(1), stderr: captured("can't find session: x\n"))
        #expect(TmuxBackend.classify(missing, sockets: counting).state == .missing)
        #expect(TmuxBackend.classify(Outcome(termination: .exited(0)), sockets: counting).state == .exists)
        #expect(reads.load(ordering: .relaxed) == 0)
        let noServer = Outcome(termination: .exited(1), stderr: captured("no server running on /tmp/tmux-0/x\n"))
        #expect(TmuxBackend.classify(noServer, sockets: counting).state == .missing)
        #expect(reads.load(ordering: .relaxed) == 1)
        _ = TmuxBackend.classifyListing(noServer, sockets: counting)
        #expect(reads.load(ordering: .relaxed) == 2)
    }

    @Test("a resolution to the name asked is exists; another name needs a listing; nothing printed is unknown")
    func resolution() {
        func run(_ stdout: String, truncated: Bool = false) -> TmuxBackend.Resolution {
            TmuxBackend.classifyResolution(Outcome(termination: .exited(0), stdout: captured(stdout, truncated: truncated)),
                                           name: "bmx-a b", sockets: noListeners)
        }
        guard case .answer(let exists) = run("bmx-a b\n") else { Issue.record("expected an answer"); return }
        #expect(exists.state == .exists)
        #expect(run("bmx-x\n") == .otherSession("bmx-x"))
        #expect(run("bmx-a b") == .answer(.unknown(reason: "tmux exit 0 without a whole line on stdout")))
        #expect(run("bmx-a b\n", truncated: true) == .answer(.unknown(reason: "tmux exit 0 without a whole line on stdout")))
        #expect(run("\n") == .answer(.unknown(reason: "tmux printed no single session name")))
        #expect(run("bmx-a b\nbmx-a b\n") == .answer(.unknown(reason: "tmux printed no single session name")))
        let failed = TmuxBackend.classifyResolution(Outcome(termination: .exited(1), stderr: captured("can't find session: bmx-a b\n")),
                                                    name: "bmx-a b", sockets: noListeners)
        guard case .answer(let missing) = failed else { Issue.record("expected an answer"); return }
        #expect(missing.state == .missing)
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
