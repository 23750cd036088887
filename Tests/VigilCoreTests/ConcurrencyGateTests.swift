import Synchronization
import Testing
import VigilCore

/// The per-server gate: a bound that holds, waiters that suspend rather than
/// block, and waits that end on cancellation or at a deadline without
/// keeping a turn. No wall-clock bounds: deadlines here only ever pass.
@Suite("Concurrency gate", .timeLimit(.minutes(1)))
struct ConcurrencyGateTests {
    @Test("a thousand tasks: never more than the limit inside, all get in, nothing held after")
    func bound() async {
        let gate = ConcurrencyGate(limit: 4)
        let count = Counts()
        let admitted = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<1000 {
                group.addTask {
                    guard await gate.enter() else { return false }
                    count.enter()
                    await Task.yield()
                    count.leave()
                    gate.leave()
                    return true
                }
            }
            var all = 0
            for await ok in group where ok { all += 1 }
            return all
        }
        #expect(admitted == 1000)
        let most = count.peak
        #expect(most <= 4 && most >= 1)
        #expect(gate.holders == 0)
        #expect(gate.waiting == 0)
    }

    @Test("waiters suspend: with every turn taken, other async work still runs")
    func waitersDoNotBlockThreads() async {
        let gate = ConcurrencyGate(limit: 1)
        #expect(gate.tryEnter())
        // Far more waiters than the cooperative pool has threads.
        let waiters = Task {
            await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<200 { group.addTask { let ok = await gate.enter(); if ok { gate.leave() }; return ok } }
                var n = 0
                for await ok in group where ok { n += 1 }
                return n
            }
        }
        while gate.waiting < 200 { await Task.yield() }
        // If waiting held threads, this task could never run.
        let unrelated = await Task { 6 * 7 }.value
        #expect(unrelated == 42)
        gate.leave()
        #expect(await waiters.value == 200)
        #expect(gate.holders == 0)
    }

    @Test("a cancelled waiter gets no turn, and the turn it never got is not lost")
    func cancellation() async {
        let gate = ConcurrencyGate(limit: 1)
        #expect(gate.tryEnter())
        let waiter = Task { await gate.enter() }
        while gate.waiting < 1 { await Task.yield() }
        waiter.cancel()
        #expect(await waiter.value == false)
        #expect(gate.waiting == 0)
        gate.leave()
        #expect(gate.holders == 0)
        #expect(gate.tryEnter())
        gate.leave()
    }

    @Test("a task cancelled before it asks gets no turn when none is free")
    func cancelledBeforeAsking() async {
        let gate = ConcurrencyGate(limit: 1)
        #expect(gate.tryEnter())
        let waiter = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await gate.enter()
        }
        #expect(await waiter.value == false)
        #expect(gate.waiting == 0)
        gate.leave()
    }

    @Test("a deadline that passes ends the wait without a turn", arguments: [false, true])
    func deadline(blocking: Bool) async {
        let gate = ConcurrencyGate(limit: 1)
        #expect(gate.tryEnter())
        let deadline = ContinuousClock.now + .milliseconds(50)
        let admitted = blocking ? gate.enterBlocking(until: deadline) : await gate.enter(until: deadline)
        #expect(!admitted)
        #expect(ContinuousClock.now >= deadline)
        #expect(gate.waiting == 0)
        gate.leave()
        #expect(gate.holders == 0)
    }

    @Test("a blocked thread gets the turn that is given back")
    func blockingHandOver() async {
        let gate = ConcurrencyGate(limit: 1)
        #expect(gate.tryEnter())
        let thread = Task.detached { () -> Bool in
            let ok = gate.enterBlocking()
            if ok { gate.leave() }
            return ok
        }
        while gate.waiting < 1 { await Task.yield() }
        gate.leave()
        #expect(await thread.value)
        #expect(gate.holders == 0)
    }

    @Test("gates are shared by key on one reactor, and not across reactors")
    func sharedByKey() {
        let reactor = SpawnReactor()
        let a = reactor.gate(for: "tmux -L x", limit: 4)
        #expect(reactor.gate(for: "tmux -L x", limit: 9) === a)
        #expect(a.limit == 4)
        #expect(reactor.gate(for: "tmux -L y", limit: 4) !== a)
        #expect(SpawnReactor().gate(for: "tmux -L x", limit: 4) !== a)
    }
}

/// How many are inside, and the most there ever were.
private final class Counts: Sendable {
    private let state = Mutex((inside: 0, peak: 0))

    func enter() { state.withLock { $0.inside += 1; $0.peak = max($0.peak, $0.inside) } }
    func leave() { state.withLock { $0.inside -= 1 } }
    var peak: Int { state.withLock { $0.peak } }
}
