/// Command-line options of `perf`.
struct Options: Sendable {
    /// Fewer rounds so the whole run stays under a minute (CI runs it once).
    var quick = false
    /// Only figures whose number equals, or whose id contains, one of these.
    var filters: [String] = []
    /// Measured rounds for every figure, overriding the defaults.
    var rounds: Int?
    /// Where to write the figures as JSON.
    var jsonPath: String?
    /// Store sizes for the figures that sweep them (9), overriding the defaults.
    var sizes: [Int]?

    static let usage = "Usage: perf [--quick] [--filter NAME]... [--rounds N] [--sizes N,N...] [--json PATH] [--help]"

    static let help = """
        perf: Vigil's probe benchmarks.

        \(usage)

        Runs each figure as interleaved rounds after a warm-up and prints the
        median, min and max per row; comparisons are medians of per-round ratios.

        Options:
          --quick          fewer rounds; the whole run takes well under a minute
          --filter NAME    run only figures whose number is NAME or whose id
                           contains NAME (repeatable): probe-tmux, probe-true,
                           deadline, concurrency, restore
          --rounds N       measured rounds per figure (N >= 1), overriding the
                           per-figure default (figure 3: N rounds of 20+20
                           probes; figure 4: N runs of 1,000 probes)
          --sizes N,N...   store sizes (records) for figure 9, overriding
                           1,000 to 1,000,000 (e.g. --sizes 100000)
          --json PATH      also write the figures as JSON to PATH
          --help           print this help and exit

        Build and run: swift run -c release perf [--quick] [--json perf.json]
        """

    enum Parsed {
        case run(Options)
        case help
    }

    /// Parses `arguments` (without the program name).
    /// - Throws: `UsageError` with a message for stderr (exit 64).
    static func parse(_ arguments: [String]) throws(UsageError) -> Parsed {
        var options = Options()
        var i = 0
        func value(_ flag: String) throws(UsageError) -> String {
            i += 1
            guard i < arguments.count else { throw UsageError("\(flag) needs a value") }
            return arguments[i]
        }
        while i < arguments.count {
            let argument = arguments[i]
            switch argument {
            case "--help", "-h":
                return .help
            case "--quick":
                options.quick = true
            case "--filter":
                options.filters.append(try value(argument))
            case "--rounds":
                let text = try value(argument)
                guard let n = Int(text), n >= 1 else { throw UsageError("--rounds needs a whole number >= 1, not '\(text)'") }
                options.rounds = n
            case "--json":
                options.jsonPath = try value(argument)
            case "--sizes":
                let text = try value(argument)
                let sizes = text.split(separator: ",").map { Int($0) }
                guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) >= 1 }) else {
                    throw UsageError("--sizes needs whole numbers >= 1 separated by commas, not '\(text)'")
                }
                options.sizes = sizes.map { $0! }
            default:
                throw UsageError("unknown argument '\(argument)'")
            }
            i += 1
        }
        return .run(options)
    }

    /// Whether `benchmark` passes the filters (no filter: every figure).
    func selects(_ benchmark: some Benchmark) -> Bool {
        filters.isEmpty || filters.contains { f in
            f == String(benchmark.number) || benchmark.id.lowercased().contains(f.lowercased())
        }
    }
}

/// A command-line mistake: printed as `Error: ...` plus the usage line, exit 64.
struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
