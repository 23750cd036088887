// TmuxBackend against a real tmux (3.3a here) on private sockets: each test
// makes its own `-L vigil-test-t-<pid>-<n>` (or `-S` path, or TMUX_TMPDIR)
// server through the core Spawner, and kills it at the end, pass or fail.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import VigilBackends
import VigilCore
import VigilTestSupport

@Suite("tmux backend, real server", .serialized, .timeLimit(.minutes(1)))
struct TmuxBackendTests {
    @Test func createdSessionExists() async throws {
        try await withTmuxServer { server in
            try server.createSession("bmx-deadbeef")
            let backend = TmuxBackend(configuration: server.configuration())
            let probe = await backend.probe("bmx-deadbeef")
            #expect(probe.answer.state == .exists, "\(probe.answer)")
            #expect(probe.attempts == 1)
            // The answer carries what its one tmux client cost.
            #expect(probe.usage.children == 1 && probe.usage.unmeasured == 0, "\(probe.usage)")
            #expect(probe.usage.cpuTime > .zero, "\(probe.usage)")
            #expect(probe.usage.peakMemory.upperBound != nil, "\(probe.usage)")
            #expect(await backend.hasSession("bmx-deadbeef"))
            let blocking = backend.probeSynchronously("bmx-deadbeef")
            #expect(blocking.answer.state == .exists)
            #expect(blocking.usage.children == 1 && blocking.usage.cpuTime > .zero, "\(blocking.usage)")
        }
    }

    @Test func prefixOfALiveNameIsMissing() async throws {
        try await withTmuxServer { server in
            try server.createSession("bmx-deadbeef")
            let backend = TmuxBackend(configuration: server.configuration())
            // Without '=' tmux would match the prefix: prove it, then prove the backend does not.
            #expect(server.run(["has-session", "-t", "bmx-dead"]).termination == .exited(0))
            let probe = await backend.probe("bmx-dead")
            #expect(probe.answer.state == .missing, "\(probe.answer)")
            #expect(probe.answer.reason.contains("can't find session"))
            #expect(probe.attempts == 1)
        }
    }

    @Test func globMatchingALiveNameIsMissing() async throws {
        try await withTmuxServer { server in
            try server.createSession("bmx-deadbeef")
            let backend = TmuxBackend(configuration: server.configuration())
            #expect(server.run(["has-session", "-t", "bmx-*"]).termination == .exited(0))
            #expect(await backend.probe("bmx-*").answer.state == .missing)
            #expect(await backend.probe("bmx-deadbee?").answer.state == .missing)
        }
    }

    @Test func killedSessionIsMissing() async throws {
        try await withTmuxServer { server in
            try server.createSession("bmx-keepalive")
            try server.createSession("bmx-deadbeef")
            let backend = TmuxBackend(configuration: server.configuration())
            let killed = await backend.kill("bmx-deadbeef")
            #expect(killed.status == .killed, "\(killed)")
            let probe = await backend.probe("bmx-deadbeef")
            #expect(probe.answer.state == .missing, "\(probe.answer)")
            let again = await backend.kill("bmx-deadbeef")
            #expect(again.status == .alreadyGone, "\(again)")
            #expect(await backend.probe("bmx-keepalive").answer.state == .exists)
        }
    }

    @Test func killingAPrefixDoesNotKillTheLongerName() async throws {
        try await withTmuxServer { server in
            try server.createSession("bmx-deadbeef")
            let backend = TmuxBackend(configuration: server.configuration())
            let result = await backend.kill("bmx-dead")
            #expect(result.status == .alreadyGone, "\(result)")
            #expect(await backend.probe("bmx-deadbeef").answer.state == .exists)
        }
    }

    @Test func serverGoneIsMissingWithNoServerReason() async throws {
        try await withTmuxServer { server in
            try server.createSession("bmx-deadbeef")
            let backend = TmuxBackend(configuration: server.configuration())
            #expect(server.run(["kill-server"]).termination == .exited(0))
            let probe = await backend.probe("bmx-deadbeef")
            #expect(probe.answer.state == .missing, "\(probe.answer)")
            #expect(probe.answer.reason.contains("no server"), "\(probe.answer.reason)")
            let listing = await backend.list()
            #expect(listing.answer.probe("bmx-deadbeef").state == .missing, "\(listing.answer)")
        }
    }

    @Test func neverStartedSocketIsMissing() async throws {
        try await withTmuxServer { server in
            let backend = TmuxBackend(configuration: server.configuration())
            let probe = await backend.probe("bmx-deadbeef")
            #expect(probe.answer.state == .missing, "\(probe.answer)")
            #expect(probe.answer.reason.contains("No such file or directory"), "\(probe.answer.reason)")
            #expect(probe.attempts == 1)
            guard case .live(let names, _) = await backend.list().answer else {
                Issue.record("a never-started socket lists as an authoritative empty set")
                return
            }
            #expect(names.isEmpty)
        }
    }

    @Test func listIsExactAndProbeAllUsesOneCall() async throws {
        try await withTmuxServer { server in
            try server.createSession("bmx-deadbeef")
            try server.createSession("bmx-0000 two")
            let backend = TmuxBackend(configuration: server.configuration())
            let listing = await backend.list()
            guard case .live(let names, _) = listing.answer else {
                Issue.record("expected a live listing, got \(listing.answer)")
                return
            }
            #expect(names == ["bmx-deadbeef", "bmx-0000 two"])
            #expect(listing.usage.children == 1 && listing.usage.cpuTime > .zero, "\(listing.usage)")
            let (all, answers) = await backend.probeAll(["bmx-deadbeef", "bmx-dead", "bmx-0000 two", "a:b"])
            #expect(all.attempts == 1)
            #expect(all.usage.children == 1, "one listing call for every name: \(all.usage)")
            #expect(answers["bmx-deadbeef"]?.state == .exists)
            #expect(answers["bmx-dead"]?.state == .missing)
            #expect(answers["bmx-0000 two"]?.state == .exists)
            #expect(answers["a:b"]?.state == .unknown)
            #expect(answers["a:b"]?.reason.contains("invalid tmux session name") == true)
            #expect(backend.listSynchronously().answer == listing.answer)
        }
    }

    @Test func emptyServerWithExitEmptyOffIsMissing() async throws {
        try await withTmuxServer { server in
            // A server kept alive with zero sessions answers "no current target".
            #expect(server.run(["-f", "/dev/null", "start-server", ";", "set", "-g", "exit-empty", "off"]).termination == .exited(0))
            let backend = TmuxBackend(configuration: server.configuration())
            let probe = await backend.probe("bmx-deadbeef")
            #expect(probe.answer.state == .missing, "\(probe.answer)")
            #expect(probe.answer.reason.contains("no current target"))
        }
    }

    @Test func pathSocket() async throws {
        let dir = try TemporaryDirectory()
        try await withTmuxServer(socket: .path(dir.file("sock"))) { server in
            try server.createSession("bmx-deadbeef")
            let backend = TmuxBackend(configuration: server.configuration())
            #expect(await backend.probe("bmx-deadbeef").answer.state == .exists)
            #expect(await backend.probe("bmx-other").answer.state == .missing)
            // The same name on the default -L directory is another server: nothing there.
            let elsewhere = TmuxBackend(configuration: TmuxConfiguration(socket: .path(dir.file("other")), timeout: testTimeout, retry: quickRetry(), spawner: Spawner()))
            #expect(await elsewhere.probe("bmx-deadbeef").answer.state == .missing)
        }
    }

    /// With the default socket tmux takes its path from TMUX. The backend
    /// strips TMUX, so a bogus TMUX in its environment does not redirect it;
    /// keeping TMUX shows the hazard it guards against.
    @Test func tmuxEnvironmentIsStripped() async throws {
        let dir = try TemporaryDirectory()
        // Shares default sockets with other tests, never with the one that
        // must be alone (DefaultSocketServers).
        try await withDefaultSocketServers {
        try await withTmuxServer(socket: .default, tmuxTmpdir: dir.path) { server in
            try server.createSession("bmx-deadbeef")
            let bogus = Environment.inherited(setting: [
                "TMUX_TMPDIR": dir.path,
                "TMUX": dir.file("not-a-socket") + ",4242,0",
                "TMUX_PANE": "%99",
            ])
            let stripped = TmuxBackend(configuration: TmuxConfiguration(socket: .default, environment: bogus, timeout: testTimeout, retry: quickRetry(), spawner: Spawner()))
            let probe = await stripped.probe("bmx-deadbeef")
            #expect(probe.answer.state == .exists, "\(probe.answer)")

            let kept = TmuxBackend(configuration: TmuxConfiguration(
                socket: .default, environment: bogus, keepTmuxEnvironment: true, timeout: testTimeout, retry: quickRetry(), spawner: Spawner()))
            let misled = await kept.probe("bmx-deadbeef")
            #expect(misled.answer.state == .missing, "\(misled.answer)")
            #expect(misled.answer.reason.contains("not-a-socket"))
        }
        }
    }

    @Test func unsafeSocketDirectoryIsUnknown() async throws {
        let dir = try TemporaryDirectory()
        try dir.makeDirectory("tmux-\(getuid())", mode: 0o777)
        let backend = TmuxBackend(configuration: TmuxConfiguration(
            socket: .name("vigil-test-\(nextTestID())"),
            environment: .inherited(setting: ["TMUX_TMPDIR": dir.path]),
            timeout: testTimeout, retry: quickRetry(), spawner: Spawner()))
        let probe = await backend.probe("bmx-deadbeef")
        #expect(probe.answer.state == .unknown, "\(probe.answer)")
        #expect(probe.answer.reason.contains("unsafe permissions"), "\(probe.answer.reason)")
        #expect(probe.attempts == 3)
        guard case .unknown = await backend.list().answer else {
            Issue.record("listing through an unsafe directory must be unknown")
            return
        }
    }

    /// A socket path under a regular file: connect(2) fails with ENOTDIR,
    /// which tmux reports as "error connecting to ... (Not a directory)".
    @Test func socketUnderARegularFileIsUnknown() async throws {
        let dir = try TemporaryDirectory()
        try dir.write("plain", "not a directory\n")
        let backend = TmuxBackend(configuration: TmuxConfiguration(socket: .path(dir.file("plain") + "/sock"), timeout: testTimeout, retry: quickRetry(), spawner: Spawner()))
        let probe = await backend.probe("bmx-deadbeef")
        #expect(probe.answer.state == .unknown, "\(probe.answer)")
        #expect(probe.answer.reason.contains("error connecting"))
        #expect(probe.answer.reason.contains("Not a directory"))
    }

    /// A socket file with nothing listening (bound, never listened, closed):
    /// connect(2) gets ECONNREFUSED, which tmux itself words as "no server
    /// running on" (client.c), never "error connecting ... (Connection
    /// refused)". No server can be behind it, so this is `missing`.
    @Test func staleSocketFileIsMissing() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("stale")
        try bindStaleSocket(at: path)
        let backend = TmuxBackend(configuration: TmuxConfiguration(socket: .path(path), timeout: testTimeout, retry: quickRetry(), spawner: Spawner()))
        let probe = await backend.probe("bmx-deadbeef")
        #expect(probe.answer.state == .missing, "\(probe.answer)")
        #expect(probe.answer.reason.contains("no server running on"), "\(probe.answer.reason)")
    }

    /// A regular file where the socket should be: also ECONNREFUSED on Linux,
    /// so tmux says "no server running on" and the answer is `missing`.
    @Test func regularFileAtTheSocketPathIsMissing() async throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("regular", "")
        let backend = TmuxBackend(configuration: TmuxConfiguration(socket: .path(path), timeout: testTimeout, retry: quickRetry(), spawner: Spawner()))
        let probe = await backend.probe("bmx-deadbeef")
        #expect(probe.answer.state == .missing, "\(probe.answer)")
        #expect(probe.answer.reason.contains("no server running on"))
    }

    @Test func missingBinaryIsUnknownWithENOENT() async throws {
        let onPath = TmuxBackend(configuration: TmuxConfiguration(executable: "vigil-no-such-tmux", timeout: testTimeout, retry: quickRetry(), spawner: Spawner()))
        let probe = await onPath.probe("bmx-deadbeef")
        #expect(probe.answer.state == .unknown)
        #expect(probe.answer.reason.contains("vigil-no-such-tmux not found on PATH (ENOENT)"), "\(probe.answer.reason)")
        #expect(probe.attempts == 3)

        let byPath = TmuxBackend(configuration: TmuxConfiguration(executable: "/nonexistent/tmux", timeout: testTimeout, retry: .none, spawner: Spawner()))
        let answer = byPath.probeSynchronously("bmx-deadbeef").answer
        #expect(answer.state == .unknown)
        #expect(answer.reason.contains("ENOENT"))
        let killed = await byPath.kill("bmx-deadbeef")
        #expect(killed.status == .failed)
        #expect(killed.reason.contains("ENOENT"))
    }

    @Test func invalidNamesAreNeverSent() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try Fixture(in: dir, body: "echo bmx-deadbeef; exit 0")
        let backend = TmuxBackend(configuration: TmuxConfiguration(executable: fixture.path, timeout: testTimeout, retry: quickRetry(), spawner: Spawner()))
        for name in ["", "a:b", "a.b", "$1", "tab\there", "é"] {
            let probe = await backend.probe(name)
            #expect(probe.answer.state == .unknown, "\(name.debugDescription)")
            #expect(probe.answer.reason.contains("invalid tmux session name"))
            #expect(probe.attempts == 0)
            #expect(probe.usage == .none)
            let killed = await backend.kill(name)
            #expect(killed.status == .rejected)
            #expect(killed.attempts == 0)
        }
        #expect(fixture.calls.isEmpty)
        // A valid name reaches the executable with exactly the documented command line.
        _ = await backend.probe("bmx-deadbeef")
        #expect(fixture.calls == ["[has-session][-t][=bmx-deadbeef][;][display-message][-p][-t][=bmx-deadbeef:][#{session_name}]"])
    }

    @Test func commandLines() async throws {
        let dir = try TemporaryDirectory()
        // Prints what tmux would: the resolved session (with its id for a kill).
        let fixture = try Fixture(in: dir, body: """
        case "$*" in
        *session_id*) echo '$7 bmx-1' ;;
        *display-message*) echo "$5" | sed 's/^=//' ;;
        esac
        exit 0
        """)
        let backend = TmuxBackend(configuration: TmuxConfiguration(executable: fixture.path, socket: .name("work"), timeout: testTimeout, retry: .none, spawner: Spawner()))
        _ = await backend.probe("bmx-1")
        _ = await backend.list()
        _ = await backend.kill("bmx-1")
        let byPath = TmuxBackend(configuration: TmuxConfiguration(executable: fixture.path, socket: .path("/tmp/s"), timeout: testTimeout, retry: .none, spawner: Spawner()))
        _ = byPath.probeSynchronously("bmx-2")
        #expect(fixture.calls == [
            "[-L][work][has-session][-t][=bmx-1][;][display-message][-p][-t][=bmx-1:][#{session_name}]",
            "[-L][work][list-sessions][-F][#{session_name}]",
            "[-L][work][has-session][-t][=bmx-1][;][display-message][-p][-t][=bmx-1:][#{session_id} #{session_name}]",
            "[-L][work][kill-session][-t][$7]",
            "[-S][/tmp/s][has-session][-t][=bmx-2][;][display-message][-p][-t][=bmx-2:][#{session_name}]",
        ])
    }
}

/// Binds a unix socket at `path` and closes it without listening, leaving a
/// socket file nobody accepts on.
func bindStaleSocket(at path: String) throws {
    #if canImport(Glibc)
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_UNIX, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard bytes.count < capacity else { throw TestFailure("socket path too long") }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (i, b) in bytes.enumerated() { raw[i] = b }
        raw[bytes.count] = 0
    }
    let rc = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard rc == 0 else { throw TestFailure("bind \(path): errno \(errno)") }
}
