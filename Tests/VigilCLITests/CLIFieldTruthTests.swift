// The command line as a host process, tried as a hostile production host
// would: interrupted while its probes hang on a stopped tmux server, writing
// its report to a full disk, a closed stdout or a closed pipe, asked about a
// socket whose file was deleted under a live server, and asked many names
// at once. Real tmux on private sockets, the built binary.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import Testing
import VigilCore
import VigilStore
import VigilTestSupport

@Suite("vigil command line, field truth", .timeLimit(.minutes(3)))
struct CLIFieldTruthTests {
    // MARK: - Interrupted while probes run

    @Test("SIGINT and SIGTERM during probes of a stopped server: the tmux clients are ended, exit 130 and 143",
          arguments: [SIGINT, SIGTERM])
    func interrupted(signal: Int32) async throws {
        let server = TmuxServer(label: "cli-int")
        defer { server.tearDown() }
        try server.createSession("bmx-stopped")
        let serverPID = try server.serverPID()
        #expect(kill(serverPID, SIGSTOP) == 0)
        defer { kill(serverPID, SIGCONT) }

        let dir = try TemporaryDirectory()
        let command = WorkerCommand(VigilBinary.path, arguments: [
            "probe", "--backend", "tmux", "--socket", server.socketName, "--timeout-ms", "600000", "--retries", "0",
            "bmx-stopped",
        ], logPath: dir.file("output"), newSession: false)
        let exit = ExitWaiter()
        let launched = Spawner().launch(command, onExit: { exit.finish($0) })
        guard case .launched(let vigil) = launched else {
            Issue.record("vigil could not be started: \(launched)")
            return
        }
        // Wait (bounded, setup only) until vigil's tmux client hangs on the stopped server.
        // (tmux names its client process "tmux: client".)
        var clients: [Int32] = []
        for _ in 0..<3000 where clients.isEmpty {
            clients = childProcesses(of: vigil).filter { processName($0)?.hasPrefix("tmux") == true }
            if clients.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(!clients.isEmpty, "vigil started no tmux client")
        #expect(kill(vigil, signal) == 0)
        let outcome = await exit.wait()
        #expect(outcome.termination == .exited(128 + signal), "\(outcome.termination)")
        let output = dir.read("output") ?? ""
        #expect(output.contains("Error: interrupted by \(signal == SIGINT ? "SIGINT" : "SIGTERM")"), "\(output)")
        // Every client of that socket is gone (or has SIGKILL pending): none orphaned.
        for client in clients {
            #expect(isGoneOrDying(client), "tmux client \(client) outlived vigil")
        }
        let leftovers = processesMentioning(server.socketName).filter { $0 != serverPID && !isGoneOrDying($0) }
        #expect(leftovers.isEmpty, "tmux clients of \(server.socketName) still running: \(leftovers)")
    }

    // MARK: - A report that cannot be written

    @Test("a probe whose answers cannot be written exits 74: /dev/full, a closed stdout, a closed pipe",
          arguments: ["full", "closed", "pipe"])
    func unwritableAnswers(how: String) throws {
        let server = TmuxServer(label: "cli-74")
        defer { server.tearDown() }
        try server.createSession("bmx-aaaa1111")
        let o = runWithBrokenStdout(how, ["probe", "--backend", "tmux", "--socket", server.socketName, "bmx-aaaa1111"])
        #expect(o.termination == .exited(74), "\(o.termination) \(o.stderr.text)")
        let lines = o.stderr.text.split(separator: "\n")
        #expect(lines.count == 1, "\(o.stderr.text)")
        #expect(lines.first?.hasPrefix("Error: cannot write the answers to stdout: ") == true)
        let errno = ["full": "ENOSPC", "closed": "EBADF", "pipe": "EPIPE"][how]!
        #expect(o.stderr.text.contains(errno), "\(o.stderr.text)")
        #expect(o.stderr.text.contains("a probe changes nothing"))
    }

    @Test("a restore whose report cannot be written exits 74 and says the store was already committed",
          arguments: ["full", "closed"])
    func unwritableReport(how: String) throws {
        let server = TmuxServer(label: "cli-74r")
        defer { server.tearDown() }
        try server.createSession("bmx-aaaaaaaa")
        let dir = try TemporaryDirectory()
        let path = try dir.write("store.json", """
        {"version": 1, "sessions": [
          {"id": "aaaaaaaa-1", "backend": "tmux", "status": "active", "socket": "\(server.socketName)"},
          {"id": "bbbbbbbb-2", "backend": "tmux", "status": "active", "socket": "\(server.socketName)"}
        ]}
        """)
        let o = runWithBrokenStdout(how, ["restore", "--store", path, "--quiet"])
        #expect(o.termination == .exited(74), "\(o.termination) \(o.stderr.text)")
        #expect(o.stderr.text.split(separator: "\n").count == 1, "\(o.stderr.text)")
        #expect(o.stderr.text.contains("the store was already committed (close 1"), "\(o.stderr.text)")
        let after = try StoreFile(path: path).load()
        #expect(after.records.map(\.status) == [.active, .closed])

        let dry = runWithBrokenStdout(how, ["restore", "--store", path, "--dry-run", "--quiet"])
        #expect(dry.termination == .exited(74))
        #expect(dry.stderr.text.contains("dry run: the store was not changed"), "\(dry.stderr.text)")
    }

    @Test("a 20,000-record report cut off while it streams (/dev/full, a closed stdout, a closed pipe) exits 74 with one line",
          arguments: ["full", "closed", "pipe"])
    func unwritableLargeReport(how: String) throws {
        let dir = try TemporaryDirectory()
        var text = "{\"version\": 1, \"sessions\": [\n"
        for i in 0..<20_000 {
            text += "{\"id\": \"rec-\(i)\", \"backend\": \"tmux\", \"status\": \"active\", \"socket\": \"vigil-cut-none-\(getpid())\"}"
            text += i == 19_999 ? "\n" : ",\n"
        }
        let path = try dir.write("store.json", text + "]}\n")
        // The report (megabytes) fails at its first 64 KiB flush, long before its end.
        for mode in [["--json"], ["--verbose", "--quiet"]] {
            let dry = runWithBrokenStdout(how, ["restore", "--store", path, "--dry-run"] + mode)
            #expect(dry.termination == .exited(74), "\(mode) \(dry.termination) \(dry.stderr.text)")
            #expect(dry.stderr.text.split(separator: "\n").count == 1, "\(dry.stderr.text)")
            #expect(dry.stderr.text.hasPrefix("Error: cannot write the report to stdout: "), "\(dry.stderr.text)")
            #expect(dry.stderr.text.contains("dry run: the store was not changed"), "\(dry.stderr.text)")
        }
        let o = runWithBrokenStdout(how, ["restore", "--store", path, "--json"])
        #expect(o.termination == .exited(74), "\(o.termination) \(o.stderr.text)")
        #expect(o.stderr.text.split(separator: "\n").count == 1, "\(o.stderr.text)")
        #expect(o.stderr.text.contains("the store was already committed (close 20000,"), "\(o.stderr.text)")
        #expect(try StoreFile(path: path).load().records.allSatisfy { $0.status == .closed })
    }

    // MARK: - The socket file is not the server

    @Test("probe, list and restore with the socket file deleted under a live server: unknown, exit 2, record kept")
    func deletedSocket() throws {
        let server = TmuxServer(label: "cli-rm")
        defer { server.tearDown() }
        try server.createSession("bmx-aaaa1111")
        let pid = try server.serverPID()
        let socketPath = try server.reportedSocketPath()
        #expect(unlink(socketPath) == 0)

        let probe = VigilBinary.run(["probe", "--backend", "tmux", "--socket", server.socketName, "--retries", "0", "bmx-aaaa1111"])
        #expect(probe.termination == .exited(2))
        #expect(probe.stdout.text.hasPrefix("bmx-aaaa1111 unknown ("))
        #expect(probe.stdout.text.contains("kill -USR1 \(pid)"), "\(probe.stdout.text)")
        let list = VigilBinary.run(["list", "--backend", "tmux", "--socket", server.socketName, "--retries", "0"])
        #expect(list.termination == .exited(2))
        #expect(list.stdout.text.isEmpty)

        let dir = try TemporaryDirectory()
        let path = try dir.write("store.json", """
        {"version": 1, "sessions": [{"id": "aaaa1111-1", "backend": "tmux", "status": "active", "socket": "\(server.socketName)"}]}
        """)
        let before = try readText(path)
        let restore = VigilBinary.run(["restore", "--store", path, "--retries", "0", "--quiet"])
        #expect(restore.termination == .exited(0), "\(restore.stderr.text)")
        #expect(restore.stdout.text.contains("keep"))
        #expect(try readText(path) == before, "a live session's record is never closed")

        // The recovery the reason names.
        #expect(kill(pid, SIGUSR1) == 0)
        #expect(waitForFile(socketPath, milliseconds: 20_000))
        let after = VigilBinary.run(["probe", "--backend", "tmux", "--socket", server.socketName, "bmx-aaaa1111"])
        #expect(after.termination == .exited(0), "\(after.stdout.text)")
    }

    @Test("restore run with another TMUX_TMPDIR than the server's keeps every record and says where the server is")
    func restoreTmuxTmpdirMismatch() throws {
        let started = try TemporaryDirectory()
        let other = try TemporaryDirectory()
        let server = TmuxServer(label: "cli-tmpdir", tmuxTmpdir: started.path)
        defer { server.tearDown() }
        try server.createSession("bmx-aaaaaaaa")
        try server.createSession("bmx-bbbbbbbb")
        let dir = try TemporaryDirectory()
        let path = try dir.write("store.json", """
        {"version": 1, "sessions": [
          {"id": "aaaaaaaa-1", "backend": "tmux", "status": "active", "socket": "\(server.socketName)"},
          {"id": "bbbbbbbb-2", "backend": "tmux", "status": "active", "socket": "\(server.socketName)"}
        ]}
        """)
        let before = try readText(path)
        let daemon = Environment.inherited(removing: ["TMUX", "TMUX_PANE"], setting: ["TMUX_TMPDIR": other.path])
        let o = VigilBinary.run(["restore", "--store", path, "--retries", "0", "--json", "--quiet"], environment: daemon)
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        #expect(o.stdout.text.contains("\"keep\":2"), "\(o.stdout.text)")
        #expect(o.stdout.text.contains(try server.reportedSocketPath()), "the reason names the server's path")
        #expect(try readText(path) == before, "no live session's record is closed")
        // With the server's TMUX_TMPDIR, the same restore sees both alive.
        let right = VigilBinary.run(["restore", "--store", path, "--dry-run", "--json", "--quiet"], environment: server.environment)
        #expect(right.stdout.text.contains("\"fork\":2"), "\(right.stdout.text)")
    }

    @Test("a client's tty is answered missing, never exists, alone or among other names")
    func clientTTY() throws {
        let server = TmuxServer(label: "cli-tty")
        defer { server.tearDown() }
        try server.createSession("bmx-x")
        let client = try server.attachClient(to: "bmx-x")
        defer { client.detach() }
        let short = String(client.tty.dropFirst("/dev/".count))
        for args in [[short], [client.tty], [short, "bmx-x"]] {
            let o = VigilBinary.run(["probe", "--backend", "tmux", "--socket", server.socketName] + args)
            #expect(o.termination == .exited(1), "\(args): \(o.stdout.text)")
            let first = o.stdout.text.split(separator: "\n").first ?? ""
            #expect(first.hasPrefix("\(args[0]) missing ("), "\(o.stdout.text)")
        }
    }

    // MARK: - Many names, one server

    @Test("probe with 300 names asks one listing: one tmux call, every answer right")
    func manyNamesOneListing() throws {
        let server = TmuxServer(label: "cli-many")
        defer { server.tearDown() }
        try server.createSession("bmx-live")
        let dir = try TemporaryDirectory()
        let log = dir.file("calls")
        let tmux = try dir.fixture("tmux", "#!/bin/sh\necho \"$*\" >> '\(log)'\nexec tmux \"$@\"\n")
        let names = ["bmx-live"] + (0..<299).map { "bmx-gone-\($0)" }
        let o = VigilBinary.run(["probe", "--backend", "tmux", "--binary", tmux, "--socket", server.socketName] + names)
        #expect(o.termination == .exited(1))
        let lines = o.stdout.text.split(separator: "\n")
        #expect(lines.count == 300)
        #expect(lines.first?.hasPrefix("bmx-live exists (") == true)
        #expect(lines.dropFirst().allSatisfy { $0.contains(" missing (") })
        #expect(dir.lines("calls") == ["-L \(server.socketName) list-sessions -F #{session_name}"])
    }
}

// MARK: - Helpers

/// Runs vigil with stdout on /dev/full, closed, or a pipe whose reader is
/// gone; stderr captured. python3 arranges the last two before exec.
private func runWithBrokenStdout(_ how: String, _ args: [String]) -> Outcome {
    var command: Command
    switch how {
    case "full":
        command = Command(VigilBinary.path, arguments: args, timeout: .seconds(60), stdoutLimit: 0, stderrLimit: 1 << 20)
        command.outputPath = "/dev/full"
    case "closed":
        command = Command("/usr/bin/python3", arguments: [
            "-c", "import os, sys; os.close(1); os.execv(sys.argv[1], sys.argv[1:])", VigilBinary.path,
        ] + args, timeout: .seconds(60), stdoutLimit: 1 << 20, stderrLimit: 1 << 20)
    default:
        command = Command("/usr/bin/python3", arguments: [
            "-c", "import os, sys; r, w = os.pipe(); os.close(r); os.dup2(w, 1); os.close(w); os.execv(sys.argv[1], sys.argv[1:])",
            VigilBinary.path,
        ] + args, timeout: .seconds(60), stdoutLimit: 1 << 20, stderrLimit: 1 << 20)
    }
    return Spawner().runSynchronously(command)
}

/// Pids whose parent is `pid`.
private func childProcesses(of pid: Int32) -> [Int32] {
    folderNames("/proc").compactMap(Int32.init).filter { parentPID($0) == pid }
}

/// The command name of `pid` (`/proc/PID/comm`).
private func processName(_ pid: Int32) -> String? {
    (try? readText("/proc/\(pid)/comm")).map { String($0.prefix { $0 != "\n" }) }
}

/// Pids whose command line mentions `text`.
private func processesMentioning(_ text: String) -> [Int32] {
    folderNames("/proc").compactMap(Int32.init).filter { pid in
        guard let bytes = try? readFile("/proc/\(pid)/cmdline") else { return false }
        return String(decoding: bytes.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(text)
    }
}

/// The outcome of a launched child, awaited.
private final class ExitWaiter: Sendable {
    private let state = Mutex<(outcome: Outcome?, waiter: CheckedContinuation<Outcome, Never>?)>((nil, nil))

    func finish(_ outcome: Outcome) {
        let waiter = state.withLock { s -> CheckedContinuation<Outcome, Never>? in
            s.outcome = outcome
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: outcome)
    }

    func wait() async -> Outcome {
        await withCheckedContinuation { continuation in
            let done = state.withLock { s -> Outcome? in
                if let o = s.outcome { return o }
                s.waiter = continuation
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}
