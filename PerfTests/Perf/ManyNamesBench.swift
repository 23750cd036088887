import CPerfFloor
import Synchronization
import VigilBackends
import VigilCore

/// Figure 7: many names against one server. 1,000 names (500 live, 500
/// absent) against a private tmux server holding 1,000 sessions.
///
/// Interleaved rounds compare one listing call alone (the floor: what any
/// answer for many names must cost at least), `vigil probe`'s way for
/// several names (`probeAll`: one listing plus exact lookups), and one
/// single-name `probe` (which, on a server this size, costs about as much
/// as the listing). Then a few storms: 1,000 concurrent single-name `probe`
/// calls through one backend, which the per-server gate holds to 4 tmux
/// clients at once; what cannot get a turn before the retry policy's
/// deadline answers `unknown` without ever reaching the server.
///
/// Every answer is checked; `unknown` answers are counted, not thrown:
/// they are what this figure is about.
struct ManyNamesBench: Benchmark {
    var number: Int { 7 }
    var id: String { "probe-many" }
    var title: String { "Many names, one server: 1,000 names against a 1,000-session tmux server" }
    /// A round is one listing, one probeAll and one probe (a fraction of a second).
    var defaultRounds: (full: Int, quick: Int) { (full: 30, quick: 5) }
    /// Storms of 1,000 concurrent probes (each ends within the 10 s retry deadline).
    func stormCount(_ context: BenchContext) -> Int { context.options.quick ? 1 : 3 }

    static let sessions = 1000
    static let names = 1000

    /// The stated target (README figure 7): `probeAll` within this factor of one listing.
    static let targetRatio = 2.0

    func run(in context: BenchContext) async throws -> FigureResult {
        let server = try TmuxServer(environment: context.environment, spawner: context.spawner, label: "many")
        defer { server.stop() }
        // The server holds "perf" already; 999 more, 100 per tmux call.
        var live: [String] = [TmuxServer.session]
        var batch: [String] = []
        func flush() throws {
            guard !batch.isEmpty else { return }
            let o = context.spawner.runSynchronously(Command("tmux", arguments: ["-L", server.socketName] + batch,
                                                             environment: context.environment, timeout: .seconds(60)))
            guard o.termination == .exited(0) else {
                throw BenchError("creating sessions: \(o.failureReason(program: "tmux", timeout: .seconds(60)))")
            }
            batch.removeAll()
        }
        for i in 1..<Self.sessions {
            let name = "bmx-" + String(i, radix: 16).leftPadded(8)
            live.append(name)
            if !batch.isEmpty { batch.append(";") }
            batch += ["new-session", "-d", "-s", name, "sleep", "86400"]
            if batch.count > 600 { try flush() }
        }
        try flush()
        let liveSet = Set(live)
        // Every other live session, and as many names that are not there.
        let asked = stride(from: 0, to: Self.sessions, by: 2).map { live[$0] }
            + (0..<(Self.names / 2)).map { "bmx-gone" + String($0, radix: 16).leftPadded(4) }

        let backend = TmuxBackend(configuration: TmuxConfiguration(
            socket: .name(server.socketName), environment: context.environment, spawner: context.spawner))
        let gate = backend.serverGate.limit
        let unknowns = UnknownCounts()

        @Sendable func check(_ name: String, _ state: SessionState, _ what: String) throws -> Int {
            if state == .unknown { return 1 }
            let expected: SessionState = liveSet.contains(name) ? .exists : .missing
            guard state == expected else { throw BenchError("\(what): \(name) answered \(state), expected \(expected)") }
            return 0
        }

        let contenders = [
            Contender(label: "one listing call (list)") {
                let start = cperf_now_ns()
                let listing = await backend.list()
                let ns = Double(cperf_now_ns() - start)
                guard case .live(let names, _) = listing.answer, names.count == Self.sessions else {
                    throw BenchError("listing: \(listing.answer)")
                }
                return Batch(calls: 1, nanoseconds: ns)
            },
            Contender(label: "1,000 names, one listing + lookups (probeAll)") {
                let start = cperf_now_ns()
                let (_, answers) = await backend.probeAll(asked)
                let ns = Double(cperf_now_ns() - start)
                var n = 0
                for name in asked { n += try check(name, answers[name]?.state ?? .unknown, "probeAll") }
                unknowns.add(n, to: .probeAll)
                return Batch(calls: 1, nanoseconds: ns)
            },
            Contender(label: "one probe(name) alone") {
                let name = asked[0]
                let start = cperf_now_ns()
                let state = await backend.probe(name).answer.state
                let ns = Double(cperf_now_ns() - start)
                unknowns.add(try check(name, state, "single probe"), to: .single)
                return Batch(calls: 1, nanoseconds: ns)
            },
        ]
        let rounds = context.rounds(for: self)
        let samples = try await interleave(contenders, rounds: rounds, progress: "figure 7")

        // The storms: 1,000 single-name probes at once through one backend.
        var storms: [Storm] = []
        for n in 0..<stormCount(context) {
            progressLine("figure 7: storm \(n + 1)/\(stormCount(context))")
            let start = cperf_now_ns()
            let answers = await withTaskGroup(of: (String, SessionProbe).self) { group in
                for name in asked { group.addTask { (name, await backend.probe(name).answer) } }
                var all: [(String, SessionProbe)] = []
                all.reserveCapacity(asked.count)
                for await r in group { all.append(r) }
                return all
            }
            var storm = Storm(ms: Double(cperf_now_ns() - start) / 1e6)
            for (name, answer) in answers {
                if try check(name, answer.state, "storm") == 0 { storm.answered += 1; continue }
                if answer.reason.contains("no turn at the tmux server") { storm.noTurn += 1; continue }
                storm.failedAtServer += 1
                if storm.firstFailure == nil { storm.firstFailure = answer.reason }
            }
            storms.append(storm)
        }
        progressDone()

        var result = FigureResult(self)
        result.method = "\(rounds) rounds after 1 warm-up; each round: one list(), one probeAll of the \(asked.count) names "
            + "(\(asked.count / 2) live, \(asked.count / 2) absent) and one probe(name), interleaved (rotating order), "
            + "against a private server with \(Self.sessions) sessions; default 3 s per call and the default retry policy "
            + "(10 s overall); every answer checked; ms per call; ratios are medians of per-round ratios to the listing. "
            + "Then \(storms.count) storm(s) of \(asked.count) concurrent probe() tasks through one backend (gate \(gate)/server)."
        for (contender, series) in zip(contenders, samples) {
            if let s = Summary(series.map(\.nanoseconds)) {
                result.rows.append(Row(label: contender.label, unit: .milliseconds, summary: s.scaled(by: 1e-6)))
            }
        }
        let perRound = unknowns.perRound()
        if let s = Summary(perRound.probeAll.map(Double.init)) {
            result.rows.append(Row(label: "unknown answers per round, probeAll", unit: .count, summary: s))
        }
        func stormRow(_ label: String, _ unit: MetricUnit, _ value: (Storm) -> Double) {
            if let s = Summary(storms.map(value)) { result.rows.append(Row(label: label, unit: unit, summary: s)) }
        }
        stormRow("storm: 1,000 probe(name) at once, wall time", .milliseconds) { $0.ms }
        stormRow("  answered exists/missing (all right)", .count) { Double($0.answered) }
        stormRow("  unknown: no turn before the deadline", .count) { Double($0.noTurn) }
        stormRow("  unknown: failed at the server (timeouts)", .count) { Double($0.failedAtServer) }
        let names = ["probeAll / one listing", "one probe(name) / one listing"]
        for (name, series) in zip(names, samples.dropFirst()) {
            if let s = Summary(pairedRatios(series.map(\.nanoseconds), samples[0].map(\.nanoseconds))) {
                result.ratios.append(Row(label: name, unit: .ratio, summary: s))
            }
        }
        let worstProbeAll = perRound.probeAll.max() ?? 0
        result.targets.append(TargetCheck(description: "probeAll: 0 unknown in every round", measured: "\(worstProbeAll)", met: worstProbeAll == 0))
        if let ratio = result.ratios.first?.summary.median {
            result.targets.append(TargetCheck(description: "probeAll <= \(format(Self.targetRatio))x one listing",
                                              measured: "\(format(ratio))x", met: ratio <= Self.targetRatio))
        }
        let worstServer = storms.map(\.failedAtServer).max() ?? 0
        if let reason = storms.compactMap(\.firstFailure).first {
            result.notes.append("a call that failed at the server in a storm: \(reason)")
        }
        result.targets.append(TargetCheck(description: "storm: 0 calls failing at the server", measured: "\(worstServer)", met: worstServer == 0))
        result.notes.append("`vigil probe` with several names runs probeAll; a single name runs has-session ; display-message "
            + "(one client). On a server this size one client costs about as much as the listing, so 1,000 single "
            + "probes cannot all be answered within the 10 s retry deadline however they are scheduled: the gate "
            + "(TmuxConfiguration.maxConcurrentCallsPerServer, per server and reactor) keeps the server responsive and "
            + "the calls that ran correct, and the rest wait their turn and answer unknown at the deadline (safe: nothing "
            + "is closed on unknown). Many names belong in one probeAll.")
        return result
    }
}

/// One storm of concurrent probes.
private struct Storm {
    var ms: Double
    var answered = 0
    var noTurn = 0
    var failedAtServer = 0
    var firstFailure: String? = nil
}

/// Unknown answers per contender, one entry per round (warm-up included, dropped at the end).
private final class UnknownCounts: Sendable {
    enum Which { case probeAll, single }
    private let state = Mutex<(probeAll: [Int], single: [Int])>(([], []))

    func add(_ n: Int, to which: Which) {
        state.withLock { s in
            switch which {
            case .probeAll: s.probeAll.append(n)
            case .single: s.single.append(n)
            }
        }
    }

    /// Without the warm-up round (the first entry of each).
    func perRound() -> (probeAll: [Int], single: [Int]) {
        state.withLock { (Array($0.probeAll.dropFirst()), Array($0.single.dropFirst())) }
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
