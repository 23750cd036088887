#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CVigil
import Testing
import VigilTestSupport

/// The C job state machine driven by hand, with the clock passed in, for the
/// orderings that real timing only hits by chance.
@Suite("C shim job steps")
struct ShimStepTests {
    /// Starts `/bin/true` with a 50 ms deadline on the portable path.
    func startTrue(_ job: UnsafeMutablePointer<vigil_job>) {
        let argv = strdup("true")
        defer { free(argv) }
        var args: [UnsafeMutablePointer<CChar>?] = [argv, nil]
        var request = vigil_request()
        request.timeout_ns = 50_000_000
        request.drain_ns = 10_000_000
        request.kill_signal = SIGKILL
        request.wait_mode = Int32(VIGIL_WAIT_PORTABLE.rawValue)
        "/bin/true".withCString { file in
            request.file = file
            args.withUnsafeMutableBufferPointer { a in
                request.argv = UnsafePointer(a.baseAddress)
                request.envp = vigil_environ()
                _ = vigil_job_start(job, &request)
            }
        }
    }

    @Test("a child that exited before the deadline is reported exited, even when the next waitpid check is later")
    func exitedBeforeDeadlineOnPortablePath() {
        let job = UnsafeMutablePointer<vigil_job>.allocate(capacity: 1)
        defer { vigil_job_dispose(job); job.deallocate() }
        startTrue(job)
        #expect(job.pointee.kind == Int32(VIGIL_KIND_RUNNING.rawValue))
        // The backoff says "next check much later"; the child exits meanwhile.
        job.pointee.next_check_ns = Int64.max - 1
        #expect(waitUntil(milliseconds: 5000) { processState(job.pointee.pid) == "Z" })
        // First attention at the deadline: look before signalling.
        let atDeadline = job.pointee.deadline_ns + 1
        var finished = vigil_job_step(job, atDeadline)
        var guardSteps = 0
        while finished == 0 && guardSteps < 1000 {
            finished = vigil_job_step(job, vigil_now_ns())
            guardSteps += 1
        }
        #expect(job.pointee.kill_sent == 0)
        #expect(job.pointee.kind == Int32(VIGIL_KIND_EXITED.rawValue))
        #expect(job.pointee.status == 0)
    }
}
