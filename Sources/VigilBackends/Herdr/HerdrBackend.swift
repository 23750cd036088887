import VigilCore

/// herdr sessions, answered from `herdr session list --json`.
///
/// A probe is one listing and an exact lookup. A session listed with
/// `running: false` is a zombie: `missing`, with a reason saying so. Names:
/// empty names, control characters and a leading `-` are refused. Kill:
/// `herdr session stop NAME --json` if it is running, then
/// `herdr session delete NAME --json`; `alreadyGone` when not listed at all.
public struct HerdrBackend: ListingBackend {
    /// How this backend lists, with the configuration's values.
    public let listingDriver: ListingDriver

    /// Makes a backend.
    public init(configuration: HerdrConfiguration) {
        listingDriver = ListingDriver(configuration, Self.herdr)
    }

    /// What the driver runs and reads.
    static let herdr = ListingDriver.Multiplexer(
        listArguments: ["session", "list", "--json"],
        rules: NameRules(forbiddenFirst: [("-", "herdr would read the name as an option")]),
        killSteps: { name in
            (stop: .init(arguments: ["session", "stop", name, "--json"], label: "herdr session stop"),
             delete: .init(arguments: ["session", "delete", name, "--json"], label: "herdr session delete"))
        },
        classify: { outcome, program, timeout in classifyListing(outcome, program: program, timeout: timeout) }
    )

    /// `herdr`.
    public static var defaultExecutable: String { "herdr" }

    /// Always `.herdr`.
    public var kind: BackendKind { .herdr }
}
