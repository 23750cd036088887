// One declaration per command: its options, each with its value name, help
// line and completion. The usage line, the help text, the parser and the
// shell completions are all generated from it, so they cannot drift apart.

/// A usage error: printed as `Error: <message>; see 'vigil COMMAND --help'`, exit 64.
public struct UsageError: Error, Sendable, CustomStringConvertible {
    /// One line, without the `Error: ` prefix.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    /// Creates an error.
    public init(message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// What a shell should offer after an option.
public enum ValueCompletion: Sendable, Hashable {
    /// Nothing in particular.
    case none
    /// A file path.
    case file
    /// A directory path.
    case directory
    /// An executable (a command name or a path).
    case command
}

/// How an option takes its value.
public enum OptionValue: Sendable, Hashable {
    /// A flag: `--lazy`.
    case none
    /// Required value: `--store PATH` or `--store=PATH`.
    case required(String)
    /// Optional value: `--botmux` alone, `--botmux=DIR`, or `--botmux DIR` when
    /// the next word does not start with `-`.
    case optional(String)
}

/// One option of a command.
public struct OptionSpec: Sendable, Hashable {
    /// The long name, without `--`.
    public var name: String
    /// Whether and how it takes a value.
    public var value: OptionValue
    /// One line of help.
    public var help: String
    /// The only values accepted (empty: any).
    public var choices: [String]
    /// May be given more than once (every value is kept, in order).
    public var repeatable: Bool
    /// Leave it out of the usage line (still in the help and the completions).
    public var hiddenFromUsage: Bool
    /// What a shell should offer for its value.
    public var completion: ValueCompletion

    /// A flag.
    public static func flag(_ name: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, value: .none, help: help, choices: [], repeatable: false, hiddenFromUsage: false, completion: .none)
    }

    /// An option with a value.
    public static func valued(
        _ name: String, _ valueName: String, _ help: String, choices: [String] = [],
        repeatable: Bool = false, completion: ValueCompletion = .none, optional: Bool = false
    ) -> OptionSpec {
        OptionSpec(name: name, value: optional ? .optional(valueName) : .required(valueName), help: help,
                   choices: choices, repeatable: repeatable, hiddenFromUsage: false, completion: completion)
    }

    /// The same option, left out of the usage line.
    public func notInUsage() -> OptionSpec {
        var copy = self
        copy.hiddenFromUsage = true
        return copy
    }

    /// `--name VALUE`, `--name[=VALUE]`, `--name a|b` or `--name`.
    public var synopsis: String {
        switch value {
        case .none: return "--\(name)"
        case .required(let v): return "--\(name) \(choices.isEmpty ? v : choices.joined(separator: "|"))"
        case .optional(let v): return "--\(name) [\(v)]"
        }
    }
}

/// A command: the one declaration its usage, help, parser and completions come from.
public struct CommandSpec: Sendable {
    /// The word after `vigil`.
    public var name: String
    /// One line: what the command does.
    public var summary: String
    /// The positional arguments in the usage line (`NAME...`), or empty for none.
    public var positionals: String
    /// Whether positional arguments are accepted at all.
    public var acceptsPositionals: Bool
    /// The options, in the order the help lists them.
    public var options: [OptionSpec]
    /// Groups of options of which at most one may be given.
    public var exclusive: [[String]]
    /// Text between the usage line and the options (what it does, tables).
    public var discussion: String
    /// Text after the options (exit statuses, notes).
    public var epilogue: String

    /// Creates a command declaration.
    public init(
        name: String, summary: String, positionals: String = "", options: [OptionSpec],
        exclusive: [[String]] = [], discussion: String = "", epilogue: String = ""
    ) {
        self.name = name
        self.summary = summary
        self.positionals = positionals
        self.acceptsPositionals = !positionals.isEmpty
        self.options = options
        self.exclusive = exclusive
        self.discussion = discussion
        self.epilogue = epilogue
    }

    /// `vigil NAME [--a X] [--b] NAME...`, every option included.
    public var usage: String {
        var words = ["vigil", name]
        for option in options where !option.hiddenFromUsage {
            words.append("[\(option.synopsis)]\(option.repeatable ? "..." : "")")
        }
        if !positionals.isEmpty { words.append(positionals) }
        return words.joined(separator: " ")
    }

    /// The whole `--help` text.
    public var help: String {
        var lines = ["\(summary)", "", "Usage: \(usage)"]
        if !discussion.isEmpty { lines += ["", discussion] }
        lines += ["", "Options:"]
        let rows = options.map { option -> (String, String) in
            var left = option.synopsis
            if option.repeatable { left += " (repeatable)" }
            return (left, option.help)
        } + [("-h, --help", "print this help and exit 0")]
        let width = min(34, rows.map(\.0.count).max() ?? 0)
        for (left, right) in rows {
            if left.count > width {
                lines.append("  \(left)")
                lines.append("  " + String(repeating: " ", count: width + 2) + right)
            } else {
                lines.append("  " + left + String(repeating: " ", count: width - left.count + 2) + right)
            }
        }
        if !epilogue.isEmpty { lines += ["", epilogue] }
        return lines.joined(separator: "\n")
    }

    /// Parses the words after the command name.
    ///
    /// `--` ends the options; `-h`/`--help` is always a flag named `help`.
    /// - Throws: `UsageError` naming the first unknown option, missing or
    ///   unexpected value, value outside `choices`, excluded pair, or
    ///   positional argument where none is accepted.
    public func parse(_ args: [String]) throws(UsageError) -> ParsedArguments {
        var result = ParsedArguments()
        var i = 0
        var optionsEnded = false
        while i < args.count {
            let arg = args[i]
            i += 1
            if optionsEnded || !arg.hasPrefix("-") || arg == "-" {
                guard acceptsPositionals else { throw UsageError("unexpected argument '\(arg)'") }
                result.positionals.append(arg)
                continue
            }
            if arg == "--" { optionsEnded = true; continue }
            if arg == "-h" || arg == "--help" { result.flags.insert("help"); continue }
            guard arg.hasPrefix("--") else { throw UsageError("unknown option '\(arg)'") }
            let (name, inline) = Self.nameAndInlineValue(arg)
            // A few dozen options: looked up in order (a table would cost more to make).
            guard let option = options.first(where: { $0.name == name }) else { throw UsageError("unknown option '--\(name)'") }
            try take(option, inline: inline, from: args, at: &i, into: &result)
        }
        try checkExclusive(result)
        return result
    }

    /// `--name=value` as (`name`, `value`); `--name` as (`name`, nil).
    static func nameAndInlineValue(_ arg: String) -> (name: String, inline: String?) {
        let name = arg.dropFirst(2)
        guard let eq = name.firstIndex(of: "=") else { return (String(name), nil) }
        return (String(name[..<eq]), String(name[name.index(after: eq)...]))
    }

    /// Records one option given on the command line, with its value: the
    /// inline one (`--name=value`), else the next word (then `i` moves past it).
    private func take(_ option: OptionSpec, inline: String?, from args: [String], at i: inout Int,
                      into result: inout ParsedArguments) throws(UsageError) {
        let name = option.name
        // Given twice: a repeatable option keeps every value, any other
        // option the last one (as most command lines do).
        if !option.repeatable {
            result.values[name] = nil
            result.flags.remove(name)
        }
        switch option.value {
        case .none:
            if inline != nil { throw UsageError("option '--\(name)' takes no value") }
            result.flags.insert(name)
        case .required:
            let value: String
            if let inline {
                value = inline
            } else {
                guard i < args.count else { throw UsageError("option '--\(name)' needs a value") }
                value = args[i]
                i += 1
            }
            try check(option, value)
            result.values[name, default: []].append(value)
        case .optional:
            if let inline {
                try check(option, inline)
                result.values[name, default: []].append(inline)
            } else if i < args.count, !args[i].hasPrefix("-") {
                try check(option, args[i])
                result.values[name, default: []].append(args[i])
                i += 1
            } else {
                result.flags.insert(name)
            }
        }
    }

    /// Refuses two options of one `exclusive` group given together.
    private func checkExclusive(_ result: ParsedArguments) throws(UsageError) {
        for group in exclusive {
            let given = group.filter { result.has($0) || result.value($0) != nil }
            if given.count > 1 {
                throw UsageError("options \(given.map { "'--\($0)'" }.joined(separator: " and ")) cannot be used together")
            }
        }
    }

    private func check(_ option: OptionSpec, _ value: String) throws(UsageError) {
        guard !option.choices.isEmpty, !option.choices.contains(value) else { return }
        throw UsageError("option '--\(option.name)' must be one of \(option.choices.joined(separator: ", ")), got '\(value)'")
    }
}

/// The parsed words of one command.
public struct ParsedArguments: Sendable {
    /// Values by option name, in the order given.
    public var values: [String: [String]] = [:]
    /// Flags given (and optional-value options given without a value).
    public var flags: Set<String> = []
    /// Positional arguments, in order.
    public var positionals: [String] = []

    /// Creates an empty result.
    public init() {}

    /// The last value of `name`.
    public func value(_ name: String) -> String? { values[name]?.last }
    /// Every value of a repeatable option, in order.
    public func all(_ name: String) -> [String] { values[name] ?? [] }
    /// Every value of a repeatable option, in order (same as `all`).
    public func values(_ name: String) -> [String] { values[name] ?? [] }
    /// Whether flag `name` was given (or an optional-value option without its value).
    public func has(_ flag: String) -> Bool { flags.contains(flag) }
    /// Whether `name` was given at all, with or without a value.
    public func given(_ name: String) -> Bool { flags.contains(name) || values[name] != nil }

    /// An integer option within `min...max`, or a usage error naming it.
    public func integer(_ name: String, min: Int = 0, max: Int) throws(UsageError) -> Int? {
        guard let text = value(name) else { return nil }
        guard let n = Int(text), n >= min, n <= max else {
            throw UsageError("option '--\(name)' needs an integer from \(min) to \(max), got '\(text)'")
        }
        return n
    }
}
