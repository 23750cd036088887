import CPerfFloor
import VigilCore

/// Figure 3: how late a probe returns when its child never exits.
///
/// Each probe runs `/bin/sleep 1000` with a 100 ms deadline; lateness is the
/// caller's view: (time the call returned) - (time the call was made + 100 ms),
/// so it includes the spawn, the kill, the reap and, for async, the hop back
/// to the caller's task. Rounds interleave a serial stretch of synchronous
/// probes with a concurrent batch of the same number of async probes.
struct DeadlineBench: Benchmark {
    var number: Int { 3 }
    var id: String { "deadline" }
    var title: String { "Deadline precision: /bin/sleep 1000 with a 100 ms deadline" }
    /// 10 rounds x 20 = 200 probes of each kind (the count README figure 3 reports).
    var defaultRounds: (full: Int, quick: Int) { (full: 10, quick: 2) }

    static let deadline = Duration.milliseconds(100)
    static let probesPerRound = 20
    static let warmupProbes = 3
    /// The stated target for p99 lateness, in ms (README figure 3: p99 < 20 ms).
    static let targetP99 = 20.0

    func run(in context: BenchContext) async throws -> FigureResult {
        let rounds = context.rounds(for: self)
        let command = context.probeCommand("/bin/sleep", ["1000"], timeout: Self.deadline)
        let spawner = context.spawner
        var sync: [Double] = []
        var async: [Double] = []
        for round in -1..<rounds {
            let n = round < 0 ? Self.warmupProbes : Self.probesPerRound
            if round >= 0 { progressLine("figure 3: round \(round + 1)/\(rounds)") }
            // Alternate which kind goes first, as `interleave` rotates contenders.
            var s: [Double] = []
            var a: [Double] = []
            if round % 2 == 0 {
                s = try Self.synchronous(n, command, spawner)
                a = try await Self.concurrent(n, command, spawner)
            } else {
                a = try await Self.concurrent(n, command, spawner)
                s = try Self.synchronous(n, command, spawner)
            }
            if round >= 0 { sync += s; async += a }
        }
        progressDone()

        var result = FigureResult(self)
        result.showsP99 = true
        result.method = "\(rounds) rounds after a warm-up; each round: \(Self.probesPerRound) sync probes one "
            + "after the other and \(Self.probesPerRound) async probes in flight at once; "
            + "lateness = return time - (call time + 100 ms), over all \(sync.count) probes of each kind."
        if let s = Summary(sync) { result.rows.append(Row(label: "sync lateness", unit: .milliseconds, summary: s)) }
        if let a = Summary(async) { result.rows.append(Row(label: "async lateness (batches of \(Self.probesPerRound))", unit: .milliseconds, summary: a)) }
        for row in result.rows {
            result.targets.append(TargetCheck(
                description: "\(row.label.split(separator: " ").first ?? "") p99 < \(format(Self.targetP99, decimals: 0)) ms",
                measured: "\(format(row.summary.p99)) ms",
                met: row.summary.p99 < Self.targetP99))
        }
        result.notes.append("Every probe must end as timed out (SIGKILL sent to its process group); any other answer aborts the figure.")
        return result
    }

    /// `n` synchronous probes on this thread; lateness of each in ms.
    static func synchronous(_ n: Int, _ command: Command, _ spawner: Spawner) throws -> [Double] {
        var lateness: [Double] = []
        for _ in 0..<n {
            let start = cperf_now_ns()
            let outcome = spawner.runSynchronously(command)
            lateness.append(milliseconds(late: cperf_now_ns() - start))
            try expect(outcome, .timedOut(.kill), "vigil sync, deadline")
        }
        return lateness
    }

    /// `n` async probes started together; lateness of each in ms.
    static func concurrent(_ n: Int, _ command: Command, _ spawner: Spawner) async throws -> [Double] {
        try await withThrowingTaskGroup(of: Double.self) { group in
            for _ in 0..<n {
                group.addTask {
                    let start = cperf_now_ns()
                    let outcome = await spawner.run(command)
                    let late = milliseconds(late: cperf_now_ns() - start)
                    try expect(outcome, .timedOut(.kill), "vigil async, deadline")
                    return late
                }
            }
            var lateness: [Double] = []
            for try await late in group { lateness.append(late) }
            return lateness
        }
    }

    private static func milliseconds(late elapsedNs: Int64) -> Double {
        Double(elapsedNs - Int64(deadline.components.seconds) * 1_000_000_000
            - deadline.components.attoseconds / 1_000_000_000) / 1_000_000
    }
}
