// The exclusive-create lock (botmux's protocol) on real files: the payload
// byte for byte, release by inode, the liveness rules with real processes
// (a live holder, a dead pid, a reused pid, another boot), the 1 s minimum
// age, and two real processes racing to break the same stale lock.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import Testing
@testable import VigilStore
import VigilTestSupport

/// The environment variable that turns `staleLockBreakerChild` into a breaker.
private let breakerChildVariable = "VIGIL_STALE_BREAK_CHILD"

@Suite struct ExclusiveCreateLockTests {
    @Test func payloadIsBotmuxsAndTheFileGoesOnRelease() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/sessions.json"
            try writeFile(path, sampleStore, mode: 0o640)
            let file = StoreFile(path: path)
            let lock = try file.lock(.exclusiveCreate, timeout: .zero)
            #expect(lock.lockProtocol == .exclusiveCreate)
            let expected = botmuxPayload(pid: getpid(), processStart: try startTime(of: getpid()), bootID: try bootID())
            #expect(try readText(file.lockPath) == expected)
            #expect(permissions(file.lockPath) == 0o640, "a new lock file gets the store's mode")
            lock.release()
            #expect(folderNames(dir) == ["sessions.json"], "released: no lock file left")
        }
    }

    @Test func aNewStoresLockIsPrivate() throws {
        try withTemporaryDirectory { dir in
            let file = StoreFile(path: dir + "/sessions.json")
            let lock = try file.lock(.exclusiveCreate, timeout: .zero)
            #expect(permissions(file.lockPath) == 0o600)
            lock.release()
        }
    }

    @Test func releaseLeavesALockFileThatIsNotOurs() throws {
        try withTemporaryDirectory { dir in
            let file = StoreFile(path: dir + "/sessions.json")
            let lock = try file.lock(.exclusiveCreate, timeout: .zero)
            // Someone (wrongly) replaced our lock file: ours is gone, theirs must stay.
            #expect(unlink(file.lockPath) == 0)
            try writeFile(file.lockPath, "{\"pid\":1}")
            lock.release()
            #expect(try readText(file.lockPath) == "{\"pid\":1}")
        }
    }

    @Test func secondLockWaitsThenFailsNamingTheHolder() throws {
        try withTemporaryDirectory { dir in
            let file = StoreFile(path: dir + "/sessions.json")
            let first = try file.lock(.exclusiveCreate, timeout: .zero)
            let clock = ContinuousClock()
            let start = clock.now
            let error = storeError { () throws(StoreError) in _ = try file.lock(.exclusiveCreate, timeout: .milliseconds(200)) }
            #expect(clock.now - start >= .milliseconds(200), "it must wait for the bound before giving up")
            #expect(error?.category == .locked)
            #expect(error?.exitCode == 75)
            #expect(error?.message.hasPrefix("locked by pid \(getpid()) (running") == true, "\(error?.message ?? "")")
            #expect(error?.message.hasSuffix("through \(file.lockPath); gave up after 200 ms") == true)
            first.release()
            let second = try file.lock(.exclusiveCreate, timeout: .zero)
            second.release()
            #expect(lockProtocolFiles(in: dir).isEmpty)
        }
    }

    // MARK: - Who may be broken

    /// A lock file written as botmux writes it, made `secondsOld` old.
    func plantLock(_ file: StoreFile, _ payload: String, secondsOld: Int) throws -> [UInt8] {
        try writeFile(file.lockPath, payload, mode: 0o600)
        if secondsOld > 0 { try age(file.lockPath, seconds: secondsOld) }
        return try readFile(file.lockPath)
    }

    @Test func aLiveHoldersLockIsNeverBrokenHoweverOld() throws {
        try withTemporaryDirectory { dir in
            let holder = try Child.spawn(["/bin/sleep", "60"])
            defer { holder.send(SIGKILL); holder.wait() }
            let file = StoreFile(path: dir + "/sessions.json")
            let planted = try plantLock(file, botmuxPayload(pid: holder.pid, processStart: try startTime(of: holder.pid), bootID: try bootID()), secondsOld: 3600)
            let error = storeError { () throws(StoreError) in _ = try file.lock(.exclusiveCreate, timeout: .milliseconds(300)) }
            #expect(error?.category == .locked)
            #expect(error?.message.contains("pid \(holder.pid) (running") == true, "\(error?.message ?? "")")
            #expect(try readFile(file.lockPath) == planted)
            #expect(lockProtocolFiles(in: dir) == ["sessions.json.lock"], "no claim left behind")
        }
    }

    /// Each row: a provably dead holder, and the reason the notice gives.
    @Test(arguments: ["no such pid", "reused pid", "other boot", "bare pid"])
    func aProvablyDeadHoldersOldLockIsBroken(_ row: String) throws {
        try withTemporaryDirectory { dir in
            let live = try Child.spawn(["/bin/sleep", "60"])
            defer { live.send(SIGKILL); live.wait() }
            let file = StoreFile(path: dir + "/sessions.json")
            let payload: String
            let reason: String
            switch row {
            case "no such pid":
                let dead = try deadPID()
                payload = botmuxPayload(pid: dead, processStart: "12345", bootID: try bootID())
                reason = "pid \(dead) is not running"
            case "reused pid":
                // The pid is alive, but it is another process than the one that locked.
                payload = botmuxPayload(pid: live.pid, processStart: "1", bootID: try bootID())
                reason = "pid \(live.pid) is another process now"
            case "other boot":
                payload = botmuxPayload(pid: live.pid, processStart: try startTime(of: live.pid), bootID: "00000000-0000-4000-8000-000000000000")
                reason = "ran under another boot"
            default:
                let dead = try deadPID()
                payload = "\(dead)\n" // an older botmux, or a plain pid file
                reason = "pid \(dead) is not running"
            }
            _ = try plantLock(file, payload, secondsOld: 5)
            var notices: [StoreNotice] = []
            let lock = try file.lock(.exclusiveCreate, timeout: .seconds(10)) { notices.append($0) }
            #expect(notices.count == 1)
            #expect(notices.first?.description.hasPrefix("removed stale lock \(file.lockPath): ") == true)
            #expect(notices.first?.description.contains(reason) == true, "\(notices)")
            #expect(try readText(file.lockPath).hasPrefix("{\"pid\":\(getpid()),"), "the lock is ours now")
            lock.release()
            #expect(lockProtocolFiles(in: dir).isEmpty, "no lock, claim or owner file left")
        }
    }

    @Test func aDeadHoldersLockYoungerThanASecondIsWaitedOn() throws {
        try withTemporaryDirectory { dir in
            let file = StoreFile(path: dir + "/sessions.json")
            let dead = try deadPID()
            let planted = try plantLock(file, botmuxPayload(pid: dead, processStart: "12345", bootID: try bootID()), secondsOld: 0)
            // Fresh (mtime now) and the wait shorter than a second: not broken.
            let error = storeError { () throws(StoreError) in _ = try file.lock(.exclusiveCreate, timeout: .milliseconds(100)) }
            #expect(error?.category == .locked)
            #expect(error?.message.contains("broken once the lock is 1 s old") == true, "\(error?.message ?? "")")
            #expect(try readFile(file.lockPath) == planted)
            // Once it is old enough, the same lock is broken.
            try age(file.lockPath, seconds: 2)
            let lock = try file.lock(.exclusiveCreate, timeout: .seconds(10))
            lock.release()
        }
    }

    @Test(arguments: ["", "   \n", "not json", "{\"pid\":\"7\"}", "{\"pid\":1}", "{\"pid\":99999999,\"procStart\":3}"])
    func anUnidentifiableLockIsNeverBroken(_ payload: String) throws {
        try withTemporaryDirectory { dir in
            let file = StoreFile(path: dir + "/sessions.json")
            let planted = try plantLock(file, payload, secondsOld: 3600)
            let error = storeError { () throws(StoreError) in _ = try file.lock(.exclusiveCreate, timeout: .milliseconds(100)) }
            #expect(error?.category == .locked)
            #expect(error?.message.contains("unidentified holder") == true, "\(error?.message ?? "")")
            #expect(try readFile(file.lockPath) == planted)
        }
    }

    // MARK: - Two breakers at once

    /// Two real processes see the same stale lock at the same moment and
    /// both try to break it. Each must get the lock in turn, never both at
    /// once (a marker created with O_EXCL while holding it would collide),
    /// the stale lock is broken exactly once, and nothing is left behind.
    @Test(.enabled(if: access("/proc/self/exe", X_OK) == 0, "re-runs the test binary through /proc/self/exe"),
          .timeLimit(.minutes(2)))
    func twoProcessesRacingToBreakTheSameStaleLock() throws {
        try withTemporaryDirectory { dir in
            let executable = try #require(currentExecutable())
            let store = dir + "/sessions.json"
            let file = StoreFile(path: store)
            for round in 0..<6 {
                let go = dir + "/go"
                let log = dir + "/log-\(round)"
                unlink(go)
                _ = try plantLock(file, botmuxPayload(pid: try deadPID(), processStart: "1", bootID: try bootID()), secondsOld: 5)
                var children: [Child] = []
                for index in 0..<2 {
                    children.append(try Child.spawn(
                        [executable, "--testing-library", "swift-testing", "--filter", "staleLockBreakerChild"],
                        environment: ["\(breakerChildVariable)=\(store)|\(go)|\(log)|\(dir)/ready-\(round)-\(index)"],
                        quiet: true
                    ))
                }
                let ready = waitUntil(milliseconds: 60_000) {
                    access("\(dir)/ready-\(round)-0", F_OK) == 0 && access("\(dir)/ready-\(round)-1", F_OK) == 0
                }
                try #require(ready, "round \(round): the breakers never got ready")
                try writeFile(go, "")
                for child in children {
                    let status = child.wait()
                    #expect(status == 0, "round \(round): a breaker failed (status \(status)): \((try? readText(log)) ?? "")")
                }
                let lines = (try readText(log)).split(separator: "\n")
                #expect(lines.filter { $0.hasPrefix("held") }.count == 2, "round \(round): \(lines)")
                #expect(!lines.contains("overlap"), "round \(round): both held the lock at once")
                #expect(lines.filter { $0.hasSuffix("broke 1") }.count == 1, "round \(round): broken once: \(lines)")
                #expect(lockProtocolFiles(in: dir).isEmpty, "round \(round): left \(lockProtocolFiles(in: dir))")
            }
        }
    }

    /// Not a test on its own: with `VIGIL_STALE_BREAK_CHILD` set (by the
    /// test above) it is one of the two breakers; otherwise it does nothing.
    @Test func staleLockBreakerChild() throws {
        guard let variable = getenv(breakerChildVariable) else { return }
        let parts = String(cString: variable).split(separator: "|").map(String.init)
        let (store, go, log, ready) = (parts[0], parts[1], parts[2], parts[3])
        try writeFile(ready, "")
        while access(go, F_OK) != 0 { pause(milliseconds: 1) }
        var broke = 0
        let lock = try StoreFile(path: store).lock(.exclusiveCreate, timeout: .seconds(30)) { notice in
            if case .brokeStaleLock = notice { broke += 1 }
        }
        // While we hold the lock, nobody else may: an O_EXCL marker proves it.
        let marker = store + ".holder"
        let fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        appendLine(log, fd < 0 ? "overlap" : "held \(getpid()) broke \(broke)")
        pause(milliseconds: 50)
        if fd >= 0 {
            close(fd)
            unlink(marker)
        }
        lock.release()
    }

    func appendLine(_ path: String, _ line: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}

// MARK: - Matching botmux's names and numbers

@Suite struct StaleClaimNameTests {
    @Test func sha256KnownAnswers() {
        #expect(SHA256.hexDigest([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hexDigest(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hexDigest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hexDigest([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// JavaScript's `String(number)`, one row per notation rule.
    @Test(arguments: [
        (0.0, "0"), (65024.0, "65024"), (16222711.0, "16222711"), (1796067450220.0317, "1796067450220.0317"),
        (1796067450220.0, "1796067450220"), (0.5, "0.5"), (0.000001, "0.000001"), (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"), (1e21, "1e+21"), (1.2345e22, "1.2345e+22"), (123456789012345680000.0, "123456789012345680000"),
        (1152921504606846976.0, "1152921504606847000"), (-2.5, "-2.5"), (100.0, "100"),
    ] as [(Double, String)])
    func javaScriptNumbers(_ value: Double, _ text: String) {
        #expect(javaScriptString(value) == text)
    }

    /// The claim name Vigil computes for a file is the one botmux's code
    /// computes with Node for the same file (run where node is installed).
    @Test(.enabled(if: access("/usr/bin/node", X_OK) == 0 || access("/usr/local/bin/node", X_OK) == 0, "needs node"))
    func claimGenerationMatchesNode() throws {
        try withTemporaryDirectory { dir in
            let node = access("/usr/bin/node", X_OK) == 0 ? "/usr/bin/node" : "/usr/local/bin/node"
            for index in 0..<3 {
                let path = dir + "/f\(index).lock"
                try writeFile(path, "{\"pid\":\(index + 2)}")
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                defer { close(fd) }
                var info = stat()
                fstat(fd, &info)
                let ours = claimGeneration(fd, fallback: FileIdentity(info))
                // botmux's staleClaimPathFor, on the stats of a FileHandle.
                let script = """
                const fs = require('fs'), crypto = require('crypto');
                (async () => {
                  const h = await fs.promises.open(process.argv[1], fs.constants.O_RDONLY);
                  const s = await h.stat();
                  process.stdout.write(crypto.createHash('sha256').update([String(s.dev), String(s.ino), String(s.birthtimeMs)].join('\\0')).digest('hex').slice(0, 24));
                  await h.close();
                })();
                """
                let output = try runCapturing([node, "-e", script, path])
                #expect(output == ours, "\(path)")
            }
        }
    }

    /// Runs a program and returns its stdout (the test fails on a non-zero exit).
    func runCapturing(_ arguments: [String]) throws -> String {
        let path = "/tmp/vigil-capture-\(nextTestID())"
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawn(&pid, arguments[0], &actions, nil, argv, environ) == 0 else { throw TestFailure("spawn \(arguments[0])") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        defer { unlink(path) }
        guard status == 0 else { throw TestFailure("\(arguments[0]) exited with status \(status)") }
        return try readText(path)
    }
}
