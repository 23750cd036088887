import VigilCore

/// zellij sessions, answered from `zellij list-sessions --no-formatting`.
///
/// zellij has no exact "does X exist" command, so a probe is one listing and
/// an exact lookup: never a prefix or substring match. A session zellij lists
/// as EXITED is serialised, not running: `missing`, with a reason saying it
/// can be resurrected. Names: empty names, control characters, `/`, a
/// leading `-` and leading or trailing white space are refused. Kill:
/// `zellij kill-session NAME` if it is running, then
/// `zellij delete-session NAME --force`; `alreadyGone` when not listed at all.
public struct ZellijBackend: ListingBackend {
    /// How this backend lists, with the configuration's values.
    public let listingDriver: ListingDriver

    /// Makes a backend.
    public init(configuration: ZellijConfiguration) {
        listingDriver = ListingDriver(configuration, Self.zellij)
    }

    /// What the driver runs and reads.
    static let zellij = ListingDriver.Multiplexer(
        listArguments: ["list-sessions", "--no-formatting"],
        rules: NameRules(
            forbidden: [("/", "zellij uses the name as a file name in its socket directory")],
            forbiddenFirst: [("-", "zellij would read the name as an option")],
            noSurroundingWhitespace: "zellij's listing does not keep leading or trailing white space exactly"
        ),
        killSteps: { name in
            (stop: .init(arguments: ["kill-session", name], label: "zellij kill-session"),
             delete: .init(arguments: ["delete-session", name, "--force"], label: "zellij delete-session --force"))
        },
        classify: { outcome, program, timeout in classifyListing(outcome, program: program, timeout: timeout) }
    )

    /// `zellij`.
    public static var defaultExecutable: String { "zellij" }

    /// Always `.zellij`.
    public var kind: BackendKind { .zellij }
}
