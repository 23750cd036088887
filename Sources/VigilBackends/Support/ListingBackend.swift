public import VigilCore

/// What shapes how a listing backend (`ZellijBackend`, `HerdrBackend`) runs
/// its program. One shape for both; `Backend` only picks the default
/// executable. The spawner is required: its reactor is the thread that
/// follows the calls, so a daemon shares one spawner and knows how many
/// threads it has.
public struct ListingConfiguration<Backend: ListingBackend>: Sendable {
    /// The program (looked up on `PATH`) or an absolute path.
    public var executable: String
    /// The environment the program starts with (`.inherit`: the caller's at each call).
    public var environment: Environment
    /// The deadline of each call, shortened to fit the retry policy's overall deadline.
    public var timeout: Duration
    /// How `unknown` answers are retried.
    public var retry: RetryPolicy
    /// Runs the children.
    public var spawner: Spawner

    /// Creates a configuration with the documented defaults.
    public init(
        executable: String = Backend.defaultExecutable,
        environment: Environment = .inherit,
        timeout: Duration = .seconds(3),
        retry: RetryPolicy = RetryPolicy(),
        spawner: Spawner
    ) {
        self.executable = executable
        self.environment = environment
        self.timeout = timeout
        self.retry = retry
        self.spawner = spawner
    }
}

/// A backend that can only answer by listing (zellij, herdr): a probe is one
/// listing and an exact lookup, never a prefix or substring match, and
/// `list`, `inventory` and `lookup` read the same listing. Those are written
/// once, here; a conforming backend supplies its name rules (`validate`),
/// its listing (`listingDriver`) and its `kill`.
public protocol ListingBackend: SessionBackend {
    /// The program a configuration runs unless it names another (`zellij`, `herdr`).
    static var defaultExecutable: String { get }
    /// The configuration as given.
    var configuration: ListingConfiguration<Self> { get }
    /// How this backend lists (opaque outside Vigil).
    var listingDriver: ListingDriver { get }
}

extension ListingBackend {
    /// List and exact lookup, `unknown` retried.
    public func probe(_ name: String) async -> Retried<SessionProbe> {
        do { try validate(name) } catch { return rejectedProbe(error) }
        return await listingDriver.inventory().probe(name)
    }

    /// The blocking form of `probe(_:)`.
    public func probeSynchronously(_ name: String) -> Retried<SessionProbe> {
        do { try validate(name) } catch { return rejectedProbe(error) }
        return listingDriver.inventorySynchronously().probe(name)
    }

    /// The running sessions (dormant ones, zellij's EXITED and herdr's
    /// stopped, are not live), `unknown` retried.
    public func list() async -> Retried<SessionListing> {
        await listingDriver.inventory().listing
    }

    /// The blocking form of `list()`.
    public func listSynchronously() -> Retried<SessionListing> {
        listingDriver.inventorySynchronously().listing
    }

    /// Running and dormant sessions alike, `unknown` retried.
    public func inventory() async -> Retried<SessionInventory> {
        await listingDriver.inventory()
    }

    /// One listing as a lookup; dormant names answer `missing` with a reason saying so.
    public func lookup() async -> SessionLookup {
        await listingDriver.lookup()
    }

    /// The driver for `configuration`, listing with `listArguments` and
    /// reading the listing with `classify`.
    static func driver(
        _ configuration: ListingConfiguration<Self>, listArguments: [String],
        classify: @escaping @Sendable (_ outcome: Outcome, _ program: String, _ timeout: Duration?) -> SessionInventory
    ) -> ListingDriver {
        ListingDriver(
            invoker: Invoker(program: configuration.executable, environment: configuration.environment,
                             timeout: configuration.timeout, spawner: configuration.spawner),
            retry: configuration.retry,
            listArguments: listArguments,
            classify: classify
        )
    }
}
