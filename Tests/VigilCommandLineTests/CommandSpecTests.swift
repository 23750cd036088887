#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import VigilCommandLine
import VigilCore
import VigilTestSupport

/// The option table: one declaration gives the usage line, the help, the
/// parser and the completions. Tested on a declaration made here, so each
/// rule is checked on its own.
@Suite("Option tables")
struct CommandSpecTests {
    static let spec = CommandSpec(
        name: "probe", summary: "Ask whether sessions exist.", positionals: "NAME...",
        options: [
            .valued("backend", "KIND", "which multiplexer", choices: ["tmux", "zellij", "herdr"]),
            .valued("socket", "NAME", "tmux -L socket"),
            .valued("socket-path", "PATH", "tmux -S socket", completion: .file),
            .valued("env", "KEY=VALUE", "set a variable", repeatable: true),
            .valued("botmux", "DIR", "a data directory", completion: .directory, optional: true),
            .flag("json", "one JSON object per line"),
        ],
        exclusive: [["socket", "socket-path"]])

    @Test("the usage line names every option")
    func usage() {
        #expect(Self.spec.usage == "vigil probe [--backend tmux|zellij|herdr] [--socket NAME] [--socket-path PATH] [--env KEY=VALUE]... [--botmux [DIR]] [--json] NAME...")
        for option in Self.spec.options { #expect(Self.spec.help.contains("--\(option.name)")) }
        #expect(Self.spec.help.contains("Usage: \(Self.spec.usage)"))
    }

    @Test("values: separate word, after '=', repeated, optional")
    func values() throws {
        let p = try Self.spec.parse(["--backend", "tmux", "--socket=s1", "--env", "A=1", "--env=B=2", "--json", "x", "--", "--y"])
        #expect(p.value("backend") == "tmux")
        #expect(p.value("socket") == "s1")
        #expect(p.all("env") == ["A=1", "B=2"])
        #expect(p.has("json"))
        #expect(p.positionals == ["x", "--y"])
        #expect(try Self.spec.parse(["--botmux"]).given("botmux"))
        #expect(try Self.spec.parse(["--botmux"]).value("botmux") == nil)
        #expect(try Self.spec.parse(["--botmux", "/d"]).value("botmux") == "/d")
        #expect(try Self.spec.parse(["--botmux", "--json"]).value("botmux") == nil)
        #expect(try Self.spec.parse(["--botmux=/d", "n"]).positionals == ["n"])
        // A plain option given twice: the last value counts.
        #expect(try Self.spec.parse(["--socket", "a", "--socket", "b"]).value("socket") == "b")
    }

    @Test("refusals are one line naming the option", arguments: [
        (["--nope"], "unknown option '--nope'"),
        (["-x"], "unknown option '-x'"),
        (["--backend"], "option '--backend' needs a value"),
        (["--backend", "screen"], "option '--backend' must be one of tmux, zellij, herdr, got 'screen'"),
        (["--json=1"], "option '--json' takes no value"),
        (["--socket", "a", "--socket-path", "/b"], "options '--socket' and '--socket-path' cannot be used together"),
    ])
    func refusals(args: [String], message: String) {
        #expect(throws: UsageError.self) { try Self.spec.parse(args) }
        do { _ = try Self.spec.parse(args) } catch { #expect(error.message == message) }
    }

    @Test("a command without positionals refuses one")
    func noPositionals() {
        let list = CommandSpec(name: "list", summary: "List.", options: [.flag("json", "JSON")])
        do { _ = try list.parse(["extra"]); Issue.record("accepted") } catch { #expect(error.message == "unexpected argument 'extra'") }
    }

    @Test("integers are bounded")
    func integers() throws {
        let spec = CommandSpec(name: "x", summary: "X.", options: [.valued("n", "N", "a number")])
        #expect(try spec.parse(["--n", "5"]).integer("n", max: 10) == 5)
        do { _ = try spec.parse(["--n", "50"]).integer("n", max: 10); Issue.record("accepted") } catch {
            #expect(error.message == "option '--n' needs an integer from 0 to 10, got '50'")
        }
    }
}

/// Completion scripts, loaded into a real bash.
@Suite("Completions")
struct CompletionTests {
    static let script = CompletionScript(program: "vigil", commands: [CommandSpecTests.spec,
        CommandSpec(name: "list", summary: "List the live names.", options: [.flag("json", "JSON")])], extraWords: ["help"])

    /// Runs `body` in bash after sourcing the bash script; returns stdout.
    func bash(_ body: String) throws -> Outcome {
        let dir = try TemporaryDirectory()
        let path = try dir.write("vigil.bash", Self.script.script(for: .bash))
        return Spawner().runSynchronously(Command("bash", arguments: ["--norc", "-c", "source \(path) && \(body)"], timeout: .seconds(60)))
    }

    @Test("bash: the script loads and registers a completion for vigil")
    func bashLoads() throws {
        let o = try bash("complete -p vigil")
        #expect(o.termination == .exited(0))
        #expect(o.stdout.text.contains("-F _vigil vigil"))
    }

    @Test("bash: commands, options and choices are offered", arguments: [
        ("vigil ''", 1, ["probe", "list", "help"]),
        ("vigil probe --b", 2, ["--backend", "--botmux"]),
        ("vigil probe --backend ''", 3, ["tmux", "zellij", "herdr"]),
        ("vigil list --", 2, ["--json", "--help"]),
    ])
    func bashOffers(words: String, index: Int, expected: [String]) throws {
        let o = try bash("COMP_WORDS=(\(words)); COMP_CWORD=\(index); _vigil; printf '%s\\n' \"${COMPREPLY[@]}\"")
        #expect(o.termination == .exited(0))
        #expect(Set(o.stdout.text.split(separator: "\n").map(String.init)) == Set(expected))
    }

    @Test("zsh and fish scripts name every option of every command")
    func otherShells() {
        for shell in [CompletionShell.zsh, .fish] {
            let text = Self.script.script(for: shell)
            for command in Self.script.commands {
                #expect(text.contains(command.name))
                for option in command.options {
                    #expect(text.contains(shell == .fish ? "-l \(option.name)" : "--\(option.name)"), "\(shell) lacks --\(option.name)")
                }
            }
        }
        #expect(Self.script.script(for: .zsh).contains("compdef _vigil vigil"))
    }
}
