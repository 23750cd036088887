public import VigilCore
import VigilJSON

/// Reading `herdr session list --json`.
///
/// Accepted shapes: `{"sessions": [...]}` and `{"result": {"sessions": [...]}}`.
/// Each row is an object with a string `name` and a boolean `running`:
/// `running: true` is live, `running: false` a zombie (listed, not running:
/// `missing`). A name not in the list is `missing`. Everything else is
/// `unknown`: a non-zero exit, a timeout, empty output, invalid JSON, or
/// JSON of another shape (no sessions array, sessions not an array, a row
/// that is not an object, without a string name, or without a boolean `running`).
extension HerdrBackend {
    /// Classifies one `herdr session list --json` run. Pure.
    ///
    /// - Parameters:
    ///   - outcome: the finished run.
    ///   - program: the executable as configured, for reasons.
    ///   - timeout: the deadline that applied, for the timeout wording.
    public static func classifyListing(_ outcome: Outcome, program: String = "herdr", timeout: Duration? = nil) -> SessionInventory {
        let source = "herdr session list"
        guard outcome.termination == .exited(0) else {
            return .unknown(reason: outcome.failureReason(program: program, timeout: timeout))
        }
        if outcome.stdout.truncated {
            return .unknown(reason: "\(source): output longer than \(outcome.stdout.bytes.count) bytes, the list is incomplete")
        }
        if outcome.stdout.bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            return .unknown(reason: "\(source) exit 0 printed nothing")
        }
        let document: JSONValue
        do throws(JSONParseError) {
            document = try JSONValue.parse(outcome.stdout.bytes, maximumDepth: maximumDepth)
        } catch {
            return .unknown(reason: "\(source) printed invalid JSON: \(error)")
        }
        // Ambiguous is as bad as invalid: which "running" would count?
        if let key = document.firstDuplicateKey {
            return .unknown(reason: "\(source) printed invalid JSON: duplicate member \(key.debugDescription)")
        }
        let sessions: JSONValue
        switch shape(of: document) {
        case .success(let rows): sessions = rows
        case .failure(let problem): return .unknown(reason: "\(source): unrecognised JSON: \(problem.message)")
        }
        guard case .array(let rows) = sessions else {
            return .unknown(reason: "\(source): unrecognised JSON: \"sessions\" is not an array")
        }
        var live = Set<String>()
        var zombies: [String: String] = [:]
        for (index, row) in rows.enumerated() {
            guard case .object = row else {
                return .unknown(reason: "\(source): unrecognised JSON: session \(index) is not an object")
            }
            guard case .string(let name)? = row["name"] else {
                return .unknown(reason: "\(source): unrecognised JSON: session \(index) has no string \"name\"")
            }
            guard case .bool(let running)? = row["running"] else {
                return .unknown(reason: "\(source): unrecognised JSON: session \(name.debugDescription) has no boolean \"running\"")
            }
            if running { live.insert(name) } else { zombies[name] = "stopped (running: false)" }
        }
        // Listed twice, once running: running wins (never destroy).
        for name in live { zombies[name] = nil }
        return .known(live: live, dormant: zombies, source: source)
    }

    /// One name's answer from one listing run (list, then exact lookup). Pure.
    public static func classify(_ outcome: Outcome, name: String, program: String = "herdr", timeout: Duration? = nil) -> SessionProbe {
        classifyListing(outcome, program: program, timeout: timeout).probe(name)
    }

    /// herdr's listing is shallow; anything nested deeper is not it.
    static let maximumDepth = 128

    struct ShapeProblem: Error { let message: String }

    /// The sessions value of either accepted shape.
    static func shape(of document: JSONValue) -> Result<JSONValue, ShapeProblem> {
        guard case .object = document else { return .failure(ShapeProblem(message: "the top level is not an object")) }
        if let sessions = document["sessions"] { return .success(sessions) }
        if let result = document["result"] {
            guard case .object = result else { return .failure(ShapeProblem(message: "\"result\" is not an object")) }
            if let sessions = result["sessions"] { return .success(sessions) }
        }
        return .failure(ShapeProblem(message: "no \"sessions\" array"))
    }
}
