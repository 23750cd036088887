public import VigilCore

/// Everything that shapes how `HerdrBackend` runs herdr.
public struct HerdrConfiguration: Sendable {
    /// `herdr` (looked up on `PATH`) or an absolute path.
    public var executable: String
    /// The environment herdr starts with (`.inherit`: the caller's at each call).
    public var environment: Environment
    /// The deadline of each call, shortened to fit the retry policy's overall deadline.
    public var timeout: Duration
    /// How `unknown` answers are retried.
    public var retry: RetryPolicy
    /// Runs the children.
    public var spawner: Spawner

    /// Creates a configuration with the defaults.
    public init(
        executable: String = "herdr",
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

/// herdr sessions, answered from `herdr session list --json`.
///
/// A probe is one listing and an exact lookup. A session listed with
/// `running: false` is a zombie: `missing`, with a reason saying so.
public struct HerdrBackend: SessionBackend {
    /// The configuration as given.
    public let configuration: HerdrConfiguration
    let driver: ListingDriver

    /// The names herdr cannot take exactly.
    static let rules = NameRules(
        forbiddenFirst: [("-", "herdr would read the name as an option")]
    )

    /// Makes a backend.
    public init(configuration: HerdrConfiguration = HerdrConfiguration()) {
        self.configuration = configuration
        driver = ListingDriver(
            invoker: Invoker(program: configuration.executable, environment: configuration.environment,
                             timeout: configuration.timeout, spawner: configuration.spawner),
            retry: configuration.retry,
            listArguments: ["session", "list", "--json"],
            classify: { outcome, program, timeout in Self.classifyListing(outcome, program: program, timeout: timeout) }
        )
    }

    /// Always `.herdr`.
    public var kind: BackendKind { .herdr }

    /// Refuses empty names, control characters and a leading `-`.
    public func validate(_ name: String) throws(SessionNameError) {
        try Self.rules.validate(name, for: .herdr)
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

    /// The running sessions (zombies are not live), `unknown` retried.
    public func list() async -> Retried<SessionListing> {
        await driver.inventory().listing
    }

    /// The blocking form of `list()`.
    public func listSynchronously() -> Retried<SessionListing> {
        driver.inventorySynchronously().listing
    }

    /// Running and stopped sessions alike, `unknown` retried.
    public func inventory() async -> Retried<SessionInventory> {
        await driver.inventory()
    }

    /// One listing as a lookup; dormant names answer `missing` with a reason saying so.
    public func lookup() async -> SessionLookup {
        await driver.lookup()
    }

    /// `herdr session stop NAME --json` if it is running, then
    /// `herdr session delete NAME --json`; `alreadyGone` when not listed at all.
    public func kill(_ name: String) async -> KillResult {
        do { try validate(name) } catch { return KillResult(status: .rejected, reason: error.description, attempts: 0) }
        return await driver.kill(
            name,
            stop: .init(arguments: ["session", "stop", name, "--json"], label: "herdr session stop"),
            delete: .init(arguments: ["session", "delete", name, "--json"], label: "herdr session delete")
        )
    }
}
