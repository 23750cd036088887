import Testing
@testable import VigilCore
import VigilTestSupport

@Suite("Tri-state values and retry")
struct ProbeValueTests {
    @Test("only exists is live")
    func liveness() {
        #expect(SessionProbe.exists(reason: "x").isLive)
        #expect(!SessionProbe.missing(reason: "x").isLive)
        #expect(!SessionProbe.unknown(reason: "x").isLive)
        #expect(SessionProbe.unknown(reason: "timed out").description == "unknown (timed out)")
    }

    @Test("a listing answers exactly, never by prefix")
    func listingLookup() {
        let l = SessionListing.live(["bmx-deadbeef"], reason: "tmux list-sessions")
        #expect(l.probe("bmx-deadbeef").state == .exists)
        #expect(l.probe("bmx-dead").state == .missing)
        #expect(SessionListing.unknown(reason: "boom").probe("bmx-deadbeef") == .unknown(reason: "boom"))
        let answer = l.answerer
        #expect(answer("bmx-deadbeef") == .exists(reason: "listed by tmux list-sessions"))
        #expect(answer("bmx-deadbeef0") == .missing(reason: "not listed by tmux list-sessions"))
        #expect(answer("") == .missing(reason: "not listed by tmux list-sessions"))
    }

    @Test("failure reasons name the cause")
    func reasons() {
        let enoent = Outcome(termination: .spawnFailed(.noSuchFile))
        #expect(enoent.failureReason(program: "tmux", timeout: nil) == "tmux not found on PATH (ENOENT)")
        #expect(enoent.failureReason(program: "/opt/tmux", timeout: nil) == "/opt/tmux does not exist (ENOENT)")
        let seg = Outcome(termination: .signaled(.segmentationFault))
        #expect(seg.failureReason(program: "tmux", timeout: nil) == "tmux killed by SIGSEGV")
        let late = Outcome(termination: .timedOut(.kill))
        #expect(late.failureReason(program: "tmux", timeout: .milliseconds(3000)).hasPrefix("tmux timed out after 3000 ms"))
        #expect(Errno.permissionDenied.name == "EACCES")
        #expect(Signal.kill.name == "SIGKILL")
    }

    @Test("unknown is retried until an answer comes")
    func retryUntilAnswer() async {
        // No overall deadline: this is about the attempt count, and a loaded
        // test machine can delay a 1 ms Task.sleep by seconds.
        let policy = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(1), overallDeadline: nil)
        let r = await policy.run { n, _ -> SessionProbe in
            n < 3 ? .unknown(reason: "busy \(n)") : .missing(reason: "gone")
        }
        #expect(r.answer == .missing(reason: "gone"))
        #expect(r.attempts == 3)
    }

    @Test("authoritative answers are not retried")
    func noRetryOnAnswer() async {
        let policy = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(1))
        var calls = 0
        let r = policy.runSynchronously { _, _ -> SessionProbe in calls += 1; return .exists(reason: "ok") }
        #expect(r.attempts == 1)
        #expect(calls == 1)
    }

    @Test("attempts run out on persistent unknown")
    func attemptsRunOut() {
        let policy = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(1))
        let r = policy.runSynchronously { n, _ -> SessionProbe in .unknown(reason: "n\(n)") }
        #expect(r.attempts == 3)
        #expect(r.answer == .unknown(reason: "n3"))
    }

    @Test("the overall deadline stops retries before the next pause would cross it")
    func overallDeadline() {
        let policy = RetryPolicy(maxAttempts: 100, baseDelay: .milliseconds(40), jitter: 0, overallDeadline: .milliseconds(100))
        var remainders: [Duration?] = []
        let r = policy.runSynchronously { _, remaining -> SessionProbe in
            remainders.append(remaining)
            return .unknown(reason: "still")
        }
        // Pauses of 40 then 80 ms: a third attempt would need a pause that
        // crosses the 100 ms deadline, so at most two attempts, however slow
        // the machine (a slow machine can only make fewer).
        #expect(r.attempts >= 1 && r.attempts <= 2, "\(r.attempts)")
        #expect(remainders.allSatisfy { $0 != nil && $0! <= .milliseconds(100) })
    }

    @Test("backoff doubles, caps, and jitter only shortens")
    func backoffShape() {
        let p = RetryPolicy(baseDelay: .milliseconds(150), maxDelay: .milliseconds(500), jitter: 0.5)
        #expect(p.delay(after: 1, random: 0) == .milliseconds(150))
        #expect(p.delay(after: 2, random: 0) == .milliseconds(300))
        #expect(p.delay(after: 3, random: 0) == .milliseconds(500))
        #expect(p.delay(after: 1, random: 1) == .milliseconds(75))
        #expect(Duration.seconds(3).clamped(toRemaining: .milliseconds(200)) == .milliseconds(200))
        #expect(Duration.seconds(3).clamped(toRemaining: nil) == .seconds(3))
    }
}
