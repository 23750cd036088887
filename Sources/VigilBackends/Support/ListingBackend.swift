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

/// Everything that shapes how `ZellijBackend` runs zellij (see `ListingConfiguration`).
public typealias ZellijConfiguration = ListingConfiguration<ZellijBackend>

/// Everything that shapes how `HerdrBackend` runs herdr (see `ListingConfiguration`).
public typealias HerdrConfiguration = ListingConfiguration<HerdrBackend>

/// A backend that can only answer by listing (zellij, herdr): a probe is one
/// listing and an exact lookup, never a prefix or substring match, and
/// `list`, `inventory` and `lookup` read the same listing. Those, `validate`,
/// `kill` and `configuration` are written once, here; a conforming backend
/// supplies only its data: `defaultExecutable`, `kind`, and a
/// `listingDriver` made from its configuration and its
/// `ListingDriver.Multiplexer` (listing arguments, name rules, kill steps,
/// how to read the listing).
public protocol ListingBackend: SessionBackend {
    /// The program a configuration runs unless it names another (`zellij`, `herdr`).
    static var defaultExecutable: String { get }
    /// The configuration as given.
    var configuration: ListingConfiguration<Self> { get }
    /// How this backend lists, with the configuration's values (opaque outside Vigil).
    var listingDriver: ListingDriver { get }
}

extension ListingBackend {
    /// The configuration as given (the driver holds its values).
    public var configuration: ListingConfiguration<Self> {
        listingDriver.configuration()
    }

    /// Refuses empty names, control characters, and what the multiplexer
    /// cannot take or list exactly (its own rules: see the backend).
    public func validate(_ name: String) throws(SessionNameError) {
        try listingDriver.validate(name, for: kind)
    }

    /// Lists; stops the session if it is running, then deletes what the
    /// multiplexer keeps of it (the backend names both steps): `killed` when
    /// the delete step exits 0, `alreadyGone` when not listed at all,
    /// `failed` (retried) otherwise, `rejected` for an invalid name.
    public func kill(_ name: String) async -> KillResult {
        do { try validate(name) } catch { return rejectedKill(error) }
        return await listingDriver.kill(name)
    }

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
}
