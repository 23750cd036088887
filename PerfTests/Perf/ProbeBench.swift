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

        let contenders = [
            floor.contender(batch: batch),
            Contender(label: "vigil sync (runSynchronously)") {
                try nanosecondsPerCall(batch) {
                    try expect(spawner.runSynchronously(command), .exited(0), "vigil sync")
                }
            },
            Contender(label: "vigil async (await run, serial)") {
                try await nanosecondsPerCall(batch) {
                    try expect(await spawner.run(command), .exited(0), "vigil async")
                }
            },
            foundation.contender(batch: batch),
        ]
        let samples = try await interleave(contenders, rounds: rounds, progress: "figure \(number)")

        var result = FigureResult(self)
        result.method = "\(rounds) rounds after 1 warm-up; each round runs \(batch) probes per contender, "
            + "contenders interleaved (rotating order); µs per probe, median of rounds; "
            + "ratios are medians of per-round ratios to the floor."
        let microseconds = 1.0 / 1000
        for (contender, series) in zip(contenders, samples) {
            if let s = Summary(series) {
                result.rows.append(Row(label: contender.label, unit: .microseconds, summary: s.scaled(by: microseconds)))
            }
        }
        let names = ["vigil sync / floor", "vigil async / floor", "Foundation.Process / floor"]
        for (name, series) in zip(names, samples.dropFirst()) {
            if let s = Summary(pairedRatios(series, samples[0])) {
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
        result.notes.append("Vigil probe shape: stdoutLimit 0, stderr captured (4 KiB cap), "
            + "environment built once via Environment.inherited(removing: [\"TMUX\", \"TMUX_PANE\"]), "
            + "wait strategy \(spawner.waitStrategy) (pidfd \(pidfdSupported() ? "available" : "unavailable")); "
            + "the floor and Foundation.Process get the same environment.")
        if program == .tmuxHasSession {
            result.notes.append("Vigil and the floor run `tmux` via posix_spawnp's PATH search; "
                + "Foundation.Process needs an absolute path (\(absolutePath)).")
        }
        return result
    }
}
