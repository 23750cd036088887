// vigil: probe multiplexer sessions and restore a daemon's session store.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let topUsage = "vigil <probe|list|restore|demo|version|completion> [options]   (vigil <command> --help for details)"

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
        out.line(CommandTable.topHelp)
        out.flush()
        return ExitCode.ok
    case "probe": return await ProbeCommand.run(args)
    case "list": return await ListCommand.run(args)
    case "restore": return await RestoreCommand.run(args)
    case "demo": return await DemoCommand.run(args)
    case "version", "--version": return await VersionCommand.run(args)
    case "completion": return await CompletionCommand.run(args)
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
// The command runs as one root task on the main thread (and the threads
// `CommandExecutor` adds when its tasks want them), and ends the process
// itself. Detached: a task made here would inherit the main actor (top-level
// code is main-actor code) and begin with a hop off it.
let executor = CommandExecutor()
let root = Task.detached(executorPreference: executor) {
    let status = await runMain()
    if let sig = interrupts.signal {
        printError("interrupted by \(Interrupts.name(sig)): the multiplexer calls in flight were ended")
        exit(128 + sig)
    }
    exit(status)
}
interrupts.onInterrupt { root.cancel() }
executor.runJobs()
