#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CVigil
import Testing
@testable import VigilCore
import VigilTestSupport

/// Cancelling the task that awaits `Spawner.run` ends the child and its group.
@Suite("Cancellation", .timeLimit(.minutes(1)))
struct CancellationTests {
    @Test("cancelling the awaiting task kills the process group and answers cancelled", arguments: [WaitStrategy.pidfd, .portable])
    func cancelRunning(strategy: WaitStrategy) async throws {
        let dir = try TemporaryDirectory()
        let pidFile = dir.file("grandchild")
        let spawner = Spawner(waitStrategy: strategy)
        let command = shell("sleep 100 & echo $! > \(pidFile); wait", timeout: .seconds(60))
        let task = Task { await spawner.run(command) }
        // Wait without blocking a thread of the cooperative pool, which the
        // task above needs in order to spawn.
        var waited = 0
        while (dir.lines("grandchild").first ?? "").isEmpty && waited < 10_000 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 10
        }
        #expect(!(dir.lines("grandchild").first ?? "").isEmpty)
        task.cancel()
        let o = await task.value
        // `.cancelled`, not `.timedOut`: ended by the cancellation, not by the 60 s deadline.
        #expect(o.termination == .cancelled)
        #expect(o.pid.map { !isOurZombie($0) } == true, "spawned, and reaped")
        let grandchild = Int32(dir.lines("grandchild").first ?? "") ?? -1
        #expect(grandchild > 0)
        let gone = waitUntil(milliseconds: 3000) { !isRunning(grandchild) }
        if !gone { kill(grandchild, SIGKILL) }
        #expect(gone)
        #expect(o.failureReason(program: "sh", timeout: nil) == "sh: the caller cancelled the call")
    }

    @Test("a task cancelled before the spawn spawns nothing")
    func cancelledBeforeSpawn() async throws {
        let dir = try TemporaryDirectory()
        let marker = dir.file("ran")
        let spawner = Spawner()
        let o = await Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await spawner.run(shell("touch \(marker)"))
        }.value
        #expect(o.termination == .cancelled)
        #expect(o.pid == nil)
        #expect(access(marker, F_OK) != 0)
    }

    @Test("a run queued for a slot is cancelled at once, while the slot's holder still runs")
    func cancelWhileQueued() async throws {
        let dir = try TemporaryDirectory()
        let pidFile = dir.file("holder")
        let spawner = Spawner(reactor: SpawnReactor(maxConcurrentRuns: 1))
        let holder = Task { await spawner.run(shell("echo $$ > \(pidFile); exec sleep 600", timeout: .seconds(600))) }
        var waited = 0
        while (dir.lines("holder").first ?? "").isEmpty && waited < 10_000 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 10
        }
        let holderPID = Int32(dir.lines("holder").first ?? "") ?? -1
        #expect(holderPID > 0, "the first run holds the only slot")

        let marker = dir.file("queued-ran")
        let queued = Task { await spawner.run(shell("touch \(marker)")) }
        queued.cancel()
        let o = await queued.value
        // Before the fix the queued run waited for the holder to end (600 s):
        // the holder being alive now is the proof that the wait was cut short.
        #expect(o.termination == .cancelled)
        #expect(o.pid == nil, "nothing was spawned")
        #expect(isRunning(holderPID), "answered while the slot was still held")
        #expect(access(marker, F_OK) != 0)

        holder.cancel()
        #expect(await holder.value.termination == .cancelled)
        // The slot went back: the reactor serves the next run.
        #expect(await spawner.run(Command("/bin/true")).termination == .exited(0))
    }

    @Test("many queued runs, half of them cancelled: the others all run, no slot is lost")
    func cancelSomeQueued() async throws {
        let spawner = Spawner(reactor: SpawnReactor(maxConcurrentRuns: 2))
        let tasks = (0..<40).map { _ in Task { await spawner.run(Command("/bin/true")) } }
        for (i, t) in tasks.enumerated() where i % 2 == 1 { t.cancel() }
        var exited = 0
        for (i, t) in tasks.enumerated() {
            let o = await t.value
            if i % 2 == 0 { #expect(o.termination == .exited(0)) }
            if o.termination == .exited(0) { exited += 1 }
        }
        #expect(exited >= 20)
        // Both slots are free again: two long runs start side by side.
        let dir = try TemporaryDirectory()
        let a = Task { await spawner.run(shell("touch \(dir.file("a")); sleep 600", timeout: .seconds(600))) }
        let b = Task { await spawner.run(shell("touch \(dir.file("b")); sleep 600", timeout: .seconds(600))) }
        #expect(await fileAppears(dir.file("a")))
        #expect(await fileAppears(dir.file("b")))
        a.cancel(); b.cancel()
        _ = await (a.value, b.value)
    }

    @Test("cancelling after the run finished changes nothing")
    func cancelAfterFinish() async {
        let spawner = Spawner()
        let task = Task { await spawner.run(Command("/bin/sh", arguments: ["-c", "exit 3"])) }
        let o = await task.value
        task.cancel()
        #expect(o.termination == .exited(3))
        // The reactor still serves later runs.
        #expect(await spawner.run(Command("/bin/true")).termination == .exited(0))
    }

    @Test("the C job ends as cancelled, with the timeout signal, when asked")
    func shimCancel() {
        var c = shell("sleep 100", timeout: .seconds(60))
        c.timeoutSignal = .terminate
        let job = Spawner.start(c, .pidfd)
        defer { vigil_job_free(job) }
        vigil_job_cancel(job)
        #expect(vigil_job_next_wakeup(job) == 0, "a cancel needs attention now")
        vigil_job_wait(job)
        #expect(vigil_job_kind(job) == Int32(VIGIL_KIND_CANCELLED.rawValue))
        #expect(vigil_job_status(job) == SIGTERM)
    }
}

/// Polls for `path` without blocking a thread of the cooperative pool.
private func fileAppears(_ path: String, within milliseconds: Int = 20_000) async -> Bool {
    var waited = 0
    while access(path, F_OK) != 0 {
        guard waited < milliseconds else { return false }
        try? await Task.sleep(for: .milliseconds(10))
        waited += 10
    }
    return true
}
