import VigilCore

/// Runs one backend's executable: the program, the environment built once at
/// configuration time, the per-call deadline and the spawner, in one value.
///
/// Never a shell: a shell would turn "not found" (ENOENT) into its exit
/// status 127, which a classifier could read as an answer from the program.
struct Invoker: Sendable {
    /// Executable name (looked up on the child's `PATH`) or path.
    let program: String
    /// The child's environment, built once.
    let environment: Environment
    /// The per-call deadline before clamping to the retry policy's remaining time.
    let timeout: Duration
    /// Spawns and follows the children.
    let spawner: Spawner

    /// A command for one call, its deadline clamped so it ends within `remaining`.
    @inline(__always)
    func command(_ arguments: [String], remaining: Duration?, stdoutLimit: Int, stderrLimit: Int) -> Command {
        Command(
            program,
            arguments: arguments,
            environment: environment,
            timeout: timeout.clamped(toRemaining: remaining),
            stdoutLimit: stdoutLimit,
            stderrLimit: stderrLimit
        )
    }

    /// Why `outcome` of `command` cannot answer anything, in the core's wording.
    func failure(_ outcome: Outcome, _ command: Command) -> String {
        outcome.failureReason(program: program, timeout: command.timeout)
    }
}

/// Sizes of what is kept from a child's output.
enum OutputLimits {
    /// stderr of a probe: one message line is all a classifier reads.
    static let probeStderr = 4 * 1024
    /// stdout of a probe: the resolved session's id and name, one line.
    static let probeStdout = 4 * 1024
    /// stdout of a listing: 16 MiB, about a million session names. A store of
    /// 100,000 records may have 100,000 live sessions; a listing cut short
    /// answers `unknown` for all of them (safe, but then nothing is closed).
    /// The buffer grows with what is read, so the cap costs nothing.
    static let listingStdout = 16 << 20
    /// stderr of a listing or a kill.
    static let listingStderr = 16 * 1024
}
