import VigilCore

/// Everything that shapes how `HerdrBackend` runs herdr (see `ListingConfiguration`).
public typealias HerdrConfiguration = ListingConfiguration<HerdrBackend>

/// herdr sessions, answered from `herdr session list --json`.
///
/// A probe is one listing and an exact lookup. A session listed with
/// `running: false` is a zombie: `missing`, with a reason saying so.
public struct HerdrBackend: ListingBackend {
    /// The configuration as given.
    public let configuration: HerdrConfiguration
    /// How this backend lists.
    public let listingDriver: ListingDriver

    /// The names herdr cannot take exactly.
    static let rules = NameRules(
        forbiddenFirst: [("-", "herdr would read the name as an option")]
    )

    /// Makes a backend.
    public init(configuration: HerdrConfiguration) {
        self.configuration = configuration
        listingDriver = Self.driver(configuration, listArguments: ["session", "list", "--json"],
                                    classify: { outcome, program, timeout in Self.classifyListing(outcome, program: program, timeout: timeout) })
    }

    /// `herdr`.
    public static var defaultExecutable: String { "herdr" }

    /// Always `.herdr`.
    public var kind: BackendKind { .herdr }

    /// Refuses empty names, control characters and a leading `-`.
    public func validate(_ name: String) throws(SessionNameError) {
        try Self.rules.validate(name, for: .herdr)
    }

    /// `herdr session stop NAME --json` if it is running, then
    /// `herdr session delete NAME --json`; `alreadyGone` when not listed at all.
    public func kill(_ name: String) async -> KillResult {
        do { try validate(name) } catch { return KillResult(status: .rejected, reason: error.description, attempts: 0) }
        return await listingDriver.kill(
            name,
            stop: .init(arguments: ["session", "stop", name, "--json"], label: "herdr session stop"),
            delete: .init(arguments: ["session", "delete", name, "--json"], label: "herdr session delete")
        )
    }
}
