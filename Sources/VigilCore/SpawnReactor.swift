#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CVigil
import Synchronization
import VigilSystem

/// The one thread that follows every asynchronous run of its spawners.
///
/// Runs are spawned on the caller's thread, then handed here; the reactor
/// polls all their pidfds and pipes in one `poll(2)` and resumes each caller
/// when its child is reaped and its pipes are drained. So a thousand probes
/// in flight need one thread, not a thousand.
///
/// At most `maxConcurrentRuns` children are in flight at once; further runs
/// wait for a slot before spawning. That bounds descriptors (up to three per
/// run) and processes, whatever the caller throws at it.
///
/// The thread starts on first use and ends when the last reference to the
/// reactor goes away (no run can be in flight then: each holds a reference).
public final class SpawnReactor: Sendable {
    private let core: ReactorCore
    /// Per-resource bounds on calls in flight (see `gate(for:limit:)`).
    let gates = GateTable()

    /// The bound on children in flight at once.
    public var maxConcurrentRuns: Int { core.maxConcurrentRuns }

    /// How many threads this reactor has started so far (one, unless it
    /// could not make one and tried again): what a test counts to see that
    /// backends sharing a spawner share its thread.
    package var threadsStarted: Int { core.threadsStarted }

    /// How far two readings of one memory high-water mark may differ on this
    /// machine (`PeakMemory.countingSlack`), computed once here.
    var memorySlack: Int { core.memorySlack }

    /// Creates a reactor; its thread starts on the first asynchronous run.
    /// - Parameter maxConcurrentRuns: children in flight at once (at least 1, default 256).
    public init(maxConcurrentRuns: Int = 256) {
        core = ReactorCore(maxConcurrentRuns: max(1, maxConcurrentRuns))
    }

    deinit { core.shutDown() }

    /// Spawns `command` into a new job. A spawn that failed is finished
    /// here (nothing to wait for): its outcome comes back, the job is freed.
    private func start(_ command: Command, _ waitStrategy: WaitStrategy) -> Result<JobBox, SpawnFailure> {
        let job = Spawner.start(command, waitStrategy)
        guard vigil_job_kind(job) != Int32(VIGIL_KIND_RUNNING.rawValue) else { return .success(JobBox(job: job)) }
        var outcome = Spawner.outcome(of: job, memorySlack: core.memorySlack)
        outcome.explainSpawnFailure(command)
        vigil_job_free(job)
        return .failure(SpawnFailure(outcome: outcome))
    }

    func run(_ command: Command, waitStrategy: WaitStrategy) async -> Outcome {
        guard await core.acquireSlot() else {
            // Cancelled while waiting for a slot: nothing was spawned.
            return Outcome(termination: .cancelled)
        }
        if Task.isCancelled {
            core.releaseSlot()
            return Outcome(termination: .cancelled)
        }
        let box: JobBox
        switch start(command, waitStrategy) {
        case .success(let started): box = started
        case .failure(let failed):
            core.releaseSlot()
            return failed.outcome
        }
        // Registered before the last look at the cancel flag: a cancellation
        // from here on reaches the reactor by id, one before it is seen here.
        let id = core.register()
        if Task.isCancelled { vigil_job_cancel(box.job) }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                core.submit(ReactorCore.Entry(id: id, box: box, completion: .resume(continuation), holdsSlot: true))
            }
        } onCancel: {
            core.cancel(id)
        }
    }

    /// Spawns `command` and returns at once; the reactor follows the child
    /// until it exits, reaps it (so a long-running host never collects
    /// zombies) and then calls `onExit`. Followed children do not count
    /// against `maxConcurrentRuns`: a worker may live for days.
    func launch(_ command: Command, waitStrategy: WaitStrategy, onExit: @escaping @Sendable (Outcome) -> Void) -> Launch {
        // A worker's group is its own: what it leaves running is not killed.
        var command = command
        command.killGroupAfterExit = false
        switch start(command, waitStrategy) {
        case .failure(let failed):
            return .failed(failed.outcome)
        case .success(let box):
            let pid = vigil_job_pid(box.job)
            core.submit(ReactorCore.Entry(id: core.register(), box: box, completion: .callback(onExit), holdsSlot: false))
            return .launched(pid: pid)
        }
    }
}

/// A spawn that failed before there was anything to follow.
struct SpawnFailure: Error {
    let outcome: Outcome
}

/// The result of `Spawner.launch`: a pid now, or the outcome of a failed spawn.
public enum Launch: Sendable {
    /// The child runs with this pid; the reactor will reap it.
    case launched(pid: Int32)
    /// The spawn failed; `termination` says why (`spawnFailed(errno)`).
    case failed(Outcome)
}

/// A started job handed between threads. `@unchecked Sendable`: the job is
/// touched by the submitting thread until `submit`, by the reactor thread after.
struct JobBox: @unchecked Sendable {
    let job: OpaquePointer
}

final class ReactorCore: Sendable {
    enum Completion: Sendable {
        case resume(CheckedContinuation<Outcome, Never>)
        case callback(@Sendable (Outcome) -> Void)
    }

    struct Entry: Sendable {
        /// Never reused, unlike the job's address: what a cancellation names.
        let id: UInt64
        let box: JobBox
        let completion: Completion
        /// Runs hold one of the `maxConcurrentRuns` slots; followed launches do not.
        let holdsSlot: Bool
    }

    struct State: ~Copyable {
        var pending: [Entry] = []
        var slotsInUse = 0
        /// Runs waiting for a slot, oldest first, by waiter id. A cancelled
        /// waiter leaves the dictionary at once; its id stays in the queue
        /// and is skipped when its turn comes.
        var slotQueue: [UInt64] = []
        var slotQueueHead = 0
        var slotWaiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        /// Waiters between registration and enqueueing, and those of them
        /// whose task was cancelled in that window.
        var arrivingWaiters: Set<UInt64> = []
        var cancelledArrivals: Set<UInt64> = []
        var threadStarted = false
        var threadsStarted = 0
        var shuttingDown = false
        var nextID: UInt64 = 0
        /// Ids registered and not yet finished.
        var live: Set<UInt64> = []
        /// Cancellations not yet taken by the reactor thread.
        var cancelRequests: Set<UInt64> = []
    }

    let maxConcurrentRuns: Int
    /// `PeakMemory.countingSlack` for this machine: a sysconf, once per reactor.
    let memorySlack: Int
    private let state = Mutex(State())
    /// Wake pipe: [0] read by the reactor, [1] written by submitters. -1 if it could not be made.
    private let wakeRead: Int32
    private let wakeWrite: Int32

    init(maxConcurrentRuns: Int) {
        self.maxConcurrentRuns = maxConcurrentRuns
        self.memorySlack = PeakMemory.countingSlackHere()
        var fds: [Int32] = [-1, -1]
        if vigil_wake_pipe(&fds) != 0 { fds = [-1, -1] }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    deinit {
        if wakeRead >= 0 { close(wakeRead) }
        if wakeWrite >= 0 { close(wakeWrite) }
    }

    // MARK: - Slots

    /// Takes one of the `maxConcurrentRuns` slots, suspending (never
    /// blocking a thread) until one is free.
    /// - Returns: `false` when the calling task was cancelled while it
    ///   waited: no slot is held then, and the caller must not spawn.
    func acquireSlot() async -> Bool {
        let waiter = state.withLock { s -> UInt64? in
            if s.slotsInUse < maxConcurrentRuns { s.slotsInUse += 1; return nil }
            s.nextID += 1
            s.arrivingWaiters.insert(s.nextID)
            return s.nextID
        }
        guard let waiter else { return true }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let answer = state.withLock { s -> Bool? in
                    s.arrivingWaiters.remove(waiter)
                    if s.cancelledArrivals.remove(waiter) != nil { return false }
                    // A slot may have been freed since the first look.
                    if s.slotsInUse < maxConcurrentRuns { s.slotsInUse += 1; return true }
                    s.slotQueue.append(waiter)
                    s.slotWaiters[waiter] = c
                    return nil
                }
                if let answer { c.resume(returning: answer) }
            }
        } onCancel: {
            let waiting = state.withLock { s -> CheckedContinuation<Bool, Never>? in
                if let c = s.slotWaiters.removeValue(forKey: waiter) { return c }
                if s.arrivingWaiters.contains(waiter) { s.cancelledArrivals.insert(waiter) }
                return nil
            }
            waiting?.resume(returning: false)
        }
    }

    /// Hands the slot to the oldest waiter still waiting, or frees it.
    func releaseSlot() {
        let next = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            while s.slotQueueHead < s.slotQueue.count {
                let id = s.slotQueue[s.slotQueueHead]
                s.slotQueueHead += 1
                if s.slotQueueHead > 64 && s.slotQueueHead * 2 > s.slotQueue.count {
                    s.slotQueue.removeFirst(s.slotQueueHead)
                    s.slotQueueHead = 0
                }
                if let c = s.slotWaiters.removeValue(forKey: id) { return c }
            }
            s.slotsInUse -= 1
            return nil
        }
        next?.resume(returning: true)
    }

    // MARK: - Submission

    func submit(_ entry: Entry) {
        let startThread = state.withLock { s -> Bool in
            s.pending.append(entry)
            if s.threadStarted { return false }
            s.threadStarted = true
            s.threadsStarted += 1
            return true
        }
        if startThread { spawnThread() } else { wake() }
    }

    /// A fresh id for a job about to be submitted.
    func register() -> UInt64 {
        state.withLock { s in
            s.nextID += 1
            s.live.insert(s.nextID)
            return s.nextID
        }
    }

    /// Asks the reactor to end job `id` early; ignored once it has finished.
    func cancel(_ id: UInt64) {
        let accepted = state.withLock { s -> Bool in
            guard s.live.contains(id) else { return false }
            s.cancelRequests.insert(id)
            return true
        }
        if accepted { wake() }
    }

    var threadsStarted: Int { state.withLock { $0.threadsStarted } }

    func shutDown() {
        state.withLock { $0.shuttingDown = true }
        wake()
    }

    private func wake() {
        guard wakeWrite >= 0 else { return }
        var byte: UInt8 = 1
        // A full pipe already means "wake up"; EAGAIN is fine.
        _ = write(wakeWrite, &byte, 1)
    }

    private func spawnThread() {
        if !system_startThread({ self.loop() }) {
            // No thread: fall back to finishing runs on the submitter's side.
            state.withLock { $0.threadStarted = false }
            drainPendingSynchronously()
        }
    }

    /// Last resort when no thread can be made: wait each pending run here,
    /// on the submitting thread. Followed launches stay pending (a worker may
    /// live for days); the next submission tries to start the thread again.
    private func drainPendingSynchronously() {
        let entries = state.withLock { s -> [Entry] in
            var runs: [Entry] = []
            var launches: [Entry] = []
            for entry in s.pending {
                if case .resume = entry.completion { runs.append(entry) } else { launches.append(entry) }
            }
            s.pending = launches
            return runs
        }
        for entry in entries {
            vigil_job_wait(entry.box.job)
            finish(entry)
        }
    }

    private func finish(_ entry: Entry) {
        _ = state.withLock { $0.live.remove(entry.id) }
        let outcome = Spawner.outcome(of: entry.box.job, memorySlack: memorySlack)
        vigil_job_free(entry.box.job)
        if entry.holdsSlot { releaseSlot() }
        switch entry.completion {
        case .resume(let continuation): continuation.resume(returning: outcome)
        case .callback(let onExit): onExit(outcome)
        }
    }

    // MARK: - The loop

    /// What the loop keeps between turns: the jobs it follows, and buffers
    /// reused each turn so a turn allocates nothing in the steady state.
    private struct LoopState {
        var active: [Entry] = []
        var pollFDs: [pollfd] = []
        /// The active index per pollfd (-1: the wake pipe).
        var owner: [Int] = []
        var fds = [Int32](repeating: -1, count: 3)
        var events = [Int16](repeating: 0, count: 3)
        var ready: [Bool] = []
        /// Cancellations whose job has not reached `active` yet (registered,
        /// not yet submitted): kept until it arrives.
        var cancels: Set<UInt64> = []
    }

    /// One turn: take what was submitted and cancelled, poll every job's
    /// descriptors until the earliest wake-up, step the jobs that need it,
    /// finish those that ended. Returns when shutting down with nothing left.
    private func loop() {
        var loop = LoopState()
        while true {
            guard takeSubmissions(&loop) else { return }
            let waitNs = buildPollSet(&loop)
            _ = loop.pollFDs.withUnsafeMutableBufferPointer { p in
                vigil_poll(p.baseAddress, Int32(p.count), waitNs)
            }
            markReady(&loop)
            for entry in stepJobs(&loop) { finish(entry) }
        }
    }

    /// Moves pending entries into `active` and hands cancellations to their
    /// jobs. - Returns: false when shutting down with nothing in flight.
    private func takeSubmissions(_ loop: inout LoopState) -> Bool {
        let (incoming, stopping, cancelled) = state.withLock { s -> ([Entry], Bool, Set<UInt64>) in
            let p = s.pending
            s.pending.removeAll(keepingCapacity: true)
            let c = s.cancelRequests
            if !c.isEmpty { s.cancelRequests.removeAll() }
            return (p, s.shuttingDown, c)
        }
        loop.active.append(contentsOf: incoming)
        if stopping && loop.active.isEmpty { return false }
        if !cancelled.isEmpty { loop.cancels.formUnion(cancelled) }
        if !loop.cancels.isEmpty {
            for entry in loop.active where loop.cancels.contains(entry.id) {
                vigil_job_cancel(entry.box.job)
                loop.cancels.remove(entry.id)
            }
        }
        return true
    }

    /// Fills the poll set (the wake pipe, then each job's descriptors).
    /// - Returns: how long poll may wait, in nanoseconds (-1: no limit).
    private func buildPollSet(_ loop: inout LoopState) -> Int64 {
        loop.pollFDs.removeAll(keepingCapacity: true)
        loop.owner.removeAll(keepingCapacity: true)
        if wakeRead >= 0 {
            loop.pollFDs.append(pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0))
            loop.owner.append(-1)
        }
        var earliest = Int64.max
        for (i, entry) in loop.active.enumerated() {
            let n = loop.fds.withUnsafeMutableBufferPointer { f in
                loop.events.withUnsafeMutableBufferPointer { e in
                    vigil_job_fds(entry.box.job, f.baseAddress, e.baseAddress, 3)
                }
            }
            for k in 0..<Int(n) {
                loop.pollFDs.append(pollfd(fd: loop.fds[k], events: loop.events[k], revents: 0))
                loop.owner.append(i)
            }
            earliest = min(earliest, vigil_job_next_wakeup(entry.box.job))
        }
        var waitNs: Int64 = -1
        if earliest != Int64.max { waitNs = max(0, earliest - vigil_now_ns()) }
        // Without a wake pipe, nothing interrupts poll: look every 10 ms.
        if wakeRead < 0 { waitNs = waitNs < 0 ? 10_000_000 : min(waitNs, 10_000_000) }
        return waitNs
    }

    /// Marks the jobs whose descriptors poll reported, and empties the wake pipe.
    private func markReady(_ loop: inout LoopState) {
        loop.ready.removeAll(keepingCapacity: true)
        loop.ready.append(contentsOf: repeatElement(false, count: loop.active.count))
        for (k, p) in loop.pollFDs.enumerated() where p.revents != 0 {
            if loop.owner[k] < 0 {
                var sink = [UInt8](repeating: 0, count: 256)
                while read(wakeRead, &sink, sink.count) > 0 {}
            } else {
                loop.ready[loop.owner[k]] = true
            }
        }
    }

    /// Steps every job that is ready or due, and takes the finished ones out
    /// of `active`. - Returns: the finished entries.
    private func stepJobs(_ loop: inout LoopState) -> [Entry] {
        let now = vigil_now_ns()
        var i = 0
        var finished: [Entry] = []
        while i < loop.active.count {
            let job = loop.active[i].box.job
            if loop.ready[i] || vigil_job_next_wakeup(job) <= now {
                if vigil_job_step(job, now) != 0 {
                    finished.append(loop.active[i])
                    loop.active.swapAt(i, loop.active.count - 1)
                    loop.ready.swapAt(i, loop.ready.count - 1)
                    loop.active.removeLast()
                    loop.ready.removeLast()
                    continue
                }
            }
            i += 1
        }
        return finished
    }
}
