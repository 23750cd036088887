import VigilCore

/// The shared machinery of backends that can only answer by listing (zellij,
/// herdr): probe is list plus exact lookup, kill is list, stop if running,
/// then delete. Public only as a name (`ListingBackend.listingDriver`);
/// nothing in it is usable outside Vigil.
public struct ListingDriver: Sendable {
    /// All a listing backend knows of its multiplexer: how to list, which
    /// names it cannot take, how to kill, and how to read a listing. A
    /// backend declares one and the driver does the rest.
    struct Multiplexer: Sendable {
        /// The arguments of the listing call.
        let listArguments: [String]
        /// The names the multiplexer cannot take, or not list exactly.
        let rules: NameRules
        /// The stop step (run only when the session is running) and the
        /// delete step of a kill of `name`.
        let killSteps: @Sendable (_ name: String) -> (stop: Step, delete: Step)
        /// Pure: one listing run to an inventory.
        let classify: @Sendable (_ outcome: Outcome, _ program: String, _ timeout: Duration?) -> SessionInventory
    }

    let invoker: Invoker
    let retry: RetryPolicy
    let multiplexer: Multiplexer

    /// The driver for `configuration`: `multiplexer` run as the configuration says.
    init<Backend: ListingBackend>(_ configuration: ListingConfiguration<Backend>, _ multiplexer: Multiplexer) {
        invoker = Invoker(program: configuration.executable, environment: configuration.environment,
                          timeout: configuration.timeout, spawner: configuration.spawner)
        retry = configuration.retry
        self.multiplexer = multiplexer
    }

    /// The configuration the driver was made with, value for value.
    func configuration<Backend: ListingBackend>() -> ListingConfiguration<Backend> {
        ListingConfiguration(executable: invoker.program, environment: invoker.environment,
                             timeout: invoker.timeout, retry: retry, spawner: invoker.spawner)
    }

    /// Checks `name` against the multiplexer's rules, naming `kind` in the error.
    func validate(_ name: String, for kind: BackendKind) throws(SessionNameError) {
        try multiplexer.rules.validate(name, for: kind)
    }

    private func listCommand(remaining: Duration?) -> Command {
        invoker.command(multiplexer.listArguments, remaining: remaining,
                        stdoutLimit: OutputLimits.listingStdout, stderrLimit: OutputLimits.listingStderr)
    }

    /// One listing run, not retried, with what its child used.
    func listOnce(remaining: Duration?) async -> (SessionInventory, ChildrenUsage) {
        let command = listCommand(remaining: remaining)
        let outcome = await invoker.spawner.run(command)
        return (multiplexer.classify(outcome, invoker.program, command.timeout), ChildrenUsage(outcome))
    }

    /// The listing, `unknown` retried.
    func inventory() async -> Retried<SessionInventory> {
        await retry.run(metered: { _, remaining in await listOnce(remaining: remaining) })
    }

    /// The blocking form of `inventory()`.
    func inventorySynchronously() -> Retried<SessionInventory> {
        retry.runSynchronously(metered: { _, remaining in
            let command = listCommand(remaining: remaining)
            let outcome = invoker.spawner.runSynchronously(command)
            return (multiplexer.classify(outcome, invoker.program, command.timeout), ChildrenUsage(outcome))
        })
    }

    /// One listing with dormant sessions kept, as a lookup.
    func lookup() async -> SessionLookup {
        let retried = await inventory()
        return SessionLookup(listing: retried.listing, answer: retried.answer.answerer)
    }

    /// A step of a kill: the arguments and how to name them in reasons.
    struct Step: Sendable {
        let arguments: [String]
        let label: String
    }

    /// Lists; if `name` runs, runs its stop step; if it runs or is dormant,
    /// runs its delete step. `killed` only when the delete step exits 0.
    /// Retried while `failed`. Does not validate the name.
    func kill(_ name: String) async -> KillResult {
        let (stop, delete) = multiplexer.killSteps(name)
        let retried = await retry.run { _, remaining in
            await killOnce(name, stop: stop, delete: delete, remaining: remaining)
        }
        var result = retried.answer
        result.attempts = retried.attempts
        return result
    }

    private func killOnce(_ name: String, stop: Step, delete: Step, remaining: Duration?) async -> KillResult {
        let clock = ContinuousClock()
        let start = clock.now
        func left() -> Duration? { remaining.map { $0 - (clock.now - start) } }

        let (inventory, _) = await listOnce(remaining: remaining)
        let running: Bool
        switch inventory {
        case .unknown(let reason):
            return KillResult(status: .failed, reason: "could not list sessions before killing: \(reason)")
        case .known(let live, let dormant, let source):
            if live.contains(name) {
                running = true
            } else if dormant[name] != nil {
                running = false
            } else {
                return KillResult(status: .alreadyGone, reason: "not listed by \(source)")
            }
        }
        var notes: [String] = []
        if running {
            let command = invoker.command(stop.arguments, remaining: left(),
                                          stdoutLimit: OutputLimits.listingStderr, stderrLimit: OutputLimits.listingStderr)
            let outcome = await invoker.spawner.run(command)
            notes.append(outcome.termination.isSuccess ? "\(stop.label) exit 0" : "\(stop.label): \(invoker.failure(outcome, command))")
        }
        let command = invoker.command(delete.arguments, remaining: left(),
                                      stdoutLimit: OutputLimits.listingStderr, stderrLimit: OutputLimits.listingStderr)
        let outcome = await invoker.spawner.run(command)
        if outcome.termination.isSuccess {
            notes.append("\(delete.label) exit 0")
            return KillResult(status: .killed, reason: notes.joined(separator: "; "))
        }
        notes.append("\(delete.label): \(invoker.failure(outcome, command))")
        return KillResult(status: .failed, reason: notes.joined(separator: "; "))
    }
}
