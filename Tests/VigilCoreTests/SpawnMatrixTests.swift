#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import Testing
@testable import VigilCore
import VigilTestSupport

/// The outcome matrix from the spawn-core issue, run four ways: synchronous and
/// async, each on the pidfd path and on the portable waitpid path. Every row
/// runs a real process; fixtures are small /bin/sh scripts written to a
/// temporary directory (fixtures only: production code never uses a shell).
@Suite("Spawn outcome matrix", .timeLimit(.minutes(2)))
struct SpawnMatrixTests {
    static let modes = RunMode.allCases

    // MARK: - Spawn failures keep their errno

    @Test("binary not on PATH is ENOENT", arguments: modes)
    func missingOnPath(mode: RunMode) async {
        let o = await mode.run(Command("vigil-no-such-binary-\(getpid())"))
        #expect(o.termination == .spawnFailed(.noSuchFile))
        #expect(o.pid == nil)
        #expect(o.failureReason(program: "vigil-no-such-binary", timeout: nil).contains("not found on PATH (ENOENT)"))
    }

    @Test("absolute path that does not exist is ENOENT", arguments: modes)
    func missingPath(mode: RunMode) async {
        let o = await mode.run(Command("/nonexistent/vigil/tmux"))
        #expect(o.termination == .spawnFailed(.noSuchFile))
    }

    @Test("file without execute permission is EACCES, not ENOENT", arguments: modes)
    func notExecutable(mode: RunMode) async throws {
        let dir = try TemporaryDirectory()
        let file = try dir.fixture("tmux", "#!/bin/sh\nexit 0\n", mode: 0o644)
        let o = await mode.run(Command(file))
        #expect(o.termination == .spawnFailed(.permissionDenied))
        #expect(o.failureReason(program: file, timeout: nil).contains("EACCES"))
    }

    @Test("a directory is EACCES", arguments: modes)
    func directory(mode: RunMode) async throws {
        let dir = try TemporaryDirectory()
        let o = await mode.run(Command(dir.path))
        #expect(o.termination == .spawnFailed(.permissionDenied))
    }

    @Test("script whose interpreter is missing is ENOENT", arguments: modes)
    func missingInterpreter(mode: RunMode) async throws {
        let dir = try TemporaryDirectory()
        let file = try dir.fixture("script", "#!/nonexistent/interpreter\nexit 0\n")
        let o = await mode.run(Command(file))
        #expect(o.termination == .spawnFailed(.noSuchFile))
    }

    @Test("executable with an unknown format is ENOEXEC, never run by a shell", arguments: modes)
    func execFormat(mode: RunMode) async throws {
        let dir = try TemporaryDirectory()
        let marker = dir.file("ran")
        // If anything fed this to /bin/sh, the marker would appear.
        let file = try dir.fixture("garbage", "touch \(marker)\nexit 0\n")
        let o = await mode.run(Command(file))
        #expect(o.termination == .spawnFailed(.execFormat))
        #expect(access(marker, F_OK) != 0)
    }

    @Test("a path through a regular file is ENOTDIR", arguments: modes)
    func notDirectory(mode: RunMode) async throws {
        let dir = try TemporaryDirectory()
        let file = try dir.fixture("plain", "x", mode: 0o644)
        let o = await mode.run(Command("\(file)/tmux"))
        #expect(o.termination == .spawnFailed(.notDirectory))
    }

    @Test("a NUL byte in an argument is EINVAL and nothing runs", arguments: modes)
    func nulByte(mode: RunMode) async {
        let o = await mode.run(Command("/bin/true", arguments: ["a\u{0}b"]))
        #expect(o.termination == .spawnFailed(.invalidArgument))
    }

    @Test("a working directory that does not exist fails the spawn", arguments: modes)
    func missingWorkingDirectory(mode: RunMode) async {
        var c = Command("/bin/pwd")
        c.workingDirectory = "/nonexistent/vigil-cwd"
        let o = await mode.run(c)
        #expect(o.termination == .spawnFailed(.noSuchFile))
        // Same errno as a missing executable; the reason must not say "not found".
        #expect(o.failureReason(program: "/bin/pwd", timeout: nil) == "/bin/pwd could not be started: working directory /nonexistent/vigil-cwd is not usable (ENOENT)")
    }

    @Test("a polite timeout still leaves no grandchild behind", arguments: modes)
    func politeTimeoutKillsGroup(mode: RunMode) async throws {
        let dir = try TemporaryDirectory()
        let pidFile = dir.file("grandchild")
        // The child dies of SIGTERM at once; its grandchild ignores SIGTERM.
        var c = shell("(trap '' TERM; exec sleep 30) >/dev/null 2>&1 & echo $! > \(pidFile); exec sleep 30", timeout: .milliseconds(200))
        c.timeoutSignal = .terminate
        // An escalation delay far beyond the suite's time limit: had the run
        // waited for it once the child was gone, the test would fail by its
        // time limit, not by a clock bound a loaded machine could cross.
        c.escalationDelay = .seconds(3600)
        let o = await mode.run(c)
        #expect(o.termination == .timedOut(.terminate))
        let grandchild = Int32(dir.lines("grandchild").first ?? "") ?? -1
        #expect(grandchild > 0)
        let gone = waitUntil(milliseconds: 30_000) { !isRunning(grandchild) }
        if !gone { kill(grandchild, SIGKILL) }
        #expect(gone, "grandchild \(grandchild) survived the timeout")
    }

    // MARK: - Exit codes and signals stay apart

    @Test("exit codes come back exactly", arguments: modes, [0, 1, 2, 126, 127, 255] as [Int32])
    func exitCodes(mode: RunMode, code: Int32) async {
        let o = await mode.run(shell("exit \(code)"))
        #expect(o.termination == .exited(code))
        #expect(o.pid != nil)
    }

    @Test("death by signal is not an exit code", arguments: modes, [SIGSEGV, SIGTERM] as [Int32])
    func signals(mode: RunMode, signal: Int32) async {
        let o = await mode.run(shell("kill -\(signal) $$; sleep 5"))
        #expect(o.termination == .signaled(Signal(rawValue: signal)))
    }

    // MARK: - Deadlines

    @Test("a child that hangs is killed with its grandchild at the deadline", arguments: modes)
    func hangKillsGroup(mode: RunMode) async throws {
        let dir = try TemporaryDirectory()
        let pidFile = dir.file("grandchild")
        let o = await mode.run(shell("sleep 1000 & echo $! > \(pidFile); wait", timeout: .milliseconds(300)))
        #expect(o.termination == .timedOut(.kill))
        let text = dir.read("grandchild")?.split(separator: "\n").first.map(String.init) ?? ""
        let grandchild = Int32(text) ?? -1
        #expect(grandchild > 0)
        // SIGKILL is delivered at once, but the orphan is reaped by init; allow it a moment.
        var tries = 0
        while isRunning(grandchild) && tries < 200 { pause(milliseconds: 10); tries += 1 }
        #expect(!isRunning(grandchild))
        #expect(o.pid.map { !isOurZombie($0) } == true, "spawned, and reaped")
        #expect(o.failureReason(program: "sh", timeout: .milliseconds(300)).contains("timed out after 300 ms"))
    }

    @Test("a polite timeout signal escalates to SIGKILL when ignored", arguments: modes)
    func escalation(mode: RunMode) async {
        var c = shell("trap '' TERM; while :; do sleep 1; done", timeout: .milliseconds(200))
        c.timeoutSignal = .terminate
        c.escalationDelay = .milliseconds(200)
        let o = await mode.run(c)
        #expect(o.termination == .timedOut(.kill))
    }

    @Test("a child that exits on the polite signal is still reported as timed out", arguments: modes)
    func politeTimeout(mode: RunMode) async {
        var c = shell("trap 'exit 0' TERM; while :; do sleep 0.05; done", timeout: .milliseconds(200))
        c.timeoutSignal = .terminate
        c.escalationDelay = .seconds(5)
        let o = await mode.run(c)
        #expect(o.termination == .timedOut(.terminate))
    }

    // MARK: - Output capture

    @Test("10 MB on stdout is captured whole without deadlock", arguments: modes)
    func flood(mode: RunMode) async {
        var c = Command("/usr/bin/head", arguments: ["-c", "10485760", "/dev/zero"], timeout: .seconds(30))
        c.stdoutLimit = 16 << 20
        let o = await mode.run(c)
        #expect(o.termination == .exited(0))
        #expect(o.stdout.bytes.count == 10_485_760)
        #expect(!o.stdout.truncated)
    }

    @Test("output past the cap is dropped and flagged, and the child still finishes", arguments: modes)
    func floodCapped(mode: RunMode) async {
        var c = shell("head -c 10485760 /dev/zero; echo done >&2", timeout: .seconds(30))
        c.stdoutLimit = 1 << 20
        let o = await mode.run(c)
        #expect(o.termination == .exited(0))
        #expect(o.stdout.bytes.count == 1 << 20)
        #expect(o.stdout.truncated)
        #expect(o.stderr.text == "done\n")
        #expect(!o.stderr.truncated)
    }

    @Test("stdout and stderr are kept apart", arguments: modes)
    func streams(mode: RunMode) async {
        let o = await mode.run(shell("echo out; echo err >&2; exit 3"))
        #expect(o.termination == .exited(3))
        #expect(o.stdout.text == "out\n")
        #expect(o.stderr.text == "err\n")
        #expect(o.failureReason(program: "sh", timeout: nil) == "sh exit 3: err")
    }

    @Test("a grandchild holding stdout open does not hold up the result", arguments: modes)
    func grandchildHoldsPipe(mode: RunMode) async {
        // Left alive on purpose, so the pipe stays open after the child's exit.
        var c = shell("sleep 600 & echo $!; echo hi")
        c.killGroupAfterExit = false
        let o = await mode.run(c)
        #expect(o.termination == .exited(0))
        let lines = o.stdout.text.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.last == "hi")
        // The run returned while the grandchild still holds the pipe: it did
        // not wait for the grandchild (no clock involved).
        let pid = lines.first.flatMap { Int32($0) } ?? -1
        #expect(pid > 0 && isRunning(pid), "the grandchild is still alive, so the run did not wait for it")
        if pid > 0 { kill(pid, SIGKILL) }
    }

    // MARK: - Clean slate for the child

    @Test("a descriptor the caller opened without CLOEXEC does not reach the child", arguments: modes)
    func noInheritedDescriptors(mode: RunMode) async {
        let leaky = open("/dev/null", O_RDONLY) // deliberately without O_CLOEXEC
        #expect(leaky >= 3)
        defer { close(leaky) }
        let o = await mode.run(Command("/bin/ls", arguments: ["/proc/self/fd"]))
        #expect(o.termination == .exited(0))
        let fds = Set(o.stdout.text.split(separator: "\n").map(String.init))
        #expect(!fds.contains(String(leaky)))
        // ls sees 0, 1, 2 and the directory it opened to list itself; nothing else.
        #expect(fds.subtracting(["0", "1", "2"]).count <= 1)
    }

    @Test("the child starts with no blocked and no ignored signals", arguments: modes)
    func signalSlate(mode: RunMode) async {
        let o = await mode.run(Command("/bin/grep", arguments: ["-E", "^Sig(Blk|Ign)", "/proc/self/status"]))
        #expect(o.termination == .exited(0))
        let lines = o.stdout.text.split(separator: "\n")
        #expect(lines.count == 2)
        for line in lines {
            let hex = line.split(separator: "\t").last.map(String.init) ?? ""
            // Every bit, glibc's reserved real-time signals 32 and 33
            // included: posix_spawn leaves those ignored unless the
            // default-signal set names them, and sigfillset does not.
            let mask = UInt64(hex, radix: 16) ?? .max
            #expect(mask == 0, "\(line)")
        }
    }

    @Test("the child leads its own process group", arguments: modes)
    func ownGroup(mode: RunMode) async {
        // /proc/PID/stat: pid (comm) state ppid pgrp session ...
        let o = await mode.run(shell("read -r pid comm state ppid pgrp rest < /proc/$$/stat; echo $pgrp; echo $$"))
        #expect(o.termination == .exited(0))
        let lines = o.stdout.text.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first == lines.last, "process group \(lines.first ?? "-") should be the child's pid \(lines.last ?? "-")")
        #expect(lines.first != String(getpgrp()))
    }

    @Test("the environment is exactly the one given", arguments: modes)
    func exactEnvironment(mode: RunMode) async {
        let c = Command("/usr/bin/env", environment: .exactly([("A", "1"), ("B", "two words")]))
        let o = await mode.run(c)
        #expect(o.stdout.text == "A=1\nB=two words\n")
    }

    @Test("inherited environment can drop keys", arguments: modes)
    func environmentRemoval(mode: RunMode) async {
        let env = Environment.inherited(removing: ["TMUX", "TMUX_PANE"], setting: ["VIGIL_MARK": "x"])
        #expect(env.value(of: "TMUX") == nil)
        let o = await mode.run(Command("/usr/bin/env", environment: env))
        #expect(o.stdout.text.contains("VIGIL_MARK=x\n"))
        #expect(!o.stdout.text.contains("TMUX="))
    }

    @Test("the working directory is applied", arguments: modes)
    func workingDirectory(mode: RunMode) async throws {
        let dir = try TemporaryDirectory()
        var c = Command("/bin/pwd")
        c.workingDirectory = dir.path
        let o = await mode.run(c)
        #expect(o.stdout.text == dir.path + "\n")
    }

    @Test("the wait strategy reported is the one asked for", arguments: modes)
    func strategyReported(mode: RunMode) async {
        let o = await mode.run(Command("/bin/true"))
        #expect(o.termination == .exited(0))
        if mode.strategy == .portable || !pidfdSupported() {
            #expect(o.waitStrategy == .portable)
        } else {
            #expect(o.waitStrategy == .pidfd)
        }
    }
}

extension RunMode: CustomTestStringConvertible {
    var testDescription: String { rawValue }
}
