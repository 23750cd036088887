#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
@testable import VigilCore
import VigilTestSupport

/// Many runs: nothing leaks (descriptors, zombies), nothing is mixed up.
/// Other suites run in the same process at the same time, so descriptor
/// counts are compared with a margin far below what one leak per run gives.
@Suite("Spawn under load", .serialized, .timeLimit(.minutes(3)))
struct SpawnLoadTests {
    @Test("1,000 runs in a row leave no zombie and no descriptor behind", arguments: [WaitStrategy.pidfd, .portable])
    func thousandInARow(strategy: WaitStrategy) {
        let spawner = Spawner(waitStrategy: strategy)
        let before = openDescriptorCount()
        var pids: [Int32] = []
        pids.reserveCapacity(1000)
        for i in 0..<1000 {
            let o = spawner.runSynchronously(Command("/bin/true"))
            #expect(o.termination == .exited(0), "run \(i)")
            if let pid = o.pid { pids.append(pid) }
        }
        let after = openDescriptorCount()
        #expect(pids.count == 1000)
        // Other suites run concurrently in this process (200 async runs hold
        // up to 600 descriptors at once), so the margin is wide; one leaked
        // descriptor per run would still show as 1,000.
        #expect(after - before < 500, "descriptors before \(before), after \(after)")
        #expect(pids.filter(isOurZombie).isEmpty)
    }

    @Test("200 concurrent async runs each get their own answer", arguments: [WaitStrategy.pidfd, .portable])
    func concurrentAsync(strategy: WaitStrategy) async {
        let spawner = Spawner(waitStrategy: strategy)
        let before = openDescriptorCount()
        let results = await withTaskGroup(of: (Int32, Outcome).self) { group in
            for i in 0..<200 {
                let code = Int32(i % 256)
                group.addTask {
                    (code, await spawner.run(Command("/bin/sh", arguments: ["-c", "echo \(code); exit \(code)"])))
                }
            }
            var all: [(Int32, Outcome)] = []
            for await r in group { all.append(r) }
            return all
        }
        #expect(results.count == 200)
        for (code, o) in results {
            #expect(o.termination == .exited(code))
            #expect(o.stdout.text == "\(code)\n")
        }
        #expect(results.compactMap(\.1.pid).filter(isOurZombie).isEmpty)
        #expect(openDescriptorCount() - before < 100, "one leak per run would show as 200")
    }

    @Test("concurrent runs past the reactor's bound queue for a slot and all finish")
    func boundedConcurrency() async {
        let spawner = Spawner(reactor: SpawnReactor(maxConcurrentRuns: 4))
        #expect(spawner.reactor.maxConcurrentRuns == 4)
        let results = await withTaskGroup(of: Termination.self) { group in
            for _ in 0..<40 {
                group.addTask { await spawner.run(Command("/bin/sh", arguments: ["-c", "exit 7"])).termination }
            }
            var all: [Termination] = []
            for await r in group { all.append(r) }
            return all
        }
        #expect(results == Array(repeating: .exited(7), count: 40))
    }

    @Test("hanging and quick runs in flight together: each ends on its own terms")
    func mixedDeadlines() async {
        let spawner = Spawner()
        let results = await withTaskGroup(of: (Bool, Termination).self) { group in
            for i in 0..<50 {
                let hangs = i % 5 == 0
                group.addTask {
                    let c = hangs
                        ? Command("/bin/sleep", arguments: ["100"], timeout: .milliseconds(200))
                        : Command("/bin/true")
                    return (hangs, await spawner.run(c).termination)
                }
            }
            var all: [(Bool, Termination)] = []
            for await r in group { all.append(r) }
            return all
        }
        for (hangs, t) in results {
            #expect(t == (hangs ? .timedOut(.kill) : .exited(0)))
        }
    }
}
