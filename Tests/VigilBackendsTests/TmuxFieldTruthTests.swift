// A live session is never called missing: real tmux 3.3a on private
// sockets and private TMUX_TMPDIRs, with the socket file deleted under a
// live server, a daemon whose TMUX_TMPDIR differs from the server's, a real
// attached client whose tty is asked as a session name, and a thousand
// concurrent probes against one server.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import VigilBackends
import VigilCore
import VigilTestSupport

@Suite("tmux field truth, real server", .serialized, .timeLimit(.minutes(2)))
struct TmuxFieldTruthTests {
    // MARK: - The socket file is not the server

    @Test("socket file deleted under a live server: unknown with the pid and kill -USR1; after it, exists")
    func deletedSocket() async throws {
        try await withTmuxServer { server in
            try server.createSession("bmx-aaaa1111")
            let pid = try server.serverPID()
            let path = try server.reportedSocketPath()
            #expect(unlink(path) == 0)
            let backend = TmuxBackend(configuration: server.configuration(retry: .none))

            let probe = await backend.probe("bmx-aaaa1111")
            #expect(probe.answer.state == .unknown, "\(probe.answer)")
            #expect(probe.answer.reason.contains("pid \(pid)"), "\(probe.answer.reason)")
            #expect(probe.answer.reason.contains("kill -USR1 \(pid)"), "\(probe.answer.reason)")
            #expect(probe.answer.reason.contains("deleted"), "\(probe.answer.reason)")
            #expect(backend.probeSynchronously("bmx-aaaa1111").answer.state == .unknown)
            guard case .unknown(let why) = await backend.list().answer else {
                Issue.record("a listing must not be an empty set while the server listens")
                return
            }
            #expect(why.contains("kill -USR1 \(pid)"))
            let (_, answers) = await backend.probeAll(["bmx-aaaa1111", "bmx-gone"])
            #expect(answers["bmx-aaaa1111"]?.state == .unknown)
            #expect(answers["bmx-gone"]?.state == .unknown)
            let killed = await backend.kill("bmx-aaaa1111")
            #expect(killed.status == .failed, "never 'already gone' for a server that listens: \(killed)")

            // The recovery the reason names: tmux recreates its socket.
            #expect(kill(pid, SIGUSR1) == 0)
            #expect(waitForFile(path, milliseconds: 20_000))
            let after = await backend.probe("bmx-aaaa1111")
            #expect(after.answer.state == .exists, "\(after.answer)")
        }
    }

    @Test("socket file replaced by a regular file under a live server: unknown, not missing")
    func replacedSocket() async throws {
        try await withTmuxServer { server in
            try server.createSession("bmx-aaaa1111")
            let path = try server.reportedSocketPath()
            #expect(unlink(path) == 0)
            try writeFile(path, "")
            let backend = TmuxBackend(configuration: server.configuration(retry: .none))
            let probe = await backend.probe("bmx-aaaa1111")
            #expect(probe.answer.state == .unknown, "\(probe.answer)")
            #expect(probe.answer.reason.contains("no server running on"), "\(probe.answer.reason)")
            #expect(probe.answer.reason.contains("not the socket it listens on"), "\(probe.answer.reason)")
        }
    }

    @Test("a daemon with another TMUX_TMPDIR: unknown naming the server's path, for probe and listing")
    func tmuxTmpdirMismatch() async throws {
        let started = try TemporaryDirectory()
        let other = try TemporaryDirectory()
        // The only `default` server of this test process while it runs: the
        // reason names "the" other server of that socket name (DefaultSocketServers).
        try await withDefaultSocketServers(exclusive: true) {
        try await withTmuxServer(socket: .default, tmuxTmpdir: started.path) { server in
            try server.createSession("bmx-aaaa1111")
            let serverPath = try server.reportedSocketPath()
            let daemon = TmuxBackend(configuration: TmuxConfiguration(
                socket: .default, environment: .inherited(setting: ["TMUX_TMPDIR": other.path]),
                timeout: testTimeout, retry: .none, spawner: Spawner()))
            let probe = await daemon.probe("bmx-aaaa1111")
            #expect(probe.answer.state == .unknown, "\(probe.answer)")
            #expect(probe.answer.reason.contains(serverPath), "\(probe.answer.reason)")
            #expect(probe.answer.reason.contains("TMUX_TMPDIR"), "\(probe.answer.reason)")
            guard case .unknown(let why) = await daemon.list().answer else {
                Issue.record("a listing from the wrong TMUX_TMPDIR must not be an empty set")
                return
            }
            #expect(why.contains(serverPath))
            // Asked through the right TMUX_TMPDIR, the same session exists.
            #expect(await TmuxBackend(configuration: server.configuration()).probe("bmx-aaaa1111").answer.state == .exists)
        }
        }
    }

    @Test("a server that is really gone is still missing: killed (stale file) and never started")
    func reallyGone() async throws {
        try await withTmuxServer { server in
            try server.createSession("bmx-aaaa1111")
            let path = try server.reportedSocketPath()
            let pid = try server.serverPID()
            let backend = TmuxBackend(configuration: server.configuration(retry: .none))
            #expect(server.run(["kill-server"]).termination == .exited(0))
            // kill-server returns before the server has exited; until then a
            // client may still connect and be dropped ("server exited unexpectedly").
            #expect(waitUntil(milliseconds: 20_000) { !isRunning(pid) })
            #expect(access(path, F_OK) == 0, "tmux 3.3a leaves its socket file behind")
            let probe = await backend.probe("bmx-aaaa1111")
            #expect(probe.answer.state == .missing, "\(probe.answer)")
            #expect(probe.answer.reason.contains("no server listens at \(path)"), "\(probe.answer.reason)")
            guard case .live(let names, _) = await backend.list().answer else {
                Issue.record("a dead server lists as an authoritative empty set")
                return
            }
            #expect(names.isEmpty)
            unlink(path)
            #expect(await backend.probe("bmx-aaaa1111").answer.state == .missing)
        }
    }

    @Test("where the socket table cannot be read, no server is unknown, never missing")
    func tableUnavailable() async throws {
        try await withTmuxServer { server in
            var configuration = server.configuration(retry: .none)
            configuration.sockets = .unavailable("no /proc/net/unix on this platform")
            let backend = TmuxBackend(configuration: configuration)
            let probe = await backend.probe("bmx-aaaa1111")
            #expect(probe.answer.state == .unknown, "\(probe.answer)")
            #expect(probe.answer.reason.contains("no /proc/net/unix"), "\(probe.answer.reason)")
            guard case .unknown = await backend.list().answer else {
                Issue.record("unconfirmed 'no server' must not list as an empty set")
                return
            }
        }
    }

    // MARK: - A client's tty is not a session

    @Test("a real attached client's tty, with or without /dev/, is never a session")
    func clientNameIsNotASession() async throws {
        try await withTmuxServer { server in
            try server.createSession("bmx-x")
            try server.createSession("bmx-keep")
            let client = try server.attachClient(to: "bmx-x")
            defer { client.detach() }
            let tty = client.tty
            #expect(tty.hasPrefix("/dev/"))
            let short = String(tty.dropFirst("/dev/".count))
            // The hazard: tmux resolves the tty to the client's session, even with '='.
            #expect(server.run(["has-session", "-t", "=" + short]).termination == .exited(0))
            #expect(server.run(["has-session", "-t", "=" + tty]).termination == .exited(0))

            let backend = TmuxBackend(configuration: server.configuration())
            for name in [short, tty] {
                let probe = await backend.probe(name)
                #expect(probe.answer.state == .missing, "\(name): \(probe.answer)")
                #expect(probe.answer.reason.contains("bmx-x"), "\(probe.answer.reason)")
                #expect(backend.probeSynchronously(name).answer.state == .missing)
                let killed = await backend.kill(name)
                #expect(killed.status == .alreadyGone, "\(killed)")
            }
            #expect(server.has("bmx-x"), "killing a tty's name must not kill the client's session")
            #expect(await backend.probe("bmx-x").answer.state == .exists)

            // A real session that carries a tty's name is still found exactly.
            try server.createSession(short)
            #expect(await backend.probe(short).answer.state == .exists)
            let killed = await backend.kill(short)
            #expect(killed.status == .killed, "\(killed)")
            #expect(server.has("bmx-x") && server.has("bmx-keep"))
        }
    }

    @Test("a name ending in ';' is asked as itself, not as the name without it")
    func trailingSemicolon() async throws {
        try await withTmuxServer { server in
            try server.createSession("bmx-x")
            // tmux would end the command at 'bmx-y;': escape it to create it.
            #expect(server.run(["-f", "/dev/null", "new-session", "-d", "-s", "bmx-y\\;", "sleep", "3600"]).termination == .exited(0))
            // The hazard: unescaped, '=bmx-x;' asks about bmx-x.
            #expect(server.run(["has-session", "-t", "=bmx-x;"]).termination == .exited(0))
            let backend = TmuxBackend(configuration: server.configuration())
            #expect(await backend.probe("bmx-x;").answer.state == .missing)
            #expect(await backend.probe("bmx-y;").answer.state == .exists)
            #expect(await backend.probe("bmx-y").answer.state == .missing)
            #expect(await backend.kill("bmx-x;").status == .alreadyGone)
            #expect(server.has("bmx-x"))
            #expect(await backend.kill("bmx-y;").status == .killed)
        }
    }

    // MARK: - One server, many callers

    @Test("100 concurrent probes through one backend: every answer right, never more than the bound at once")
    func manyConcurrentProbes() async throws {
        try await withTmuxServer { server in
            let names = (0..<40).map { "bmx-\($0)" }
            for name in names.prefix(20) { try server.createSession(name) }
            // The real tmux behind a wrapper that notes how many calls are in flight as each starts.
            let dir = try TemporaryDirectory()
            let inflight = try dir.makeDirectory("inflight")
            let wrapper = try dir.fixture("tmux", """
            #!/bin/sh
            : > '\(inflight)/'$$
            ls '\(inflight)' | wc -l >> '\(dir.file("counts"))'
            tmux "$@"
            rc=$?
            rm -f '\(inflight)/'$$
            exit $rc

            """)
            var configuration = server.configuration(retry: defaultRetryUnderLoad)
            configuration.executable = wrapper
            configuration.maxConcurrentCallsPerServer = 3
            let backend = TmuxBackend(configuration: configuration)
            let states = await withTaskGroup(of: (String, SessionState).self) { group in
                for i in 0..<100 {
                    let name = names[i % names.count]
                    group.addTask { (name, await backend.probe(name).answer.state) }
                }
                var all: [(String, SessionState)] = []
                for await r in group { all.append(r) }
                return all
            }
            #expect(states.count == 100)
            for (name, state) in states {
                let expected: SessionState = names.prefix(20).contains(name) ? .exists : .missing
                #expect(state == expected, "\(name)")
            }
            let counts = dir.lines("counts").compactMap { Int($0.filter { $0 != " " }) }
            #expect(counts.count >= 100)
            #expect((counts.max() ?? 0) <= 3, "calls in flight at once: up to \(counts.max() ?? 0)")
            #expect(backend.serverGate.holders == 0)
        }
    }

    @Test("no turn before the deadline, or cancelled while waiting: unknown, and nothing runs")
    func noTurn() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try Fixture(in: dir, name: "tmux", body: "exec sleep 1000")
        let configuration = TmuxConfiguration(executable: fixture.path, socket: .name("vigil-gate-\(nextTestID())"),
                                              timeout: .seconds(600), retry: .none, spawner: Spawner(), maxConcurrentCallsPerServer: 1)
        let backend = TmuxBackend(configuration: configuration)
        // One call takes the only turn and hangs.
        let holder = Task { await backend.probe("bmx-a") }
        while fixture.calls.isEmpty { try await Task.sleep(for: .milliseconds(5)) }

        // Another backend on the same spawner and server shares the gate.
        var short = configuration
        short.retry = RetryPolicy(maxAttempts: 1, overallDeadline: .milliseconds(100))
        let late = await TmuxBackend(configuration: short).probe("bmx-b")
        #expect(late.answer.state == .unknown)
        #expect(late.answer.reason.contains("no turn at the tmux server"), "\(late.answer.reason)")

        let waiting = Task { await backend.probe("bmx-c") }
        while backend.serverGate.waiting < 1 { try await Task.sleep(for: .milliseconds(5)) }
        waiting.cancel()
        let cancelled = await waiting.value
        #expect(cancelled.answer.state == .unknown)
        #expect(cancelled.answer.reason.contains("cancelled while waiting"), "\(cancelled.answer.reason)")

        holder.cancel()
        #expect(await holder.value.answer.state == .unknown)
        #expect(fixture.calls.count == 1, "only the call that had the turn ran")
        #expect(backend.serverGate.holders == 0)
    }
}
