// Figures 5 and 6: the restore orchestrator (Sources/VigilRestore).
//
// TODO(figures 5-6): placeholders until `Restorer` settles. They appear in
// the table and the JSON as "TODO" and are selected by `--filter restore`
// (or `--filter 5`, `--filter 6`). To fill one in:
//
//   1. `import VigilRestore` (and VigilStore/VigilBackends as needed) here;
//      the Perf target already depends on them.
//   2. Rename `id`/`title`, set `defaultRounds` (full, quick): `--quick` must
//      keep the whole perf run under 60 s, so a quick figure gets ~5 s.
//   3. Replace the body of `run(in:)`. What the harness gives you:
//      - `context.rounds(for: self)`: the rounds to run (respects --rounds/--quick);
//      - `interleave([Contender], rounds:progress:)` (Harness.swift): A/B
//        rounds with a warm-up, one sample per contender per round; build a
//        `Contender` from a closure that runs a batch and returns ns per op;
//      - `pairedRatios(a, b)` + `Summary` (Stats.swift) for ratio rows;
//      - `context.spawner` (shared reactor), `context.environment`,
//        `context.probeCommand(...)`, and `context.tmux` when `needsTmux`
//        is true (a private server, session `perf`, killed at exit);
//      - `ProcSampler`, `zombieChildren()` (ProcSampler.swift) for peaks and leaks.
//   4. Fill `FigureResult`: `method`, `rows`, `ratios`, `targets` (with
//      met/MISSED) and `notes`; the table and JSON render them unchanged.

/// Figure 5: TODO, a restore-orchestrator figure (see the note at the top).
struct RestoreFigure5: Benchmark {
    var number: Int { 5 }
    var id: String { "restore-5" }
    var title: String { "Restore orchestrator (figure 5)" }
    var defaultRounds: (full: Int, quick: Int) { (full: 10, quick: 3) }

    func run(in context: BenchContext) async throws -> FigureResult {
        .todo(self, "waiting for the restore orchestrator (Sources/VigilRestore); hook in PerfTests/Perf/RestoreBench.swift")
    }
}

/// Figure 6: TODO, a restore-orchestrator figure (see the note at the top).
struct RestoreFigure6: Benchmark {
    var number: Int { 6 }
    var id: String { "restore-6" }
    var title: String { "Restore orchestrator (figure 6)" }
    var defaultRounds: (full: Int, quick: Int) { (full: 10, quick: 3) }

    func run(in context: BenchContext) async throws -> FigureResult {
        .todo(self, "waiting for the restore orchestrator (Sources/VigilRestore); hook in PerfTests/Perf/RestoreBench.swift")
    }
}

/// The restore figures, in report order; main.swift appends them to the rest.
let restoreBenchmarks: [any Benchmark] = [RestoreFigure5(), RestoreFigure6()]
