// Figure 9: restore against the I/O floor of a store rewrite.
//
// The floor is everything a restore that changes records cannot avoid: read
// the store, write the same bytes to a temporary file, fsync it, rename it
// over the store, fsync the folder (`cperf_io_floor`, C with raw syscalls).
// Each side runs in a child process of this binary (`__restore-child floor`
// and `__restore-child vigil-cli`), which forks the measured process and
// times it from the fork to the reap: the floor as a forked C function (no
// program start), Vigil as the real `vigil restore --lazy --quiet` (its own
// start, runtime and exit included). The intermediate child keeps this
// process's large memory out of the measured processes' ru_maxrss, and
// neither side pays its start. Without a `vigil` beside this binary, the
// Vigil side is the Restorer run in the child (`vigil-whole`) and both are
// timed spawn to reap here. Floor and Vigil alternate within each round, on
// the same store file written afresh before each run (untimed).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPerfFloor
import VigilBackends
import VigilCore
import VigilRestore
import VigilStore

/// A store of `size` tmux records on `socket` in figure 5's record layout;
/// a record is `active` when `active(i)`, `closed` otherwise.
func floorStore(size: Int, socket: String, active: (Int) -> Bool) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(size * 270 + 64)
    out.append(contentsOf: "{\"version\": 1, \"sessions\": [\n".utf8)
    for i in 0..<size {
        var line = "{\"id\": \"\(restoreID(i))\", \"backend\": \"tmux\", \"status\": \"\(active(i) ? "active" : "closed")\", \"socket\": \"\(socket)\", "
        line += "\"cliId\": \"claude\", \"chatId\": \(100000 + i), \"createdAt\": \"2026-11-20T08:00:00Z\", "
        line += "\"daemon\": {\"user\": \"u\(i % 977)\", \"cwd\": \"/home/agents/project-\(i % 53)\", \"flags\": [true, 1.5, null]}}"
        out.append(contentsOf: line.utf8)
        out.append(contentsOf: (i + 1 < size ? ",\n" : "\n").utf8)
    }
    out.append(contentsOf: "]}\n".utf8)
    return out
}

/// The workloads of figure 9. None has a live session (the private server
/// holds only its own keep-alive session), so every active record is closed.
enum FloorCase: String, CaseIterable, Sendable {
    /// Every record active and gone: every record rewritten (the worst case).
    case allClosed = "100% closed"
    /// One record in 100 active and gone, the rest already closed.
    case onePercentClosed = "1% closed"
    /// Every record already closed: nothing to probe, nothing written.
    case nothingChanges = "nothing changes"

    func isActive(_ i: Int) -> Bool {
        switch self {
        case .allClosed: true
        case .onePercentClosed: i % 100 == 0
        case .nothingChanges: false
        }
    }

    func expectedCloses(_ size: Int) -> Int {
        (0..<size).reduce(0) { $0 + (isActive($1) ? 1 : 0) }
    }
}

/// One child run as this process saw it: wall time spawn to reap, the
/// child's CPU, its own VmHWM.
struct WholeRun: Sendable {
    var wallNs: Double
    var cpuNs: Double
    var peakRSS: Double
}

/// Figure 9: restore (whole process) against the I/O floor.
struct RestoreFloorBench: Benchmark {
    var number: Int { 9 }
    var id: String { "restore-floor" }
    var title: String { "Restore at the I/O floor: whole process vs read + write + fsync + rename + fsync of the folder" }
    var defaultRounds: (full: Int, quick: Int) { (full: 3, quick: 1) }
    var needsTmux: Bool { true }

    func sizes(_ context: BenchContext) -> [Int] {
        context.options.sizes ?? (context.options.quick ? [1_000, 10_000] : [1_000, 10_000, 100_000, 1_000_000])
    }

    func run(in context: BenchContext) async throws -> FigureResult {
        // A server of its own: the shared one holds the live sessions of
        // figures 5 to 8, and a record whose session is alive is not closed.
        let tmux = try TmuxServer(environment: context.environment, spawner: context.spawner, label: "floor")
        defer { tmux.stop() }
        var template = Array("/tmp/vigil-perf-floor-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else { throw BenchError("mkdtemp failed") }
        let dir = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let path = dir + "/store.json"
        defer { unlink(path); unlink(path + ".lock"); rmdir(dir) }

        var result = FigureResult(self)
        let vigilMode = RestoreChild.vigilBeside == nil ? "vigil-whole" : "vigil-cli"
        let vigilSide = vigilMode == "vigil-cli"
            ? "a child process (this binary) that forks and waits for the real `vigil restore --store STORE --lazy --quiet` "
                + "built beside it (peak RSS: the vigil process's ru_maxrss; the store is checked afterwards, untimed)"
            : "a child process running the Restorer (lazy, no per-session log, no worker) as `vigil restore --lazy --quiet` "
                + "does up to its report (no vigil executable beside perf: build it with `swift build -c release --product vigil` "
                + "to measure the command line itself)"
        result.method = "Floor: a child process (this binary) that reads the store, writes the same bytes to a temporary "
            + "file, fsyncs it, renames it over the store and fsyncs the folder, in C with raw syscalls. Vigil: \(vigilSide). "
            + "With the command line built, both are timed by that child around their own process, fork to reap (the floor is "
            + "forked without an exec, so it pays no program start; Vigil pays its own), and both peak RSS figures are ru_maxrss "
            + "of that process; otherwise both are timed from spawn to reap by this process. Floor and Vigil "
            + "alternate within each round; ratios are per round. No record has a live session, so every active record is closed."
        let rounds = context.rounds(for: self)
        for size in sizes(context) {
            for workload in FloorCase.allCases {
                let store = floorStore(size: size, socket: tmux.socketName, active: workload.isActive)
                var floor: [WholeRun] = []
                var vigil: [WholeRun] = []
                for round in 0..<rounds {
                    progressLine("figure 9: round \(round + 1)/\(rounds), \(size) records, \(workload.rawValue)")
                    try writeStoreFile(path, store)
                    floor.append(try runWhole(mode: "floor", store: path, tmux: tmux, context: context, expectedCloses: nil))
                    try writeStoreFile(path, store)
                    vigil.append(try runWhole(mode: vigilMode, store: path, tmux: tmux, context: context,
                                              expectedCloses: workload.expectedCloses(size)))
                    if vigilMode == "vigil-cli" { try checkAllClosed(path, size: size) }
                }
                let label = "\(size) \(workload.rawValue)"
                let storeMB = Double(store.count) / 1_048_576
                if let s = Summary(floor.map { $0.wallNs / 1e6 }) {
                    result.rows.append(Row(label: "floor \(label) (store \(format2(storeMB)) MB)", unit: .milliseconds, summary: s))
                }
                if let s = Summary(vigil.map { $0.wallNs / 1e6 }) {
                    result.rows.append(Row(label: "vigil \(label)", unit: .milliseconds, summary: s))
                }
                if let s = Summary(floor.map { $0.cpuNs / 1e6 }) {
                    result.rows.append(Row(label: "  floor \(label): CPU (user+sys)", unit: .milliseconds, summary: s))
                }
                if let s = Summary(vigil.map { $0.cpuNs / 1e6 }) {
                    result.rows.append(Row(label: "  vigil \(label): CPU (user+sys)", unit: .milliseconds, summary: s))
                }
                if let s = Summary(floor.map { $0.peakRSS / 1_048_576 }) {
                    result.rows.append(Row(label: "  floor \(label): peak RSS (MB)", unit: .count, summary: s))
                }
                if let s = Summary(vigil.map { $0.peakRSS / 1_048_576 }) {
                    result.rows.append(Row(label: "  vigil \(label): peak RSS (MB)", unit: .count, summary: s))
                }
                if let s = Summary(vigil.map { $0.wallNs / 1e3 / Double(size) }) {
                    result.rows.append(Row(label: "  vigil \(label): per record", unit: .microseconds, summary: s))
                }
                let timeRatio = Summary(pairedRatios(vigil.map(\.wallNs), floor.map(\.wallNs)))
                if let timeRatio {
                    result.ratios.append(Row(label: "time vigil / floor, \(label)", unit: .ratio, summary: timeRatio))
                }
                if let s = Summary(pairedRatios(vigil.map(\.cpuNs), floor.map(\.cpuNs))) {
                    result.ratios.append(Row(label: "CPU vigil / floor, \(label)", unit: .ratio, summary: s))
                }
                let rssRatio = Summary(pairedRatios(vigil.map(\.peakRSS), floor.map(\.peakRSS)))
                if let rssRatio {
                    result.ratios.append(Row(label: "peak RSS vigil / floor, \(label)", unit: .ratio, summary: rssRatio))
                }
                if let r = timeRatio?.median {
                    switch (size, workload) {
                    case (100_000, .allClosed):
                        result.targets.append(TargetCheck(description: "100,000 all closed <= 3x floor", measured: format2(r) + "x", met: r <= 3))
                        let peak = (vigil.map(\.peakRSS).max() ?? 0) / 1_048_576
                        let limit = 1.5 * storeMB + 20
                        result.targets.append(TargetCheck(description: "100,000 peak RSS <= 1.5x store + 20 MB (\(format2(limit)) MB)",
                                                          measured: format2(peak) + " MB", met: peak <= limit))
                    case (10_000, .allClosed):
                        result.targets.append(TargetCheck(description: "10,000 all closed <= 4x floor", measured: format2(r) + "x", met: r <= 4))
                    case (_, .nothingChanges) where size >= 10_000:
                        result.targets.append(TargetCheck(description: "\(size) nothing changes <= 1x floor", measured: format2(r) + "x", met: r <= 1))
                    default: break
                    }
                }
            }
        }
        progressDone()
        result.notes.append(RestoreChild.vigilBeside != nil
            ? "The floor pays no program start (a forked C function); Vigil pays its own (about 2 ms to start and end the command here, the Swift and C++ runtimes linked in), which weighs most at 1,000 and 10,000 records."
            : "Both children are this Swift binary, so both pay the Swift runtime's start; the floor's work itself is C.")
        result.notes.append("'nothing changes' writes nothing (every record is already closed: nothing to probe); its floor still rewrites the store, "
            + "so the ratio says whether validating the document costs more than rewriting it.")
        return result
    }

    /// After a command-line run: every record of the store is closed (the
    /// restore closed every active one), read untimed.
    func checkAllClosed(_ path: String, size: Int) throws {
        let store = try StoreFile(path: path).load()
        let closed = store.records.reduce(0) { $0 + ($1.status == .closed ? 1 : 0) }
        guard store.records.count == size, closed == size else {
            throw BenchError("vigil restore left \(size - closed) of \(size) records active")
        }
    }

    func runWhole(mode: String, store: String, tmux: TmuxServer, context: BenchContext, expectedCloses: Int?) throws -> WholeRun {
        let (run, o) = try restoreChild(mode: mode, label: "\(mode) child", store: store, budgetMs: 0, tmux: tmux, context: context)
        if let expectedCloses, run.closes >= 0, run.closes != expectedCloses {
            throw BenchError("\(mode): closed \(run.closes), expected \(expectedCloses)")
        }
        // With the command line built, both sides are timed inside the perf
        // child around their own process (fork to reap), so neither pays
        // that child's start; otherwise both are timed spawn to reap here.
        let inner = mode == "floor" ? RestoreChild.vigilBeside != nil : mode == "vigil-cli"
        let wall = inner ? run.elapsedNs
            : Double(o.elapsed.components.seconds) * 1e9 + Double(o.elapsed.components.attoseconds) / 1e9
        let cpu = o.usage.map { microseconds($0.cpuTime) * 1e3 } ?? 0
        return WholeRun(wallNs: wall, cpuNs: cpu, peakRSS: run.peakRSS)
    }
}
