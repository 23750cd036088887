// ZellijBackend. zellij cannot be installed here, so these tests use the
// pure classifier with hand-made outcomes and `#!/bin/sh` fixture
// executables that reproduce zellij's documented output and exit codes:
// `list-sessions --no-formatting` prints `NAME [Created ... ago]` lines,
// optionally ending in ` (current)` or ` (EXITED - attach to resurrect)`;
// with no sessions it prints "No active zellij sessions found." on stderr
// and exits 1. The fixtures log their argv so the tests can assert the exact
// command lines.
import Testing
import VigilBackends
import VigilCore
import VigilTestSupport

struct ZellijRow: Sendable, CustomTestStringConvertible {
    let name: String
    var termination: Termination = .exited(0)
    var stdout = ""
    var stderr = ""
    var truncated = false
    /// Expected state per probed name; empty when the listing must be unknown.
    var expect: [String: SessionState] = [:]
    /// A fragment the reason (of `unknown`, or of `reasonOf`) must contain.
    var reason = ""
    var reasonOf: String? = nil

    var testDescription: String { name }
}

private let sample = """
bmx-aaaa1111 [Created 2h 5m 3s ago]
bmx-bbbb2222 [Created 10s ago] (current)
bmx-cccc3333 [Created 1day 3h ago] (EXITED - attach to resurrect)

"""

private let zellijRows: [ZellijRow] = [
    ZellijRow(name: "running, current and exited sessions", stdout: sample,
              expect: ["bmx-aaaa1111": .exists, "bmx-bbbb2222": .exists, "bmx-cccc3333": .missing, "bmx-dddd4444": .missing],
              reason: "resurrect", reasonOf: "bmx-cccc3333"),
    ZellijRow(name: "prefix, substring and suffix of a live name are missing", stdout: sample,
              expect: ["bmx-aaaa": .missing, "aaaa1111": .missing, "bmx-aaaa1111 ": .missing, "bmx-aaaa111": .missing]),
    ZellijRow(name: "a name with spaces is matched whole", stdout: "my work session [Created 5s ago]\n",
              expect: ["my work session": .exists, "my": .missing, "work session": .missing]),
    ZellijRow(name: "colour codes are stripped",
              stdout: "\u{1B}[32;1mbmx-aaaa1111\u{1B}[m [Created \u{1B}[35;1m3s\u{1B}[m ago] \u{1B}[31;1m(EXITED - attach to resurrect)\u{1B}[m\n\u{1B}[32;1mbmx-bbbb2222\u{1B}[m [Created \u{1B}[35;1m1m\u{1B}[m ago]\n",
              expect: ["bmx-aaaa1111": .missing, "bmx-bbbb2222": .exists], reason: "EXITED", reasonOf: "bmx-aaaa1111"),
    ZellijRow(name: "CRLF line ends", stdout: "bmx-aaaa1111 [Created 1s ago]\r\n",
              expect: ["bmx-aaaa1111": .exists]),
    ZellijRow(name: "no sessions: message on stderr, exit 1", termination: .exited(1),
              stderr: "No active zellij sessions found.\n", expect: ["bmx-aaaa1111": .missing],
              reason: "No active zellij sessions found.", reasonOf: "bmx-aaaa1111"),
    ZellijRow(name: "no sessions: message on stdout, exit 1", termination: .exited(1),
              stdout: "No active zellij sessions found.\n", expect: ["bmx-aaaa1111": .missing]),
    ZellijRow(name: "no sessions: message on stdout, exit 0 (older releases)",
              stdout: "No active zellij sessions found.\n", expect: ["bmx-aaaa1111": .missing]),
    ZellijRow(name: "no sessions message with colour", termination: .exited(1),
              stderr: "\u{1B}[1mNo active zellij sessions found.\u{1B}[0m\n", expect: ["bmx-aaaa1111": .missing]),
    ZellijRow(name: "no sessions message plus another line is unknown", termination: .exited(1),
              stderr: "No active zellij sessions found.\nError: something else\n", reason: "exit 1"),
    ZellijRow(name: "other exit 1 error is unknown", termination: .exited(1),
              stderr: "Error occurred: Os { code: 13, kind: PermissionDenied }\n", reason: "Error occurred"),
    ZellijRow(name: "exit 2 is unknown", termination: .exited(2), stderr: "error: unexpected argument\n", reason: "exit 2"),
    ZellijRow(name: "exit 0 with no output is unknown", reason: "printed no sessions"),
    ZellijRow(name: "an unparseable line is unknown", stdout: "bmx-aaaa1111 [Created 1s ago]\ngarbage here\n", reason: "unrecognised line"),
    ZellijRow(name: "the old format without a created stamp is unknown", stdout: "bmx-aaaa1111 (current)\n", reason: "unrecognised line"),
    ZellijRow(name: "an empty name is unknown", stdout: " [Created 1s ago]\n", reason: "unrecognised line"),
    ZellijRow(name: "truncated output is unknown", stdout: sample, truncated: true, reason: "incomplete"),
    ZellijRow(name: "timeout is unknown", termination: .timedOut(.kill), reason: "timed out after 3000 ms"),
    ZellijRow(name: "signal is unknown", termination: .signaled(.abort), reason: "SIGABRT"),
    ZellijRow(name: "spawn ENOENT is unknown", termination: .spawnFailed(.noSuchFile), reason: "zellij not found on PATH (ENOENT)"),
]

@Suite("zellij backend")
struct ZellijBackendTests {
    @Test(arguments: zellijRows)
    func classification(_ row: ZellijRow) {
        let outcome = Outcome(termination: row.termination, stdout: captured(row.stdout, truncated: row.truncated),
                              stderr: captured(row.stderr))
        let inventory = ZellijBackend.classifyListing(outcome, program: "zellij", timeout: .seconds(3))
        if row.expect.isEmpty {
            guard case .unknown(let reason) = inventory else {
                Issue.record("expected unknown, got \(inventory)")
                return
            }
            #expect(reason.contains(row.reason), "\(reason)")
            #expect(ZellijBackend.classify(outcome, name: "bmx-aaaa1111").state == .unknown)
            return
        }
        for (name, state) in row.expect {
            #expect(inventory.probe(name).state == state, "\(name): \(inventory.probe(name))")
            #expect(ZellijBackend.classify(outcome, name: name).state == state)
        }
        if let reasonOf = row.reasonOf {
            #expect(inventory.probe(reasonOf).reason.contains(row.reason), "\(inventory.probe(reasonOf).reason)")
        }
    }

    @Test func exitedSessionsAreNotInTheLiveList() {
        let outcome = Outcome(termination: .exited(0), stdout: captured(sample))
        guard case .live(let names, _) = ZellijBackend.classifyListing(outcome).listing else {
            Issue.record("expected a live listing")
            return
        }
        #expect(names == ["bmx-aaaa1111", "bmx-bbbb2222"])
    }

    // MARK: - Through fixture executables

    /// A fake zellij: `list-sessions` prints `listing` (or the no-sessions
    /// message with exit 1 when empty); kill-session and delete-session exit 0.
    private func fakeZellij(_ dir: TemporaryDirectory, listing: String) throws -> Fixture {
        try dir.write("listing", listing)
        return try Fixture(in: dir, name: "zellij", body: """
        case "$1" in
        list-sessions)
            if [ -s '\(dir.file("listing"))' ]; then cat '\(dir.file("listing"))'; exit 0; fi
            echo 'No active zellij sessions found.' >&2; exit 1 ;;
        kill-session) exit 0 ;;
        delete-session) exit 0 ;;
        *) echo "unexpected $1" >&2; exit 2 ;;
        esac
        """)
    }

    private func backend(_ fixture: Fixture, retry: RetryPolicy = quickRetry()) -> ZellijBackend {
        ZellijBackend(configuration: ZellijConfiguration(executable: fixture.path, timeout: testTimeout, retry: retry, spawner: Spawner()))
    }

    @Test func probeListsOnceAndMatchesExactly() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try fakeZellij(dir, listing: sample)
        let zellij = backend(fixture)
        let live = await zellij.probe("bmx-aaaa1111")
        #expect(live.answer.state == .exists)
        #expect(live.attempts == 1)
        let exited = await zellij.probe("bmx-cccc3333")
        #expect(exited.answer.state == .missing)
        #expect(exited.answer.reason.contains("can be resurrected"))
        #expect(await zellij.probe("bmx-aaaa").answer.state == .missing)
        #expect(zellij.probeSynchronously("bmx-bbbb2222").answer.state == .exists)
        #expect(fixture.calls.allSatisfy { $0 == "[list-sessions][--no-formatting]" })
        #expect(fixture.calls.count == 4)
    }

    @Test func noSessionsIsAuthoritativeAndNotRetried() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try fakeZellij(dir, listing: "")
        let probe = await backend(fixture).probe("bmx-aaaa1111")
        #expect(probe.answer.state == .missing, "\(probe.answer)")
        #expect(probe.attempts == 1)
        #expect(fixture.calls.count == 1)
    }

    @Test func probeAllUsesOneListing() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try fakeZellij(dir, listing: sample)
        let (listing, answers) = await backend(fixture).probeAll(["bmx-aaaa1111", "bmx-cccc3333", "bmx-x", "-bad", "a/b"])
        #expect(fixture.calls.count == 1)
        #expect(listing.answer.probe("bmx-aaaa1111").state == .exists)
        #expect(answers["bmx-aaaa1111"]?.state == .exists)
        #expect(answers["bmx-cccc3333"]?.state == .missing)
        #expect(answers["bmx-cccc3333"]?.reason.contains("EXITED") == true)
        #expect(answers["bmx-x"]?.state == .missing)
        #expect(answers["-bad"]?.state == .unknown)
        #expect(answers["a/b"]?.state == .unknown)
    }

    @Test func killRunningSessionKillsThenDeletes() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try fakeZellij(dir, listing: sample)
        let result = await backend(fixture).kill("bmx-aaaa1111")
        #expect(result.status == .killed, "\(result)")
        #expect(fixture.calls == [
            "[list-sessions][--no-formatting]",
            "[kill-session][bmx-aaaa1111]",
            "[delete-session][bmx-aaaa1111][--force]",
        ])
        #expect(result.reason == "zellij kill-session exit 0; zellij delete-session --force exit 0")
        #expect(result.attempts == 1)
    }

    @Test func killExitedSessionOnlyDeletes() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try fakeZellij(dir, listing: sample)
        let result = await backend(fixture).kill("bmx-cccc3333")
        #expect(result.status == .killed, "\(result)")
        #expect(fixture.calls == ["[list-sessions][--no-formatting]", "[delete-session][bmx-cccc3333][--force]"])
    }

    @Test func killAbsentSessionIsAlreadyGone() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try fakeZellij(dir, listing: sample)
        let result = await backend(fixture).kill("bmx-aaaa")
        #expect(result.status == .alreadyGone, "\(result)")
        #expect(result.succeeded)
        #expect(fixture.calls == ["[list-sessions][--no-formatting]"])
    }

    @Test func killWhenListingFailsIsFailedAfterRetries() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try Fixture(in: dir, name: "zellij", body: "echo 'Error occurred: boom' >&2; exit 1")
        let result = await backend(fixture).kill("bmx-aaaa1111")
        #expect(result.status == .failed, "\(result)")
        #expect(result.attempts == 3)
        #expect(result.reason.contains("Error occurred: boom"))
        #expect(fixture.calls.count == 3)
    }

    @Test func failedDeleteIsFailed() async throws {
        let dir = try TemporaryDirectory()
        try dir.write("listing", sample)
        let fixture = try Fixture(in: dir, name: "zellij", body: """
        case "$1" in
        list-sessions) cat '\(dir.file("listing"))' ;;
        kill-session) exit 0 ;;
        *) echo 'Error: cannot delete' >&2; exit 1 ;;
        esac
        """)
        let result = await backend(fixture, retry: .none).kill("bmx-aaaa1111")
        #expect(result.status == .failed, "\(result)")
        #expect(result.reason.contains("cannot delete"))
    }

    @Test func missingBinaryIsUnknown() async {
        let zellij = ZellijBackend(configuration: ZellijConfiguration(executable: "vigil-no-such-zellij", timeout: testTimeout, retry: quickRetry(2), spawner: Spawner()))
        let probe = await zellij.probe("bmx-aaaa1111")
        #expect(probe.answer.state == .unknown)
        #expect(probe.answer.reason.contains("ENOENT"))
        #expect(probe.attempts == 2)
    }

    @Test func invalidNamesAreNeverSent() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try fakeZellij(dir, listing: sample)
        let zellij = backend(fixture)
        for name in ["", "-x", "a/b", " lead", "trail ", "nl\nx"] {
            #expect(await zellij.probe(name).attempts == 0, "\(name.debugDescription)")
            let killed = await zellij.kill(name)
            #expect(killed.status == .rejected)
            #expect(killed.attempts == 0)
            #expect(throws: SessionNameError.self) { try zellij.validate(name) }
            do { try zellij.validate(name) } catch { #expect(killed.reason == error.description) }
        }
        #expect(fixture.calls.isEmpty)
        #expect(throws: SessionNameError(code: .forbiddenCharacter, name: "a/b", backend: .zellij,
                                         detail: "it holds '/', which zellij uses the name as a file name in its socket directory")) {
            try zellij.validate("a/b")
        }
    }

    @Test("the configuration reads back as given")
    func configurationAsGiven() {
        let retry = RetryPolicy(maxAttempts: 5)
        let zellij = ZellijBackend(configuration: ZellijConfiguration(executable: "/opt/zellij", timeout: .milliseconds(1234), retry: retry, spawner: Spawner()))
        #expect(zellij.configuration.executable == "/opt/zellij")
        #expect(zellij.configuration.timeout == .milliseconds(1234))
        #expect(zellij.configuration.retry == retry)
        #expect(ZellijConfiguration(spawner: Spawner()).executable == "zellij")
        #expect(zellij.kind == .zellij)
    }
}
