// vigil: probe multiplexer sessions and restore a daemon's session store.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let topUsage = "vigil <probe|list|restore|demo> [options]   (vigil <command> --help for details)"

let topHelp = """
vigil: learn which terminal-multiplexer sessions survived, and restore a session store.

Usage: \(topUsage)

Commands:
  probe    Ask tmux, zellij or herdr whether named sessions exist (exists/missing/unknown).
  list     Print the live session names of a backend.
  restore  Reconcile a session store with what survived: close, keep, kill or fork.
  demo     Run the whole job against a private tmux server and clean up.

Exit status: 0 success; probe 1 some missing, 2 any unknown; 64 usage;
65 bad store data; 66 store not found; 69 backend unavailable (demo);
73 store cannot be written; 74 the output could not be written;
75 store locked by another restore; 130/143 interrupted by SIGINT/SIGTERM.
"""

func runMain() async -> Int32 {
    var args = Array(CommandLine.arguments.dropFirst())
    guard let sub = args.first else {
        printError("missing command", usage: topUsage)
        return ExitCode.usage
    }
    args.removeFirst()
    switch sub {
    case "-h", "--help", "help":
        var out = OutputStream(fd: 1)
        out.line(topHelp)
        out.flush()
        return ExitCode.ok
    case "probe": return await ProbeCommand.run(args)
    case "list": return await ListCommand.run(args)
    case "restore": return await RestoreCommand.run(args)
    case "demo": return await DemoCommand.run(args)
    default:
        printError("unknown command '\(sub)'", usage: topUsage)
        return ExitCode.usage
    }
}

// Before anything else, and before any other thread exists: the standard
// descriptors (a closed one is held on /dev/null, see `closedAtStart`),
// SIGPIPE ignored (a closed pipe is then EPIPE, exit 74, not a silent
// death), SIGINT/SIGTERM blocked and taken by a watcher thread.
_ = closedAtStart
signal(SIGPIPE, SIG_IGN)
let interrupts = Interrupts.install()
let root = Task { await runMain() }
interrupts.onInterrupt { root.cancel() }
let status = await root.value
if let sig = interrupts.signal {
    printError("interrupted by \(Interrupts.name(sig)): the multiplexer calls in flight were ended")
    exit(128 + sig)
}
exit(status)
