import CPerfFloor
import VigilCore

/// Figure 4: a thousand async probes thrown at the reactor at once.
///
/// One task per probe in a task group; every fifth probe is `/bin/sleep 1000`
/// that hangs until its 200 ms deadline, the rest are `/bin/true`. The
/// reactor admits at most `maxConcurrentRuns` (256 by default) at a time.
/// A sampler thread records peak threads and descriptors meanwhile; after the
/// group returns, /proc is searched for zombie children of this process.
struct ConcurrencyBench: Benchmark {
    var number: Int { 4 }
    var id: String { "concurrency" }
    var title: String { "Concurrency: 1,000 async probes at once, 20% hanging until a 200 ms deadline" }
    /// Rounds are whole runs of 1,000 probes (about a second each).
    var defaultRounds: (full: Int, quick: Int) { (full: 7, quick: 2) }

    static let probes = 1000
    static let hangEvery = 5
    static let hangDeadline = Duration.milliseconds(200)

    /// What one run of the thousand measured.
    struct RunResult {
        var wallMs: Double
        var threadsBefore: Int
        var peaks: ProcSampler.Peaks
        var descriptorsBefore: Int
        var zombies: Int
        /// This process's CPU time for the run, every thread (the sampler's too).
        var ownCPUMs: Double
        /// The 1,000 children's CPU time, summed from their `Outcome.usage`.
        var childrenCPUMs: Double
        /// Children reaped without figures (must be 0: every one was reaped by Vigil).
        var unmeasured: Int
    }

    func run(in context: BenchContext) async throws -> FigureResult {
        let rounds = context.rounds(for: self)
        var runs: [RunResult] = []
        for round in -1..<rounds {
            if round >= 0 { progressLine("figure 4: round \(round + 1)/\(rounds)") }
            let r = try await once(context)
            if round >= 0 { runs.append(r) }
        }
        progressDone()

        var result = FigureResult(self)
        let bound = context.spawner.reactor.maxConcurrentRuns
        result.method = "\(rounds) runs after 1 warm-up run; each run: \(Self.probes) tasks in one withTaskGroup, "
            + "\(Self.probes / Self.hangEvery) of them /bin/sleep 1000 with a 200 ms deadline, the rest /bin/true; "
            + "reactor bound maxConcurrentRuns = \(bound) (default); threads and descriptors sampled every ~1 ms."
        func row(_ label: String, _ unit: MetricUnit, _ value: (RunResult) -> Double) {
            if let s = Summary(runs.map(value)) { result.rows.append(Row(label: label, unit: unit, summary: s)) }
        }
        row("wall time, all 1,000 answered", .milliseconds) { $0.wallMs }
        row("peak threads (process)", .count) { Double($0.peaks.threads) }
        row("  threads before the run", .count) { Double($0.threadsBefore) }
        row("peak open descriptors", .count) { Double($0.peaks.descriptors) }
        row("  descriptors before the run", .count) { Double($0.descriptorsBefore) }
        row("zombie children afterwards", .count) { Double($0.zombies) }
        row("vigil's own CPU for the run (all threads)", .milliseconds) { $0.ownCPUMs }
        row("  children's CPU, all 1,000 (sum of Outcome.usage)", .milliseconds) { $0.childrenCPUMs }
        row("  children reaped without figures", .count) { Double($0.unmeasured) }
        row("samples taken per run", .count) { Double($0.peaks.samples) }

        let worstZombies = runs.map(\.zombies).max() ?? 0
        result.targets.append(TargetCheck(description: "zombies after every run = 0",
                                          measured: "\(worstZombies)", met: worstZombies == 0))
        let extraThreads = runs.map { $0.peaks.threads - $0.threadsBefore }.max() ?? 0
        result.notes.append("Counts include the sampler's own thread. Most threads added during a run: \(extraThreads) "
            + "(independent of the 1,000: runs wait on the reactor's one thread).")
        result.notes.append("A run holds at most 2 descriptors here (pidfd, stderr pipe), so the reactor bound "
            + "caps the run's descriptors at \(2 * bound) above the baseline.")
        return result
    }

    private func once(_ context: BenchContext) async throws -> RunResult {
        let spawner = context.spawner
        let hang = context.probeCommand("/bin/sleep", ["1000"], timeout: Self.hangDeadline)
        let quick = context.probeCommand("/bin/true", [])
        let sampler = ProcSampler()
        try sampler.start()
        let threadsBefore = threadCount()
        let descriptorsBefore = openDescriptorCount()

        let start = cperf_now_ns()
        let cpuStart = cperf_process_cpu_ns()
        let (exited, timedOut, other, children) = await withTaskGroup(of: Outcome.self) { group in
            for i in 0..<Self.probes {
                let command = i % Self.hangEvery == 0 ? hang : quick
                group.addTask { await spawner.run(command) }
            }
            var counts = (exited: 0, timedOut: 0, other: [Termination](), children: ChildrenUsage.none)
            for await outcome in group {
                counts.children.add(outcome)
                switch outcome.termination {
                case .exited(0): counts.exited += 1
                case .timedOut(.kill): counts.timedOut += 1
                default: counts.other.append(outcome.termination)
                }
            }
            return counts
        }
        let wall = cperf_now_ns() - start
        let ownCPU = cperf_process_cpu_ns() - cpuStart
        let peaks = sampler.stop()
        let zombies = zombieChildren()

        let hangs = Self.probes / Self.hangEvery
        if exited != Self.probes - hangs || timedOut != hangs {
            throw BenchError("figure 4: expected \(Self.probes - hangs) exits and \(hangs) timeouts, "
                + "got \(exited) and \(timedOut); others: \(other.prefix(5))")
        }
        return RunResult(wallMs: Double(wall) / 1_000_000, threadsBefore: threadsBefore, peaks: peaks,
                         descriptorsBefore: descriptorsBefore, zombies: zombies,
                         ownCPUMs: Double(ownCPU) / 1_000_000, childrenCPUMs: microseconds(children.cpuTime) / 1000,
                         unmeasured: children.unmeasured)
    }
}
