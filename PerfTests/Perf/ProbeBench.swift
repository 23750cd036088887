import CPerfFloor
import VigilCore

/// Figures 1 and 2: the cost of one probe, serial, against the floor.
///
/// Four contenders run the same command with the same environment, one probe
/// after the other, in interleaved rounds: the C floor, Vigil's synchronous
/// probe, Vigil's async probe (awaited one at a time) and `Foundation.Process`.
/// Each round measures a batch per contender and records µs per probe.
struct ProbeBench: Benchmark {
    enum Program: Sendable {
        /// `tmux -L vigil-perf-<pid> has-session -t =perf` against the private server.
        case tmuxHasSession
        /// `/bin/true`: the spawn machinery alone, without tmux's own work.
        case binTrue
    }

    let program: Program

    var number: Int { program == .tmuxHasSession ? 1 : 2 }
    var id: String { program == .tmuxHasSession ? "probe-tmux" : "probe-true" }
    var title: String {
        program == .tmuxHasSession
            ? "Per-probe cost, serial: tmux has-session -t =NAME"
            : "Per-probe cost, serial: /bin/true (spawn overhead without tmux's work)"
    }
    /// Many short rounds rather than a few long ones: on a shared machine
    /// load arrives in bursts of tens of milliseconds, and only a round that
    /// is shorter than a burst puts both sides of a ratio inside it.
    var defaultRounds: (full: Int, quick: Int) { (full: 300, quick: 80) }
    var needsTmux: Bool { program == .tmuxHasSession }

    /// The package's target: each Vigil probe within this factor of the floor.
    static let targetRatio = 1.10
    /// Collecting each child's figures (wait4's rusage, two getrusage, about
    /// 1 µs) should be lost in the noise of a probe: the paired ratio of the
    /// floor with them to the floor without stays within this factor (a few
    /// % is the noise of a shared machine; quiet runs land within 1%).
    static let figuresBudget = 1.05

    /// Probes per contender per round: a batch of 2-4 ms, long enough that
    /// reading the clock around it vanishes, short enough to interleave finely.
    private var batch: Int { program == .tmuxHasSession ? 2 : 4 }

    func run(in context: BenchContext) async throws -> FigureResult {
        let executable: String
        let arguments: [String]
        let absolutePath: String
        switch program {
        case .tmuxHasSession:
            guard let tmux = context.tmux else { throw BenchError("figure 1 needs the tmux server") }
            executable = "tmux"
            arguments = tmux.probeArguments
            absolutePath = tmux.path
        case .binTrue:
            executable = "/bin/true"
            arguments = []
            absolutePath = "/bin/true"
        }
        let rounds = context.rounds(for: self)
        let entries = context.environment.entries
        let command = context.probeCommand(executable, arguments)
        let spawner = context.spawner
        let floor = Floor(executable, arguments, environment: entries)
        let foundation = FoundationProbe(path: absolutePath, arguments: arguments, environment: entries)

        // Every contender must get the same answer before any is timed.
        let floorCode = try floor.exitCode()
        if floorCode != 0 { throw BenchError("floor: \(executable) exited \(floorCode)") }

        // Vigil's contenders add up the children's CPU their outcomes report.
        let vigilSync = Contender(label: "vigil sync (runSynchronously)") {
            var childCPU = 0.0
            var batch = try timedBatch(batch) {
                let outcome = spawner.runSynchronously(command)
                try expect(outcome, .exited(0), "vigil sync")
                childCPU += microseconds(try usage(outcome, "vigil sync").cpuTime)
            }
            batch.reportedChildCPUMicroseconds = childCPU
            return batch
        }
        let vigilAsync = Contender(label: "vigil async (await run, serial)") {
            var childCPU = 0.0
            var batch = try await timedBatch(batch) {
                let outcome = await spawner.run(command)
                try expect(outcome, .exited(0), "vigil async")
                childCPU += microseconds(try usage(outcome, "vigil async").cpuTime)
            }
            batch.reportedChildCPUMicroseconds = childCPU
            return batch
        }
        let contenders = [
            floor.contender(batch: batch),
            vigilSync,
            vigilAsync,
            foundation.contender(batch: batch),
            floor.contenderWithFigures(batch: batch),
        ]
        let samples = try await interleave(contenders, rounds: rounds, progress: "figure \(number)")
        let wall = samples.map { $0.map(\.nanoseconds) }

        var result = FigureResult(self)
        result.method = "\(rounds) rounds after 1 warm-up; each round runs \(batch) probes per contender, "
            + "contenders interleaved (rotating order); µs per probe, median of rounds; "
            + "ratios are medians of per-round ratios to the floor. CPU per probe: this process's "
            + "CLOCK_PROCESS_CPUTIME_ID (every thread) and the children's getrusage(RUSAGE_CHILDREN), read around each batch."
        let microsecondsPerNanosecond = 1.0 / 1000
        for (contender, series) in zip(contenders, wall) {
            if let s = Summary(series) {
                result.rows.append(Row(label: contender.label, unit: .microseconds, summary: s.scaled(by: microsecondsPerNanosecond)))
            }
        }
        // What each probe cost in CPU: the caller's own, next to the child's.
        let short = ["floor", "vigil sync", "vigil async", "Foundation.Process", "floor + figures"]
        for (name, series) in zip(short, samples) {
            if let own = Summary(series.map(\.ownCPUNanoseconds)) {
                result.rows.append(Row(label: "\(name): own CPU per probe", unit: .microseconds, summary: own.scaled(by: microsecondsPerNanosecond)))
            }
            if let child = Summary(series.map(\.childCPUMicroseconds)) {
                result.rows.append(Row(label: "  \(name): child CPU per probe (RUSAGE_CHILDREN)", unit: .microseconds, summary: child))
            }
            if let reported = Summary(series.compactMap(\.reportedChildCPUMicroseconds)) {
                let source = name.hasPrefix("vigil") ? "Outcome.usage" : "wait4 rusage"
                result.rows.append(Row(label: "  \(name): child CPU per probe (\(source))", unit: .microseconds, summary: reported))
            }
        }
        let names = ["vigil sync / floor", "vigil async / floor", "Foundation.Process / floor", "floor + figures / floor"]
        for (name, series) in zip(names, wall.dropFirst()) {
            if let s = Summary(pairedRatios(series, wall[0])) {
                result.ratios.append(Row(label: name, unit: .ratio, summary: s))
            }
        }
        for ratio in result.ratios.prefix(2) {
            let median = ratio.summary.median
            result.targets.append(TargetCheck(
                description: "\(ratio.label) <= \(format(Self.targetRatio))x",
                measured: "\(format(median))x",
                met: median <= Self.targetRatio))
        }
        // The mark read, timed alone: stable where the ratio is only as
        // steady as the machine.
        let markReads = (0..<rounds).map { _ in cperf_self_maxrss_ns(2_000) / 1000 }
        if let reads = Summary(markReads) {
            result.rows.append(Row(label: "getrusage(RUSAGE_THREAD) alone (Vigil makes 2 per probe)", unit: .microseconds, summary: reads))
            if let floorWall = Summary(wall[0]) {
                let share = 2 * reads.median * 1000 / floorWall.median
                result.targets.append(TargetCheck(
                    description: "Vigil's 2 reads of its own mark per probe < 1% of a floor probe",
                    measured: "\(format(share * 100))%",
                    met: share < 0.01))
            }
        }
        if let figures = result.ratios.last, figures.label.hasPrefix("floor + figures") {
            let median = figures.summary.median
            result.targets.append(TargetCheck(
                description: "collecting the figures is within noise: floor + figures / floor <= \(format(Self.figuresBudget))x",
                measured: "\(format(median))x",
                met: median <= Self.figuresBudget))
        }
        // Vigil's figures against the kernel's own running total of its
        // children (RUSAGE_CHILDREN), round by round.
        var gaps: [Double] = []
        for series in samples[1...2] {
            for sample in series {
                guard let reported = sample.reportedChildCPUMicroseconds else { continue }
                gaps.append(abs(reported - sample.childCPUMicroseconds))
            }
        }
        if let gap = Summary(gaps) {
            result.targets.append(TargetCheck(
                description: "Outcome.usage child CPU = getrusage(RUSAGE_CHILDREN) delta (median gap <= 2 µs per probe)",
                measured: "median gap \(format(gap.median)) µs, largest \(format(gap.max)) µs",
                met: gap.median <= 2))
            result.notes.append("Each rusage is rounded down to the µs (user and system apart), so the two totals may "
                + "differ by up to 2 µs per child. Larger gaps are the kernel's: a child reaped while still leaving "
                + "the CPU goes on accruing its last µs between the kernel's two readings of it (the one it adds to "
                + "RUSAGE_CHILDREN and the one wait4 returns).")
        }
        result.notes.append("Vigil probe shape: stdoutLimit 0, stderr captured (4 KiB cap), "
            + "environment built once via Environment.inherited(removing: [\"TMUX\", \"TMUX_PANE\"]), "
            + "wait strategy \(spawner.waitStrategy) (pidfd \(pidfdSupported() ? "available" : "unavailable")); "
            + "the floor and Foundation.Process get the same environment. "
            + "'floor + figures' is the floor with exactly the calls Vigil adds per child to collect its figures "
            + "(wait4 with an rusage instead of waitpid, this process's ru_maxrss read after the spawn and at the reap).")
        if program == .tmuxHasSession {
            result.notes.append("Vigil and the floor run `tmux` via posix_spawnp's PATH search; "
                + "Foundation.Process needs an absolute path (\(absolutePath)).")
        }
        return result
    }
}

/// The usage of a reaped child; its absence aborts the figure (every exited probe has one).
@inline(__always)
func usage(_ outcome: Outcome, _ what: String) throws -> ResourceUsage {
    guard let usage = outcome.usage else { throw BenchError("\(what): an exited child without usage figures") }
    return usage
}
