#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import Testing
import VigilCore
import VigilJSON
import VigilStore
import VigilTestSupport

/// `vigil restore` against a second real process writing the same store: a
/// small python3 writer that takes the same lock (flock(2), or botmux's
/// exclusive-create with botmux's payload), adds a record, and renames a new
/// version in, at many different moments of the restore.
@Suite("restore and a concurrent writer", .timeLimit(.minutes(5)))
struct ConcurrentWriterTests {
    /// The daemon's side: says it is ready, waits for the trigger file, then
    /// `delay` ms, locks, reads the store, inserts one record before the
    /// final "\n]" (every other byte kept), writes a temporary file, fsyncs,
    /// renames it over the store, unlocks. Prints "after" if restore's
    /// commit was already in what it read, else "before".
    static let writer = #"""
    import fcntl, json, os, random, sys, time
    store, protocol, record, delay, ready, trigger = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5], sys.argv[6]
    lock = store + ".lock"
    open(ready, "w").close()
    while not os.path.exists(trigger):
        time.sleep(0.0002)
    time.sleep(delay / 1000.0)
    def start(pid):
        raw = open("/proc/%d/stat" % pid).read()
        return raw[raw.rindex(")") + 2:].split()[19]
    deadline = time.monotonic() + 60
    if protocol == "flock":
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        def release():
            os.close(fd)
    else:
        boot = open("/proc/sys/kernel/random/boot_id").read().strip().lower()
        payload = json.dumps({"pid": os.getpid(), "procStart": start(os.getpid()), "bootId": boot}, separators=(",", ":"))
        while True:
            try:
                fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                break
            except FileExistsError:
                if time.monotonic() > deadline:
                    sys.exit(75)
                time.sleep(0.025 + random.random() * 0.025)
        os.write(fd, payload.encode())
        owned = os.fstat(fd)
        def release():
            now = os.lstat(lock)
            if (now.st_dev, now.st_ino) == (owned.st_dev, owned.st_ino):
                os.unlink(lock)
            os.close(fd)
    data = open(store, "rb").read()
    seen = b"closeReason" in data
    end = data.rindex(b"\n]")
    temporary = store + ".writer-tmp"
    with open(temporary, "wb") as out:
        out.write(data[:end] + b",\n" + record.encode() + data[end:])
        out.flush()
        os.fsync(out.fileno())
    os.rename(temporary, store)
    release()
    print("after" if seen else "before")
    """#

    /// Holds an exclusive-create lock as botmux does until killed.
    static let holder = #"""
    import json, os, sys, time
    lock, ready = sys.argv[1], sys.argv[2]
    raw = open("/proc/%d/stat" % os.getpid()).read()
    start = raw[raw.rindex(")") + 2:].split()[19]
    boot = open("/proc/sys/kernel/random/boot_id").read().strip().lower()
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, json.dumps({"pid": os.getpid(), "procStart": start, "bootId": boot}, separators=(",", ":")).encode())
    open(ready, "w").close()
    time.sleep(600)
    """#

    static let python = "/usr/bin/python3"

    /// 40 tmux records on `socket`: the first 4 alive, the rest gone.
    func store(socket: String) -> (text: String, alive: Set<String>) {
        var records: [String] = []
        var alive: Set<String> = []
        for i in 0..<40 {
            let id = hex8(i) + "-race"
            if i < 4 { alive.insert(id) }
            records.append("{\"id\": \"\(id)\", \"backend\": \"tmux\", \"status\": \"active\", \"socket\": \"\(socket)\", \"daemon\": {\"n\": \(i)}}")
        }
        return ("{\"daemon\": \"chatd\", \"version\": 1, \"sessions\": [\n" + records.joined(separator: ",\n") + "\n]}\n", alive)
    }

    /// Where the writer landed relative to restore.
    enum Moment: String {
        /// The writer committed before restore read the store.
        case beforeRestoreRead
        /// After restore read the store and before it committed: the window
        /// in which an update used to be lost.
        case whileRestoreDecided
        /// After restore's commit.
        case afterRestoreCommitted
    }

    @Test("a writer that takes the same lock never loses its record, and restore's decisions land on every other record",
          arguments: StoreLockProtocol.allCases)
    func noLostUpdate(_ lockProtocol: StoreLockProtocol) throws {
        let dir = try TemporaryDirectory()
        let server = TmuxServer(label: "race-\(lockProtocol.rawValue)")
        let path = dir.file("store.json")
        let (text, alive) = store(socket: server.socketName)
        for id in alive { try server.createSession("bmx-" + id.prefix(8)) }
        let writer = try dir.write("writer.py", Self.writer)
        // tmux behind a gate: a restore can be held between reading the
        // store and committing, as long as a test needs.
        let started = dir.file("listing-started")
        let gate = dir.file("go")
        let tmux = try dir.fixture("tmux", "#!/bin/sh\ntouch \(started)\nwhile [ ! -e \(gate) ]; do sleep 0.005; done\nexec tmux \"$@\"\n")

        var moments: [Moment: Int] = [:]
        let runs = 54
        for run in 0..<runs {
            try writeFile(path, text)
            unlink(started)
            unlink(gate)
            let recordID = "writer-\(run)"
            let record = "{\"id\": \"\(recordID)\", \"backend\": \"pty\", \"status\": \"active\", \"note\": \"saved while restore ran\"}"
            var restore = Command(VigilBinary.path, arguments: [
                "restore", "--store", path, "--tmux", tmux, "--json", "--quiet", "--lock", lockProtocol.rawValue,
                "--lock-timeout-ms", "60000", "--timeout-ms", "60000", "--retries", "0",
            ], timeout: .seconds(120))
            restore.stdoutLimit = 1 << 20
            restore.stderrLimit = 1 << 16
            let finished = Mutex<Outcome?>(nil)
            func launchRestore() {
                runInBackground(restore) { o in finished.withLock { $0 = o } }
            }
            let ready = dir.file("writer-ready")
            let trigger = dir.file("writer-go")
            unlink(ready)
            unlink(trigger)
            let written = Mutex<Outcome?>(nil)
            func launchWriter(delayMs: Double) {
                var c = Command(Self.python, arguments: [writer, path, lockProtocol.rawValue, record, String(delayMs), ready, trigger],
                                timeout: .seconds(120))
                c.stdoutLimit = 4096
                c.stderrLimit = 1 << 16
                runInBackground(c) { o in written.withLock { $0 = o } }
            }
            switch run % 3 {
            case 0:
                // Deterministic: the writer saves while restore is held in its
                // listing. It must get the lock (restore holds none while
                // probing), and its record must survive restore's commit.
                launchRestore()
                try #require(waitForFile(started, milliseconds: 60_000), "run \(run): restore never listed")
                try writeFile(trigger, "")
                launchWriter(delayMs: 0)
                try #require(waitUntil(milliseconds: 120_000) { written.withLock { $0 != nil } })
                try writeFile(gate, "")
            case 1:
                // Around restore's commit: both wait at their gates, released
                // together; the writer then waits 0 to 34 ms, stepping
                // through restore's listing, its commit and after.
                launchRestore()
                try #require(waitForFile(started, milliseconds: 60_000), "run \(run): restore never listed")
                launchWriter(delayMs: Double((run / 3) % 18) * 2)
                try #require(waitForFile(ready, milliseconds: 60_000), "run \(run): the writer never started")
                try writeFile(trigger, "")
                try writeFile(gate, "")
            default:
                // Across the whole restore: the writer waits, started; restore
                // is launched and the writer released 0 to 51 ms later.
                try writeFile(gate, "")
                launchWriter(delayMs: 0)
                try #require(waitForFile(ready, milliseconds: 60_000), "run \(run): the writer never started")
                launchRestore()
                pause(milliseconds: (run / 3) * 3)
                try writeFile(trigger, "")
            }
            try #require(waitUntil(milliseconds: 120_000) { written.withLock { $0 != nil } }, "run \(run): the writer never finished")
            let writerOutcome = written.withLock { $0! }
            #expect(writerOutcome.termination == .exited(0), "run \(run): writer \(writerOutcome.stderr.text)")
            try #require(waitUntil(milliseconds: 120_000) { finished.withLock { $0 != nil } }, "run \(run): restore never finished")
            let outcome = finished.withLock { $0! }
            #expect(outcome.termination == .exited(0), "run \(run): \(outcome.stderr.text)")

            // The writer's record is there, byte for byte, whatever the moment.
            let after = try readText(path)
            #expect(after.contains(record), "run \(run): the writer's record was lost")
            let final = try StoreFile(path: path).load()
            #expect(final.records.count == 41, "run \(run)")
            // Restore's decisions landed on every other record.
            for r in final.records where r.id != recordID {
                #expect(r.status == (alive.contains(r.id) ? .active : .closed), "run \(run): \(r.id)")
            }
            #expect(final.otherFields["daemon"] == .string("chatd"))
            #expect(after.hasPrefix("{\"daemon\": \"chatd\", \"version\": 1, \"sessions\": [\n"), "run \(run): the top level kept its place")
            // No lock file left by the exclusive-create protocol.
            if lockProtocol == .exclusiveCreate { #expect(access(path + ".lock", F_OK) != 0, "run \(run)") }

            // Where did the writer land?
            let report = try JSONValue.parse(outcome.stdout.text)
            let restoreSawIt = report["sessions"]?.arrayValue?.contains { $0["id"] == .string(recordID) } ?? false
            let writerSawRestore = writerOutcome.stdout.text.hasPrefix("after")
            let moment: Moment = restoreSawIt ? .beforeRestoreRead : (writerSawRestore ? .afterRestoreCommitted : .whileRestoreDecided)
            moments[moment, default: 0] += 1
            if run % 3 == 0 {
                #expect(moment == .whileRestoreDecided, "run \(run): the gated writer must land between restore's read and its commit")
            }
        }
        // At least the 18 gated runs hit the window in which an update used
        // to be lost; the rest fall where the machine's timing puts them.
        #expect((moments[.whileRestoreDecided] ?? 0) >= runs / 3, "\(moments)")
        #expect(moments.values.reduce(0, +) == runs)
    }

    @Test("a live botmux-style holder of the exclusive-create lock makes restore wait, then exit 75 with nothing written")
    func liveExclusiveHolder() throws {
        let dir = try TemporaryDirectory()
        let server = TmuxServer(label: "holder")
        let (text, _) = store(socket: server.socketName)
        let path = try dir.write("store.json", text)
        let holder = try dir.write("holder.py", Self.holder)
        let ready = dir.file("ready")
        let child = Spawner().launch(WorkerCommand(Self.python, arguments: [holder, path + ".lock", ready], newSession: false))
        guard case .launched(let pid) = child else { Issue.record("the holder did not start"); return }
        defer { kill(pid, SIGKILL) }
        try #require(waitForFile(ready, milliseconds: 60_000))
        let lockBytes = try readFile(path + ".lock")

        let o = VigilBinary.run(["restore", "--store", path, "--lock", "exclusive-create", "--lock-timeout-ms", "300", "--quiet"])
        #expect(o.termination == .exited(75))
        let lines = o.stderr.text.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("Error: store \(path): locked by pid \(pid) (running") == true, "\(o.stderr.text)")
        #expect(try readText(path) == text, "nothing written")
        #expect(try readFile(path + ".lock") == lockBytes, "the holder's lock untouched")
        #expect(folderNames(dir.path).filter { !["holder.py", "ready"].contains($0) } == ["store.json", "store.json.lock"])
    }

    @Test("a botmux lock whose holder died is broken after a second, with a notice, and nothing is left behind")
    func staleExclusiveLock() throws {
        let dir = try TemporaryDirectory()
        let server = TmuxServer(label: "stale")
        let (text, _) = store(socket: server.socketName)
        let path = try dir.write("store.json", text)
        // A holder that locked and died: its pid no longer exists.
        let gone = Spawner().runSynchronously(Command("/bin/sh", arguments: ["-c", "echo $$"]))
        let pid = Int32(gone.stdout.text.split(separator: "\n").first ?? "") ?? 0
        let boot = try readText("/proc/sys/kernel/random/boot_id").split(separator: "\n")[0].lowercased()
        try writeFile(path + ".lock", "{\"pid\":\(pid),\"procStart\":\"1\",\"bootId\":\"\(boot)\"}", mode: 0o600)
        var old = timespec()
        clock_gettime(CLOCK_REALTIME, &old)
        #expect(utimes(path + ".lock", [timeval(tv_sec: old.tv_sec - 10, tv_usec: 0), timeval(tv_sec: old.tv_sec - 10, tv_usec: 0)]) == 0)

        let o = VigilBinary.run(["restore", "--store", path, "--lock", "exclusive-create", "--lock-timeout-ms", "5000", "--quiet"])
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        #expect(o.stderr.text.contains("removed stale lock \(path).lock: pid \(pid) is not running"), "\(o.stderr.text)")
        #expect(folderNames(dir.path) == ["store.json"], "no lock, claim or owner file left")
        #expect(try StoreFile(path: path).load().records.allSatisfy { $0.status == .closed })
    }
}

/// `i` in hexadecimal, zero-padded to 8 digits.
func hex8(_ i: Int) -> String {
    let hex = String(i, radix: 16)
    return String(repeating: "0", count: max(0, 8 - hex.count)) + hex
}
