#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import Testing
import VigilCore
import VigilTestSupport

/// Children leave nothing behind: a probe's background processes die with
/// it, and no signal starts out ignored in a child. Real processes, real
/// /proc; no wall-clock bounds (what was killed is checked as "gone, a
/// zombie, or SIGKILL pending", which needs no waiting).
@Suite("Children leave nothing behind", .timeLimit(.minutes(1)))
struct ChildCleanupTests {
    @Test("a probe that exits leaves no process of its group running", arguments: RunMode.allCases)
    func backgroundProcessKilledAfterExit(mode: RunMode) async throws {
        let dir = try TemporaryDirectory()
        let pidFile = dir.file("background")
        let o = await mode.run(shell("sleep 1000 & echo $! > \(pidFile); exit 1"))
        #expect(o.termination == .exited(1), "a normal exit stays a normal exit")
        let background = Int32(dir.lines("background").first ?? "") ?? -1
        #expect(background > 0)
        let gone = isGoneOrDying(background)
        if !gone { kill(background, SIGKILL) }
        #expect(gone, "sleep \(background) outlived the probe that started it")
    }

    @Test("opting out keeps the group's other processes running")
    func optOut() async throws {
        let dir = try TemporaryDirectory()
        let pidFile = dir.file("background")
        var c = shell("sleep 1000 >/dev/null 2>&1 & echo $! > \(pidFile); exit 0")
        c.killGroupAfterExit = false
        let o = await Spawner().run(c)
        #expect(o.termination == .exited(0))
        let background = Int32(dir.lines("background").first ?? "") ?? -1
        #expect(background > 0)
        #expect(!isGoneOrDying(background))
        kill(background, SIGKILL)
    }

    @Test("a launched worker's background processes are not killed when it exits")
    func launchUnaffected() async throws {
        let dir = try TemporaryDirectory()
        let pidFile = dir.file("background")
        let c = WorkerCommand("/bin/sh", arguments: ["-c", "sleep 1000 >/dev/null 2>&1 & echo $! > \(pidFile); exit 0"])
        let exited = await withCheckedContinuation { (done: CheckedContinuation<Outcome, Never>) in
            switch Spawner().launch(c, onExit: { done.resume(returning: $0) }) {
            case .launched: break
            case .failed(let o): done.resume(returning: o)
            }
        }
        #expect(exited.termination == .exited(0))
        let background = Int32(dir.lines("background").first ?? "") ?? -1
        #expect(background > 0)
        #expect(!isGoneOrDying(background), "a worker's own background process must be left alone")
        kill(background, SIGKILL)
    }

    @Test("a child starts with no signal ignored: SigIgn is all zeros", arguments: RunMode.allCases)
    func noSignalIgnored(mode: RunMode) async {
        // The caller itself may ignore signals (a daemon ignoring SIGPIPE):
        // the child must not inherit that either.
        let o = await mode.run(Command("/bin/grep", arguments: ["^SigIgn", "/proc/self/status"]))
        #expect(o.termination == .exited(0))
        #expect(o.stdout.text == "SigIgn:\t0000000000000000\n")
    }

    @Test("a launched child starts with no signal ignored either")
    func launchNoSignalIgnored() async throws {
        let dir = try TemporaryDirectory()
        let c = WorkerCommand("/bin/grep", arguments: ["^SigIgn", "/proc/self/status"], logPath: dir.file("status"))
        let exited = await withCheckedContinuation { (done: CheckedContinuation<Outcome, Never>) in
            switch Spawner().launch(c, onExit: { done.resume(returning: $0) }) {
            case .launched: break
            case .failed(let o): done.resume(returning: o)
            }
        }
        #expect(exited.termination == .exited(0))
        #expect(dir.read("status") == "SigIgn:\t0000000000000000\n")
    }
}
