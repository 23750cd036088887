// Retry behaviour of every backend with fixture executables that count their
// calls in a file: `unknown` is retried with the core's policy, `exists`
// and `missing` return at once, and a hanging child ends as `unknown`
// within the overall deadline.
import Testing
import VigilBackends
import VigilCore
import VigilTestSupport

@Suite("retry of unknown answers", .timeLimit(.minutes(1)))
struct RetryTests {
    /// Exits with a failure on calls 1 and 2, then runs `answer`.
    private func flaky(_ dir: TemporaryDirectory, name: String, failure: String, answer: String) throws -> Fixture {
        try Fixture(in: dir, name: name, body: """
        if [ "$n" -le 2 ]; then
            \(failure)
        fi
        \(answer)
        """)
    }

    @Test func tmuxFailingTwiceThenAnswering() async throws {
        let dir = try TemporaryDirectory()
        // tmux prints the resolved session's name (has-session ; display-message).
        let fixture = try flaky(dir, name: "tmux", failure: "echo 'server exited unexpectedly' >&2; exit 1", answer: "echo bmx-aaaa1111; exit 0")
        let backend = TmuxBackend(configuration: TmuxConfiguration(executable: fixture.path, timeout: testTimeout, retry: defaultRetryUnderLoad, spawner: Spawner()))
        let probe = await backend.probe("bmx-aaaa1111")
        #expect(probe.answer.state == .exists, "\(probe.answer)")
        #expect(probe.attempts == 3)
        #expect(dir.read("count") == "3\n")
        // Every attempt's child is in the answer's cost, not only the last.
        #expect(probe.usage.children == 3 && probe.usage.unmeasured == 0, "\(probe.usage)")
    }

    @Test func tmuxSynchronousFailingTwiceThenAnswering() throws {
        let dir = try TemporaryDirectory()
        let fixture = try flaky(dir, name: "tmux", failure: "kill -SEGV $$", answer: "echo 'can'\"'\"'t find session: bmx-aaaa1111' >&2; exit 1")
        let backend = TmuxBackend(configuration: TmuxConfiguration(executable: fixture.path, timeout: testTimeout, retry: defaultRetryUnderLoad, spawner: Spawner()))
        let probe = backend.probeSynchronously("bmx-aaaa1111")
        #expect(probe.answer.state == .missing, "\(probe.answer)")
        #expect(probe.attempts == 3)
        #expect(probe.usage.children == 3, "a child killed by a signal is reaped with its figures too: \(probe.usage)")
    }

    @Test func zellijFailingTwiceThenAnswering() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try flaky(dir, name: "zellij", failure: "echo 'Error occurred: busy' >&2; exit 1",
                                answer: "echo 'bmx-aaaa1111 [Created 1s ago]'; exit 0")
        let backend = ZellijBackend(configuration: ZellijConfiguration(executable: fixture.path, timeout: testTimeout, retry: defaultRetryUnderLoad, spawner: Spawner()))
        let probe = await backend.probe("bmx-aaaa1111")
        #expect(probe.answer.state == .exists, "\(probe.answer)")
        #expect(probe.attempts == 3)
        #expect(fixture.calls.count == 3)
        #expect(probe.usage.children == 3, "\(probe.usage)")
    }

    @Test func herdrFailingTwiceThenAnswering() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try flaky(dir, name: "herdr", failure: "echo '{\"sessions\": [' ; exit 0",
                                answer: "echo '{\"sessions\": [{\"name\": \"bmx-aaaa1111\", \"running\": true}]}'")
        let backend = HerdrBackend(configuration: HerdrConfiguration(executable: fixture.path, timeout: testTimeout, retry: defaultRetryUnderLoad, spawner: Spawner()))
        let listing = await backend.list()
        #expect(listing.answer.probe("bmx-aaaa1111").state == .exists, "\(listing.answer)")
        #expect(listing.attempts == 3)
        #expect(listing.usage.children == 3, "\(listing.usage)")
    }

    @Test func existsIsNotRetried() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try Fixture(in: dir, name: "tmux", body: "echo bmx-aaaa1111; exit 0")
        let probe = await TmuxBackend(configuration: TmuxConfiguration(executable: fixture.path, timeout: testTimeout, retry: defaultRetryUnderLoad, spawner: Spawner())).probe("bmx-aaaa1111")
        #expect(probe.answer.state == .exists)
        #expect(probe.attempts == 1)
        #expect(fixture.calls.count == 1)
    }

    @Test func missingIsNotRetried() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try Fixture(in: dir, name: "tmux", body: "echo 'no server running on /tmp/tmux-0/x' >&2; exit 1")
        let probe = await TmuxBackend(configuration: TmuxConfiguration(executable: fixture.path, timeout: testTimeout, retry: defaultRetryUnderLoad, spawner: Spawner())).probe("bmx-aaaa1111")
        #expect(probe.answer.state == .missing)
        #expect(probe.attempts == 1)
        #expect(fixture.calls.count == 1)
    }

    @Test func unknownExhaustsTheAttempts() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try Fixture(in: dir, name: "tmux", body: "echo 'protocol version mismatch (client 8, server 7)' >&2; exit 1")
        let probe = await TmuxBackend(configuration: TmuxConfiguration(executable: fixture.path, timeout: testTimeout, retry: defaultRetryUnderLoad, spawner: Spawner())).probe("bmx-aaaa1111")
        #expect(probe.answer.state == .unknown)
        #expect(probe.answer.reason.contains("protocol version mismatch"))
        #expect(probe.attempts == 3)
        #expect(fixture.calls.count == 3)
    }

    /// A child that never exits: each attempt is killed at its deadline and
    /// retried with the default attempts and backoff, ending as `unknown`.
    @Test(arguments: [BackendKind.tmux, .zellij, .herdr])
    func hangingForeverIsRetriedThenUnknown(_ kind: BackendKind) async throws {
        let dir = try TemporaryDirectory()
        let fixture = try Fixture(in: dir, name: kind.rawValue, body: "exec sleep 1000")
        let backend = hanging(kind, fixture.path, timeout: .milliseconds(300), retry: defaultRetryUnderLoad)
        let probe = await backend.probe("bmx-aaaa1111")
        #expect(probe.answer.state == .unknown)
        #expect(probe.answer.reason.contains("timed out after 300 ms"), "\(probe.answer.reason)")
        #expect(probe.attempts == 3)
        #expect(!(await backend.hasSession("bmx-aaaa1111")))
    }

    /// The overall deadline bounds the whole: with attempts to spare, a
    /// hanging child still ends as `unknown` once the deadline is near, the
    /// last attempt's own deadline clamped to fit.
    ///
    /// No wall-clock upper bound (a loaded machine stretches every await):
    /// the bound shows in the attempt count instead. An attempt on a child
    /// that never exits lasts at least its own deadline, so within a 2 s
    /// overall deadline at most three fit (800 + 800 + the clamped rest),
    /// however slow the machine; without the overall deadline the policy
    /// would make 100. A third attempt only starts with less than 800 ms
    /// left, so its deadline must have been clamped.
    @Test(arguments: [BackendKind.tmux, .zellij, .herdr])
    func hangingForeverIsUnknownWithinTheOverallDeadline(_ kind: BackendKind) async throws {
        let dir = try TemporaryDirectory()
        let fixture = try Fixture(in: dir, name: kind.rawValue, body: "exec sleep 1000")
        let retry = RetryPolicy(maxAttempts: 100, overallDeadline: .seconds(2))
        let backend = hanging(kind, fixture.path, timeout: .milliseconds(800), retry: retry)
        let probe = await backend.probe("bmx-aaaa1111")
        #expect(probe.answer.state == .unknown)
        #expect(probe.answer.reason.contains("timed out"), "\(probe.answer.reason)")
        // Each attempt lasts at least its own deadline (the child hangs), so
        // within 2 s there is room for at most two full 800 ms attempts and
        // one clamped to what is left: a bound on the count, not on the time
        // (a wall-clock bound fails on a loaded machine whose test threads
        // are all busy, which says nothing about the deadline).
        #expect((1...3).contains(probe.attempts), "\(probe.attempts) attempts cannot fit in 2 s at 800 ms each")
        #expect(probe.elapsed >= .milliseconds(800), "every attempt waits for its deadline")
        if probe.attempts == 3 {
            #expect(!probe.answer.reason.contains("after 800 ms"), "the last attempt's deadline was not clamped: \(probe.answer.reason)")
        }
        #expect(probe.usage.children == probe.attempts, "\(probe.usage)")
    }

    private func hanging(_ kind: BackendKind, _ path: String, timeout: Duration, retry: RetryPolicy) -> any SessionBackend {
        switch kind {
        case .tmux: return TmuxBackend(configuration: TmuxConfiguration(executable: path, timeout: timeout, retry: retry, spawner: Spawner()))
        case .zellij: return ZellijBackend(configuration: ZellijConfiguration(executable: path, timeout: timeout, retry: retry, spawner: Spawner()))
        case .herdr: return HerdrBackend(configuration: HerdrConfiguration(executable: path, timeout: timeout, retry: retry, spawner: Spawner()))
        case .pty: return PtyBackend()
        }
    }
}
