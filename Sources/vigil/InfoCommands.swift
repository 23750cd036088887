#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilCore
import VigilJSON
import VigilCommandLine

/// The version of this build of vigil.
let vigilVersion = "0.9.0"

/// `vigil version` (also `vigil --version`): what this vigil is and what it finds.
enum VersionCommand {
    static func run(_ args: [String]) async -> Int32 {
        let parsed: ParsedArguments
        do throws(UsageError) {
            parsed = try CommandTable.version.parse(args)
        } catch {
            printError(error.message, usage: CommandTable.version.usage)
            return ExitCode.usage
        }
        if parsed.has("help") { print(CommandTable.version.help); return ExitCode.ok }
        let tmux = parsed.value("tmux") ?? "tmux"
        let found = await Spawner().run(Command(tmux, arguments: ["-V"], environment: .inherited(removing: ["TMUX", "TMUX_PANE"])))
        let tmuxLine: String?
        let tmuxNote: String
        if found.termination == .exited(0), let line = found.stdout.text.split(separator: "\n").first {
            tmuxLine = String(line)
            tmuxNote = String(line)
        } else {
            tmuxLine = nil
            tmuxNote = "not found (\(found.failureReason(program: tmux, timeout: .seconds(3))))"
        }
        let wait = pidfdSupported() ? "pidfd (pidfd_open, polled with the pipes)" : "portable (waitpid WNOHANG with backoff)"
        let waitWord = pidfdSupported() ? WaitStrategy.pidfd : .portable
        var out = OutputStream(fd: 1)
        if parsed.has("json") {
            let obj: JSONObject = [
                "schema": .integer(1), "version": .string(vigilVersion),
                "tmux": tmuxLine.map { .string($0) } ?? .null,
                "waitStrategy": .string("\(waitWord)"), "platform": .string(platformName),
            ]
            out.line(JSONValue.object(obj).jsonText())
        } else {
            out.line("vigil \(vigilVersion)")
            out.line("tmux: \(tmuxNote)")
            out.line("wait strategy: \(wait)")
            out.line("platform: \(platformName)")
        }
        if let failed = out.finish("the version", afterwards: "nothing was changed") { return failed }
        return ExitCode.ok
    }

    /// `Linux x86_64`, from uname(2).
    static var platformName: String {
        var u = utsname()
        guard uname(&u) == 0 else { return "unknown" }
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(field(u.sysname)) \(field(u.machine))"
    }
}

/// `vigil completion bash|zsh|fish`: a completion script made from the command tables.
enum CompletionCommand {
    static func run(_ args: [String]) async -> Int32 {
        let parsed: ParsedArguments
        let shell: CompletionShell
        do throws(UsageError) {
            parsed = try CommandTable.completion.parse(args)
            if parsed.has("help") { print(CommandTable.completion.help); return ExitCode.ok }
            guard let name = parsed.positionals.first else { throw UsageError("missing SHELL (bash, zsh or fish)") }
            guard parsed.positionals.count == 1 else { throw UsageError("unexpected argument '\(parsed.positionals[1])'") }
            guard let known = CompletionShell(rawValue: name) else {
                throw UsageError("unknown shell '\(name)' (expected bash, zsh or fish)")
            }
            shell = known
        } catch {
            printError(error.message, usage: CommandTable.completion.usage)
            return ExitCode.usage
        }
        var out = OutputStream(fd: 1)
        out.bytes(Array(CommandTable.completions.script(for: shell).utf8))
        if let failed = out.finish("the completion script", afterwards: "nothing was changed") { return failed }
        return ExitCode.ok
    }
}
