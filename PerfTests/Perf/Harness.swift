#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPerfFloor
import VigilCore

// MARK: - What a figure is

/// One figure of the report. Add a figure by writing a type that conforms and
/// listing it in `allBenchmarks` (main.swift); the options, the table and the
/// JSON come for free.
protocol Benchmark: Sendable {
    /// The figure's number in the report (1, 2, ...).
    var number: Int { get }
    /// Short stable name for `--filter` and the JSON (`probe-tmux`).
    var id: String { get }
    /// One line for the table heading.
    var title: String { get }
    /// Measured rounds by default and under `--quick`; `--rounds` overrides both.
    var defaultRounds: (full: Int, quick: Int) { get }
    /// Whether the figure needs the private tmux server (started once, shared).
    var needsTmux: Bool { get }
    /// Measures the figure. Throws when the thing measured misbehaves (a probe
    /// that should answer 0 does not): a figure over wrong answers is worthless.
    func run(in context: BenchContext) async throws -> FigureResult
}

extension Benchmark {
    var needsTmux: Bool { false }
}

/// Units the report knows how to print.
enum MetricUnit: String, Sendable {
    case microseconds = "us"
    case milliseconds = "ms"
    case ratio = "x"
    case count = "count"
}

/// One line of a figure: a statistic over rounds (or over probes, for figure 3).
struct Row: Sendable {
    let label: String
    let unit: MetricUnit
    let summary: Summary
}

/// A stated target (README, Performance) and whether this run met it. Reported, never asserted.
struct TargetCheck: Sendable {
    /// "vigil sync <= 1.10x floor".
    let description: String
    /// What was measured, in the target's terms ("1.04x").
    let measured: String
    let met: Bool
}

/// Everything a figure reports.
struct FigureResult: Sendable {
    enum Status: Sendable {
        case measured
        /// Not implemented yet; the string says what is missing.
        case todo(String)
        /// The figure threw; the string is the error.
        case failed(String)
    }

    let number: Int
    let id: String
    let title: String
    var status: Status = .measured
    /// How it was measured, in one or two sentences (printed under the title).
    var method: String = ""
    var rows: [Row] = []
    /// Paired per-round ratios (see `pairedRatios`).
    var ratios: [Row] = []
    var targets: [TargetCheck] = []
    var notes: [String] = []
    /// Print the p99 column (distributions rather than a few rounds).
    var showsP99 = false
    /// Wall-clock seconds the figure took, warm-up included.
    var seconds: Double = 0

    init(_ benchmark: some Benchmark) {
        number = benchmark.number
        id = benchmark.id
        title = benchmark.title
    }

    /// A figure that is only a placeholder so far.
    static func todo(_ benchmark: some Benchmark, _ what: String) -> FigureResult {
        var result = FigureResult(benchmark)
        result.status = .todo(what)
        return result
    }

    /// A figure that could not be measured.
    static func failed(_ benchmark: some Benchmark, _ error: String) -> FigureResult {
        var result = FigureResult(benchmark)
        result.status = .failed(error)
        return result
    }
}

// MARK: - What every figure gets

/// Shared, immutable state handed to every figure.
struct BenchContext: Sendable {
    let options: Options
    /// The private tmux server, when a selected figure needs it.
    let tmux: TmuxServer?
    /// The caller's environment without `TMUX`/`TMUX_PANE`, built once, as a
    /// tmux backend builds it. Every contender gets exactly these entries.
    let environment: Environment
    /// One spawner (and so one reactor, default bound of 256) shared by all figures.
    let spawner: Spawner

    /// Measured rounds for `benchmark` under the options given.
    func rounds(for benchmark: some Benchmark) -> Int {
        options.rounds ?? (options.quick ? benchmark.defaultRounds.quick : benchmark.defaultRounds.full)
    }

    /// The probe shape a tmux backend uses: nothing from stdout, stderr kept
    /// up to 4 KiB (for the failure reason), the shared environment.
    func probeCommand(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(3)) -> Command {
        Command(executable, arguments: arguments, environment: environment,
                timeout: timeout, stdoutLimit: 0, stderrLimit: 4 * 1024)
    }
}

// MARK: - Interleaved measurement

/// One side of a comparison: runs a batch of calls and says what it measured.
struct Contender: Sendable {
    let label: String
    let measure: @Sendable () async throws -> Batch
}

/// What one contender's batch measured, before the harness adds the CPU figures.
struct Batch: Sendable {
    /// Calls in the batch.
    var calls: Int
    /// Wall-clock nanoseconds for the whole batch.
    var nanoseconds: Double
    /// The children's CPU time (user + system) in µs as the contender's own
    /// figures report it: Vigil's `Outcome.usage`, the floor's wait4 rusage.
    /// `nil` for contenders that report none.
    var reportedChildCPUMicroseconds: Double? = nil
}

/// One contender's figures for one round, per call.
struct Sample: Sendable {
    /// Wall-clock nanoseconds per call.
    var nanoseconds: Double
    /// This process's CPU time per call (CLOCK_PROCESS_CPUTIME_ID, every
    /// thread, the reactor's included): what the caller pays to run a probe.
    var ownCPUNanoseconds: Double
    /// The children's CPU per call, in µs, from getrusage(RUSAGE_CHILDREN)
    /// around the batch: the kernel's own total, independent of Vigil.
    var childCPUMicroseconds: Double
    /// The children's CPU per call, in µs, as the contender reported it.
    var reportedChildCPUMicroseconds: Double?
}

/// Runs `warmup` unrecorded rounds, then `rounds` recorded ones; each round
/// runs every contender once, A, B, C, A, B, C... so that whatever the
/// machine does during the run (another build, a frequency change) hits all
/// of them alike. The starting contender rotates from round to round so none
/// of them always runs right after the same neighbour. Around each batch,
/// outside its timing, this process's CPU clock and its children's CPU
/// total are read.
///
/// - Returns: per contender (in the order given), one sample per recorded round.
func interleave(_ contenders: [Contender], rounds: Int, warmup: Int = 1, progress: String) async throws -> [[Sample]] {
    var samples = Array(repeating: [Sample](), count: contenders.count)
    for round in -warmup..<rounds {
        if round >= 0 { progressLine("\(progress): round \(round + 1)/\(rounds)") }
        let start = ((round % contenders.count) + contenders.count) % contenders.count
        for k in 0..<contenders.count {
            let i = (start + k) % contenders.count
            let cpuBefore = cperf_process_cpu_ns()
            let childrenBefore = cperf_children_cpu_us()
            let batch = try await contenders[i].measure()
            let childrenAfter = cperf_children_cpu_us()
            let cpuAfter = cperf_process_cpu_ns()
            let calls = Double(max(1, batch.calls))
            if round >= 0 {
                samples[i].append(Sample(
                    nanoseconds: batch.nanoseconds / calls,
                    ownCPUNanoseconds: Double(cpuAfter - cpuBefore) / calls,
                    childCPUMicroseconds: Double(childrenAfter - childrenBefore) / calls,
                    reportedChildCPUMicroseconds: batch.reportedChildCPUMicroseconds.map { $0 / calls }))
            }
        }
    }
    progressDone()
    return samples
}

/// Times `iterations` calls of `body`.
@inline(__always)
func timedBatch(_ iterations: Int, _ body: () throws -> Void) rethrows -> Batch {
    let start = cperf_now_ns()
    for _ in 0..<iterations { try body() }
    return Batch(calls: iterations, nanoseconds: Double(cperf_now_ns() - start))
}

/// The async counterpart of `timedBatch`.
@inline(__always)
func timedBatch(_ iterations: Int, _ body: () async throws -> Void) async rethrows -> Batch {
    let start = cperf_now_ns()
    for _ in 0..<iterations { try await body() }
    return Batch(calls: iterations, nanoseconds: Double(cperf_now_ns() - start))
}

/// Microseconds of a duration, as a Double.
func microseconds(_ d: Duration) -> Double {
    let c = d.components
    return Double(c.seconds) * 1e6 + Double(c.attoseconds) / 1e12
}

// MARK: - Errors and progress

/// Why a figure could not be measured.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Checks a probe's outcome inside a timed loop; a wrong answer aborts the figure.
@inline(__always)
func expect(_ outcome: Outcome, _ expected: Termination, _ what: String) throws {
    if outcome.termination != expected {
        throw BenchError("\(what): expected \(expected), got \(outcome.termination) \(Outcome.firstLine(of: outcome.stderr.text))")
    }
}

/// Progress goes to stderr (overwriting one line on a terminal) so that stdout
/// carries only the table.
func progressLine(_ text: String) {
    let line = isatty(2) != 0 ? "\r\u{1B}[K" + text : text + "\n"
    writeStderr(line)
}

func progressDone() {
    if isatty(2) != 0 { writeStderr("\r\u{1B}[K") }
}

func writeStderr(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        offset += n
    }
}
