public import VigilCore

/// Everything that shapes how `ZellijBackend` runs zellij.
public struct ZellijConfiguration: Sendable {
    /// `zellij` (looked up on `PATH`) or an absolute path.
    public var executable: String
    /// The environment zellij starts with (`.inherit`: the caller's at each call).
    public var environment: Environment
    /// The deadline of each call, shortened to fit the retry policy's overall deadline.
    public var timeout: Duration
    /// How `unknown` answers are retried.
    public var retry: RetryPolicy
    /// Runs the children.
    public var spawner: Spawner

    /// Creates a configuration with the defaults.
    public init(
        executable: String = "zellij",
        environment: Environment = .inherit,
        timeout: Duration = .seconds(3),
        retry: RetryPolicy = RetryPolicy(),
        spawner: Spawner = Spawner()
    ) {
        self.executable = executable
        self.environment = environment
        self.timeout = timeout
        self.retry = retry
        self.spawner = spawner
    }
}

/// zellij sessions, answered from `zellij list-sessions --no-formatting`.
///
/// zellij has no exact "does X exist" command, so a probe is one listing and
/// an exact lookup: never a prefix or substring match. A session zellij lists
/// as EXITED is serialised, not running: `missing`, with a reason saying it
/// can be resurrected.
public struct ZellijBackend: SessionBackend {
    /// The configuration as given.
    public let configuration: ZellijConfiguration
    let driver: ListingDriver

    /// The names zellij cannot take or list exactly.
    static let rules = NameRules(
        forbidden: [("/", "zellij uses the name as a file name in its socket directory")],
        forbiddenFirst: [("-", "zellij would read the name as an option")],
        noSurroundingWhitespace: "zellij's listing does not keep leading or trailing white space exactly"
    )

    /// Makes a backend.
    public init(configuration: ZellijConfiguration = ZellijConfiguration()) {
        self.configuration = configuration
        driver = ListingDriver(
            invoker: Invoker(program: configuration.executable, environment: configuration.environment,
                             timeout: configuration.timeout, spawner: configuration.spawner),
            retry: configuration.retry,
            listArguments: ["list-sessions", "--no-formatting"],
            classify: { outcome, program, timeout in Self.classifyListing(outcome, program: program, timeout: timeout) }
        )
    }

    /// Always `.zellij`.
    public var kind: BackendKind { .zellij }

    /// Refuses empty names, control characters, `/`, a leading `-` and
    /// leading or trailing white space.
    public func validate(_ name: String) throws(SessionNameError) {
        try Self.rules.validate(name, for: .zellij)
    }

    /// List and exact lookup, `unknown` retried.
    public func probe(_ name: String) async -> Retried<SessionProbe> {
        do { try validate(name) } catch { return rejectedProbe(error) }
        return await driver.inventory().probe(name)
    }

    /// The blocking form of `probe(_:)`.
    public func probeSynchronously(_ name: String) -> Retried<SessionProbe> {
        do { try validate(name) } catch { return rejectedProbe(error) }
        return driver.inventorySynchronously().probe(name)
    }

    /// The running sessions (EXITED ones are not live), `unknown` retried.
    public func list() async -> Retried<SessionListing> {
        await driver.inventory().listing
    }

    /// The blocking form of `list()`.
    public func listSynchronously() -> Retried<SessionListing> {
        driver.inventorySynchronously().listing
    }

    /// Running and EXITED sessions alike, `unknown` retried.
    public func inventory() async -> Retried<SessionInventory> {
        await driver.inventory()
    }

    /// One listing as a lookup; dormant names answer `missing` with a reason saying so.
    public func lookup() async -> SessionLookup {
        await driver.lookup()
    }

    /// `zellij kill-session NAME` if it is running, then
    /// `zellij delete-session NAME --force`; `alreadyGone` when not listed at all.
    public func kill(_ name: String) async -> KillResult {
        do { try validate(name) } catch { return KillResult(status: .rejected, reason: error.description, attempts: 0) }
        return await driver.kill(
            name,
            stop: .init(arguments: ["kill-session", name], label: "zellij kill-session"),
            delete: .init(arguments: ["delete-session", name, "--force"], label: "zellij delete-session --force")
        )
    }
}
