#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import Testing
@testable import VigilCore
import VigilTestSupport

/// Long-lived children: launched, followed by the reactor, reaped on exit.
@Suite("Launch and follow", .timeLimit(.minutes(1)))
struct LaunchTests {
    @Test("a launched child runs detached in its own session and is reaped when it exits", arguments: [WaitStrategy.pidfd, .portable])
    func launchAndReap(strategy: WaitStrategy) async throws {
        let dir = try TemporaryDirectory()
        let spawner = Spawner(waitStrategy: strategy)
        let c = WorkerCommand("/bin/sh", arguments: ["-c", "read -r pid comm state ppid pgrp sid rest < /proc/$$/stat; echo $sid > \(dir.path)/sid; sleep 0.3; exit 4"])
        let exits = await withCheckedContinuation { (done: CheckedContinuation<(Int32, Outcome), Never>) in
            let pidBox = Mutex<Int32>(0)
            switch spawner.launch(c, onExit: { outcome in done.resume(returning: (pidBox.withLock { $0 }, outcome)) }) {
            case .launched(let pid):
                pidBox.withLock { $0 = pid }
                #expect(pid > 0)
            case .failed(let o):
                Issue.record("launch failed: \(o.termination)")
                done.resume(returning: (0, o))
            }
        }
        let (pid, outcome) = exits
        #expect(outcome.termination == .exited(4))
        #expect(outcome.pid == pid)
        #expect(!isOurZombie(pid))
        let sid = dir.read("sid")?.split(separator: "\n").first.map(String.init)
        #expect(sid == String(pid))
    }

    @Test("a worker outlives the probe deadline: launch has no deadline to inherit")
    func workerOutlivesProbeDeadline() async throws {
        let dir = try TemporaryDirectory()
        // A probe's default deadline is 3 s. The worker waits for a file the
        // test creates only after that deadline has passed for sure, by the
        // worker's own clock (it records when it started).
        let go = dir.file("go")
        let worker = WorkerCommand("/bin/sh", arguments: ["-c", "while [ ! -e \(go) ]; do sleep 0.1; done; exit 7"])
        let outcome = await withCheckedContinuation { (done: CheckedContinuation<Outcome, Never>) in
            switch Spawner().launch(worker, onExit: { done.resume(returning: $0) }) {
            case .launched:
                Task {
                    try? await Task.sleep(for: Command("/bin/true").timeout! + .milliseconds(500))
                    _ = try? dir.write("go", "")
                }
            case .failed(let o):
                done.resume(returning: o)
            }
        }
        #expect(outcome.termination == .exited(7), "the worker ended on its own, not killed at a deadline")
    }

    @Test("a launch that cannot spawn reports the errno and calls nothing")
    func launchFailure() {
        let spawner = Spawner()
        let called = Mutex(false)
        let r = spawner.launch(WorkerCommand("/nonexistent/worker")) { _ in called.withLock { $0 = true } }
        guard case .failed(let o) = r else { Issue.record("expected failure"); return }
        #expect(o.termination == .spawnFailed(.noSuchFile))
        #expect(!called.withLock { $0 })
    }

    @Test("a log file that cannot be opened is named in the reason, not mistaken for a missing program")
    func launchUnwritableLog() {
        let c = WorkerCommand("/bin/true", logPath: "/nonexistent/vigil-logs/worker.log")
        guard case .failed(let o) = Spawner().launch(c) else { Issue.record("expected failure"); return }
        #expect(o.termination == .spawnFailed(.noSuchFile))
        #expect(o.failureReason(program: "/bin/true", timeout: nil) == "/bin/true could not be started: output file /nonexistent/vigil-logs/worker.log cannot be opened (ENOENT)")
    }

    @Test("a launched child writes its output to the log file")
    func launchLog() async throws {
        let dir = try TemporaryDirectory()
        let log = dir.file("worker.log")
        let c = WorkerCommand("/bin/sh", arguments: ["-c", "echo out; echo err >&2"], logPath: log)
        let o = await withCheckedContinuation { (done: CheckedContinuation<Outcome, Never>) in
            if case .failed(let o) = Spawner().launch(c, onExit: { done.resume(returning: $0) }) { done.resume(returning: o) }
        }
        #expect(o.termination == .exited(0))
        #expect(dir.read("worker.log") == "out\nerr\n")
    }

    @Test("the log file is opened with O_NOFOLLOW: a planted link fails the spawn with ELOOP and its target is untouched")
    func logNotFollowed() throws {
        let dir = try TemporaryDirectory()
        let target = try dir.write("target", "original\n")
        let dangling = dir.file("would-be-created")
        #expect(symlink(target, dir.file("a.log")) == 0)
        #expect(symlink(dangling, dir.file("b.log")) == 0)
        for name in ["a.log", "b.log"] {
            // The shim itself, with no check before it: the open in the child refuses the link.
            var c = Command("/bin/sh", arguments: ["-c", "echo written"], timeout: nil, stdoutLimit: 0, stderrLimit: 0)
            c.outputPath = dir.file(name)
            guard case .failed(let o) = Spawner().launch(WorkerCommand("/bin/sh", arguments: ["-c", "echo written"], logPath: dir.file(name))) else {
                Issue.record("\(name): expected failure"); continue
            }
            #expect(o.termination == .spawnFailed(.tooManySymlinks))
            #expect(o.failureReason(program: "/bin/sh", timeout: nil) == "/bin/sh could not be started: output file \(dir.file(name)) is a symbolic link, not followed (ELOOP)")
            // The same through a synchronous run.
            #expect(Spawner().runSynchronously(c).termination == .spawnFailed(.tooManySymlinks))
        }
        #expect(try readText(target) == "original\n")
        #expect(access(dangling, F_OK) != 0, "a dangling link's target is not created")
    }
}
