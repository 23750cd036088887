// perf: Vigil's benchmarks. `swift run -c release perf --help`.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPerfFloor
import VigilCore

/// Every figure, in report order. Add a figure here (or to `restoreBenchmarks`).
let allBenchmarks: [any Benchmark] = [
    ProbeBench(program: .tmuxHasSession),
    ProbeBench(program: .binTrue),
    DeadlineBench(),
    ConcurrencyBench(),
] + restoreBenchmarks + [
    ManyNamesBench(),
    RestoreFloorBench(),
]

// A restore child of figures 5-6 (this binary re-run): one restore, then exit.
if let code = await RestoreChild.runIfRequested() { exit(code) }

/// sysexits(3) codes.
enum ExitCode {
    static let usage: Int32 = 64
    static let unavailable: Int32 = 69
    static let software: Int32 = 70
    static let cantCreate: Int32 = 73
}

let options: Options
do {
    switch try Options.parse(Array(CommandLine.arguments.dropFirst())) {
    case .help:
        print(Options.help)
        exit(0)
    case .run(let parsed):
        options = parsed
    }
} catch {
    writeStderr("Error: \(error.message)\n\(Options.usage)\n")
    exit(ExitCode.usage)
}

let selected = allBenchmarks.filter { options.selects($0) }
if selected.isEmpty {
    writeStderr("Error: --filter matched no figure (ids: \(allBenchmarks.map(\.id).joined(separator: ", ")))\n\(Options.usage)\n")
    exit(ExitCode.usage)
}

let environment = Environment.inherited(removing: ["TMUX", "TMUX_PANE"])
let spawner = Spawner()
let tmux: TmuxServer?
if selected.contains(where: { $0.needsTmux }) {
    do {
        tmux = try TmuxServer(environment: environment, spawner: spawner)
    } catch {
        writeStderr("Error: \(error)\n")
        exit(ExitCode.unavailable)
    }
} else {
    tmux = nil
}

let context = BenchContext(options: options, tmux: tmux, environment: environment, spawner: spawner)
let started = cperf_now_ns()
var results: [FigureResult] = []
var failed = false
for benchmark in selected {
    let figureStarted = cperf_now_ns()
    do {
        var result = try await benchmark.run(in: context)
        result.seconds = Double(cperf_now_ns() - figureStarted) / 1e9
        results.append(result)
    } catch {
        // One broken figure does not hide the others; the exit status says it.
        progressDone()
        writeStderr("Error: figure \(benchmark.number) (\(benchmark.id)): \(error)\n")
        results.append(.failed(benchmark, "\(error)"))
        failed = true
    }
}
tmux?.stop()

let totalSeconds = Double(cperf_now_ns() - started) / 1e9
print(renderTable(results, totalSeconds: totalSeconds, options: options), terminator: "")
if let path = options.jsonPath {
    do {
        try writeFile(path, renderJSON(results, totalSeconds: totalSeconds, options: options))
    } catch {
        writeStderr("Error: \(error)\n")
        exit(ExitCode.cantCreate)
    }
}
exit(failed ? ExitCode.software : 0)
