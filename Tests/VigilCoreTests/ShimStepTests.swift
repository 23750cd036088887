#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CVigil
import Testing
import VigilTestSupport

/// The C job state machine driven by hand through its functions, with the
/// clock passed in, for the orderings that real timing only hits by chance.
@Suite("C shim job steps")
struct ShimStepTests {
    /// Starts `/bin/sleep 0.5` with a 10 s deadline on the portable path.
    func startSleep() -> OpaquePointer? {
        let file = strdup("/bin/sleep")
        let seconds = strdup("0.5")
        defer { free(file); free(seconds) }
        var args: [UnsafeMutablePointer<CChar>?] = [file, seconds, nil]
        var request = vigil_request()
        request.timeout_ns = 10_000_000_000
        request.drain_ns = 10_000_000
        request.kill_signal = SIGKILL
        request.try_pidfd = 0
        return args.withUnsafeMutableBufferPointer { a in
            request.file = UnsafePointer(file)
            request.argv = UnsafePointer(a.baseAddress)
            request.envp = vigil_environ()
            return vigil_job_start(&request)
        }
    }

    @Test("a child that exited before the deadline is reported exited, even when the next wait4 check is later")
    func exitedBeforeDeadlineOnPortablePath() throws {
        let job = try #require(startSleep())
        defer { vigil_job_free(job) }
        #expect(vigil_job_kind(job) == Int32(VIGIL_KIND_RUNNING.rawValue))
        #expect(vigil_job_waits_on_pidfd(job) == 0)
        let deadline = vigil_job_deadline_ns(job)
        // A step just before the deadline, while the child still sleeps: the
        // portable backoff then puts the next check after the deadline.
        #expect(vigil_job_step(job, deadline - 1) == 0)
        // The child exits meanwhile (a zombie: exited, not yet reaped).
        #expect(waitUntil(milliseconds: 5000) { processState(vigil_job_pid(job)) == "Z" })
        // First attention at the deadline: look before signalling.
        var finished = vigil_job_step(job, deadline + 1)
        var guardSteps = 0
        while finished == 0 && guardSteps < 1000 {
            finished = vigil_job_step(job, deadline + 2)
            guardSteps += 1
        }
        #expect(finished != 0)
        #expect(vigil_job_kind(job) == Int32(VIGIL_KIND_EXITED.rawValue))
        #expect(vigil_job_status(job) == 0)
    }

    @Test("a refused request is a finished spawn failure with its errno, and nothing ran")
    func refused() throws {
        let job = try #require(vigil_job_refused(EINVAL))
        defer { vigil_job_free(job) }
        #expect(vigil_job_kind(job) == Int32(VIGIL_KIND_SPAWN_FAILED.rawValue))
        #expect(vigil_job_error(job) == EINVAL)
        #expect(vigil_job_pid(job) == -1)
        #expect(vigil_job_step(job, vigil_now_ns()) == 1)
    }
}
