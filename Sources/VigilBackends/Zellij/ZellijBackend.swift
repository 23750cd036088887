import VigilCore

/// Everything that shapes how `ZellijBackend` runs zellij (see `ListingConfiguration`).
public typealias ZellijConfiguration = ListingConfiguration<ZellijBackend>

/// zellij sessions, answered from `zellij list-sessions --no-formatting`.
///
/// zellij has no exact "does X exist" command, so a probe is one listing and
/// an exact lookup: never a prefix or substring match. A session zellij lists
/// as EXITED is serialised, not running: `missing`, with a reason saying it
/// can be resurrected.
public struct ZellijBackend: ListingBackend {
    /// The configuration as given.
    public let configuration: ZellijConfiguration
    /// How this backend lists.
    public let listingDriver: ListingDriver

    /// The names zellij cannot take or list exactly.
    static let rules = NameRules(
        forbidden: [("/", "zellij uses the name as a file name in its socket directory")],
        forbiddenFirst: [("-", "zellij would read the name as an option")],
        noSurroundingWhitespace: "zellij's listing does not keep leading or trailing white space exactly"
    )

    /// Makes a backend.
    public init(configuration: ZellijConfiguration) {
        self.configuration = configuration
        listingDriver = Self.driver(configuration, listArguments: ["list-sessions", "--no-formatting"],
                                    classify: { outcome, program, timeout in Self.classifyListing(outcome, program: program, timeout: timeout) })
    }

    /// `zellij`.
    public static var defaultExecutable: String { "zellij" }

    /// Always `.zellij`.
    public var kind: BackendKind { .zellij }

    /// Refuses empty names, control characters, `/`, a leading `-` and
    /// leading or trailing white space.
    public func validate(_ name: String) throws(SessionNameError) {
        try Self.rules.validate(name, for: .zellij)
    }

    /// `zellij kill-session NAME` if it is running, then
    /// `zellij delete-session NAME --force`; `alreadyGone` when not listed at all.
    public func kill(_ name: String) async -> KillResult {
        do { try validate(name) } catch { return KillResult(status: .rejected, reason: error.description, attempts: 0) }
        return await listingDriver.kill(
            name,
            stop: .init(arguments: ["kill-session", name], label: "zellij kill-session"),
            delete: .init(arguments: ["delete-session", name, "--force"], label: "zellij delete-session --force")
        )
    }
}
