// Every command's declaration in one place: the usage lines, the `--help`
// texts, the parsers and the shell completions are generated from these
// tables (VigilCommandLine), so they cannot drift apart.
import VigilCommandLine
import VigilBackends

enum CommandTable {
    /// `--backend` and how to reach it: shared by `probe` and `list`.
    static let backendOptions: [OptionSpec] = [
        .valued("backend", "KIND", "the multiplexer (required)", choices: BackendKind.multiplexers.map(\.rawValue)),
        .valued("binary", "PATH", "the multiplexer executable (default: its name, looked up on PATH)", completion: .command),
        .valued("socket", "NAME", "tmux only: server socket name (tmux -L)"),
        .valued("socket-path", "PATH", "tmux only: server socket path (tmux -S)", completion: .file),
        .valued("timeout-ms", "N", "deadline per multiplexer call in milliseconds (default 3000)"),
        .valued("retries", "N", "extra attempts when an answer is unknown (default 2)"),
    ]

    static let probe = CommandSpec(
        name: "probe",
        summary: "Ask tmux, zellij or herdr whether named sessions exist (exists/missing/unknown). No shell is involved.",
        positionals: "NAME...",
        options: backendOptions + [
            .flag("json", #"one JSON object per line: {"schema","name","backend","state","reason","attempts","elapsedMs","usage"}"#),
        ],
        exclusive: [["socket", "socket-path"]],
        discussion: """
        One name is asked on its own (tmux: has-session and the resolved session's
        name); several names are answered from one listing call with exact lookups.
        A name the backend cannot hold exactly is reported as an error line and the
        other names are still answered.
        """,
        epilogue: """
        Output: one line per name, "NAME exists|missing|unknown (reason)"; with --json
        one object per line (schema 1; usage: CPU time, context switches and peak
        memory of the calls' children).
        Exit status: 0 all exist, 1 some missing and none unknown, 2 any unknown,
        64 usage error (also a name the backend cannot hold exactly, after the
        other names were answered), 74 the answers could not be written, 130/143
        interrupted by SIGINT/SIGTERM (the multiplexer calls in flight are ended first).
        """)

    static let list = CommandSpec(
        name: "list",
        summary: "Print the live session names of a backend, one per line, sorted.",
        options: backendOptions + [
            .flag("json", #"one JSON object: {"schema","backend","sessions","state","reason","attempts","elapsedMs","usage"}"#),
        ],
        exclusive: [["socket", "socket-path"]],
        epilogue: """
        Exit status: 0 listed (possibly empty), 2 the answer is unknown (the reason
        goes to stderr), 64 usage error, 74 the listing could not be written,
        130/143 interrupted by SIGINT/SIGTERM.
        """)

    static let demo = CommandSpec(
        name: "demo",
        summary: "Run a restore end to end on a private tmux server, print the report and clean up.",
        options: [
            .valued("tmux", "PATH", "the tmux executable (default: tmux on PATH)", completion: .command),
            .flag("json", "print the report as JSON instead of a table"),
            .flag("keep", "leave the tmux server and the store in place, and say where"),
        ],
        discussion: """
        The demo makes a private tmux server (a unique -L socket) with a few
        sessions, writes a temporary store that also names sessions that are
        gone, runs restore with a worker that marks its session, prints the
        report and removes everything it made.
        """,
        epilogue: "Exit status: 0 done, 64 usage, 69 tmux not available, 70 the demo itself failed.")

    static let version = CommandSpec(
        name: "version",
        summary: "Print vigil's version, the tmux it finds and the platform's wait strategy.",
        options: [
            .valued("tmux", "PATH", "the tmux executable to report on (default: tmux on PATH)", completion: .command),
            .flag("json", #"one JSON object: {"schema","version","tmux","waitStrategy","platform"}"#),
        ],
        epilogue: "Exit status: 0 (a missing tmux is reported, not an error), 64 usage, 74 not written.")

    static let completion = CommandSpec(
        name: "completion",
        summary: "Print a shell completion script: vigil completion bash|zsh|fish.",
        positionals: "SHELL",
        options: [],
        discussion: """
        Load it with:
          bash:  source <(vigil completion bash)
          zsh:   source <(vigil completion zsh)
          fish:  vigil completion fish | source
        """,
        epilogue: "Exit status: 0 printed, 64 no shell or an unknown one.")

    /// Every command, in the order `vigil --help` lists them.
    static var all: [CommandSpec] { [probe, list, RestoreCommand.spec, demo, version, completion] }

    /// The completion scripts, generated from the tables above.
    static var completions: CompletionScript {
        CompletionScript(program: "vigil", commands: all, extraWords: ["help"])
    }

    /// `vigil --help`: the commands, from their declarations.
    static var topHelp: String {
        var lines = [
            "vigil \(vigilVersion): learn which terminal-multiplexer sessions survived, and restore a session store.",
            "", "Usage: \(topUsage)", "", "Commands:",
        ]
        for command in all {
            lines.append("  " + command.name + String(repeating: " ", count: max(1, 12 - command.name.count)) + command.summary)
        }
        lines += ["", """
        Exit status: 0 success; probe 1 some missing, 2 any unknown; 64 usage;
        65 bad store data; 66 store not found; 69 backend unavailable (demo);
        70 internal failure (demo); 73 store cannot be written; 74 the output
        could not be written; 75 store locked by another writer;
        130/143 interrupted by SIGINT/SIGTERM.
        """]
        return lines.joined(separator: "\n")
    }
}
