// Command-line parsing: one small file, no dependencies. Every subcommand
// declares which options take a value and which are flags; anything else is
// a usage error (exit 64) with a one-line message.

/// A usage error: printed as `Error: <message>` plus the usage line, exit 64.
struct UsageError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// What a subcommand accepts.
struct OptionSpec {
    /// Options that take a value: `--socket NAME` or `--socket=NAME`.
    var valued: Set<String>
    /// Options that take no value.
    var flags: Set<String>
    /// Options that take a value and may be given more than once
    /// (`--worker-env A=1 --worker-env B=2`); every value is kept, in order.
    var repeated: Set<String> = []
}

/// The parsed command line of one subcommand.
struct ParsedArguments {
    var values: [String: String] = [:]
    var lists: [String: [String]] = [:]
    var flags: Set<String> = []
    var positionals: [String] = []

    func value(_ name: String) -> String? { values[name] }
    /// Every value of a repeatable option, in the order given.
    func values(_ name: String) -> [String] { lists[name] ?? [] }
    func has(_ flag: String) -> Bool { flags.contains(flag) }

    /// An integer option within `min...max`, or a usage error naming it.
    func integer(_ name: String, min: Int = 0, max: Int) throws(UsageError) -> Int? {
        guard let text = values[name] else { return nil }
        guard let n = Int(text), n >= min, n <= max else {
            throw UsageError(message: "option '--\(name)' needs an integer from \(min) to \(max), got '\(text)'")
        }
        return n
    }
}

/// Parses `args` (after the subcommand) against `spec`.
/// `--` ends the options; `-h`/`--help` is always accepted as a flag named "help".
func parseArguments(_ args: [String], _ spec: OptionSpec) throws(UsageError) -> ParsedArguments {
    var result = ParsedArguments()
    var i = 0
    var optionsEnded = false
    while i < args.count {
        let arg = args[i]
        i += 1
        if optionsEnded || !arg.hasPrefix("-") || arg == "-" {
            result.positionals.append(arg)
            continue
        }
        if arg == "--" { optionsEnded = true; continue }
        if arg == "-h" || arg == "--help" { result.flags.insert("help"); continue }
        guard arg.hasPrefix("--") else { throw UsageError(message: "unknown option '\(arg)'") }
        var name = String(arg.dropFirst(2))
        var inline: String? = nil
        if let eq = name.firstIndex(of: "=") {
            inline = String(name[name.index(after: eq)...])
            name = String(name[..<eq])
        }
        if spec.flags.contains(name) {
            if inline != nil { throw UsageError(message: "option '--\(name)' takes no value") }
            result.flags.insert(name)
        } else if spec.valued.contains(name) || spec.repeated.contains(name) {
            let value: String
            if let inline {
                value = inline
            } else {
                guard i < args.count else { throw UsageError(message: "option '--\(name)' needs a value") }
                value = args[i]
                i += 1
            }
            if spec.repeated.contains(name) {
                result.lists[name, default: []].append(value)
            } else {
                result.values[name] = value
            }
        } else {
            throw UsageError(message: "unknown option '--\(name)'")
        }
    }
    return result
}

/// Upper bounds for numeric options: far beyond any sensible value, and low
/// enough that the arithmetic on them cannot overflow.
enum Limits {
    /// 24 hours.
    static let timeoutMs = 86_400_000
    static let retries = 100
    static let concurrency = 10_000
}
