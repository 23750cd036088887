#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import Testing
import VigilBotmux
import VigilCore
import VigilJSON
import VigilRestore
import VigilStore
import VigilTestSupport
@testable import vigil

/// The report is written as it is produced (issue 11): `--json`, `--report`
/// and `--verbose` go record by record through the output's 64 KiB buffer
/// instead of a JSON tree and an array of lines. These tests hold the
/// streamed bytes against the renderer it replaced (ReportReference.swift,
/// kept verbatim) on reports with thousands of records, every action and
/// probe, ids and reasons that need escapes, and every option, written to
/// real files; and check the report file's replacement and the exit 74 of a
/// report cut off half way, by running the built binary.
@Suite("the report, streamed", .timeLimit(.minutes(3)))
struct ReportStreamingTests {
    // MARK: - The same bytes as the tree-built report

    @Test("--json and --report: the streamed document is the tree-built one, byte for byte",
          arguments: [0, 1, 2, 37, 6000])
    func jsonSameBytes(records: Int) throws {
        for (index, variant) in Variant.all.enumerated() {
            let report = sampleReport(records: records, seed: UInt64(records * 10 + index), variant)
            let expected = ReportReference.jsonBytes(report)
            let streamed = try rendered { ReportRendering.write(report, json: true, verbose: variant.dryRun, to: &$0) }
            #expect(streamed == expected, "\(records) records, \(variant): \(firstDifference(streamed, expected))")
            let file = try reportFile { ReportRendering.writeFile(report, to: $0) }
            #expect(file == expected, "\(records) records, \(variant), --report: \(firstDifference(file, expected))")
        }
        if records == 6000 {
            // The case that matters: many flushes of the 64 KiB buffer.
            let big = ReportReference.jsonBytes(sampleReport(records: records, seed: 1, Variant.all[0]))
            #expect(big.count > 8 * OutputStream.flushThreshold, "\(big.count) bytes")
        }
    }

    @Test("--verbose: the streamed table is the one built as lines, and so is the summary",
          arguments: [0, 1, 2, 37, 6000])
    func textSameBytes(records: Int) throws {
        for (index, variant) in Variant.all.enumerated() {
            let report = sampleReport(records: records, seed: UInt64(records * 10 + index), variant)
            let table = try rendered { ReportRendering.write(report, json: false, verbose: true, to: &$0) }
            #expect(table == ReportReference.bytes(ReportReference.text(report)),
                    "\(records) records, \(variant): \(firstDifference(table, ReportReference.bytes(ReportReference.text(report))))")
            for fullReport in [nil, "/var/tmp/the report.json"] {
                let summary = try rendered {
                    ReportRendering.write(report, json: false, verbose: false, fullReport: fullReport, to: &$0)
                }
                let expected = ReportReference.bytes(ReportReference.summary(report, fullReport: fullReport))
                #expect(summary == expected, "\(records) records, \(variant): \(firstDifference(summary, expected))")
            }
        }
    }

    @Test("restore --botmux: the streamed --json, --verbose and summary are the tree-built ones",
          arguments: [0, 1, 37, 3000])
    func botmuxSameBytes(records: Int) throws {
        for (index, variant) in Variant.all.enumerated() {
            let report = sampleBotmuxReport(records: records, seed: UInt64(records * 10 + index), variant)
            let json = try rendered { BotmuxCommand.writeJSON(report, to: &$0) }
            #expect(json == ReportReference.jsonBytes(report),
                    "\(records) records, \(variant): \(firstDifference(json, ReportReference.jsonBytes(report)))")
            let file = try reportFile { path in ReportRendering.writeFile(to: path) { BotmuxCommand.writeJSON(report, to: &$0) } }
            #expect(file == ReportReference.jsonBytes(report))
            for verbose in [true, false] {
                for fullReport in [nil, "r.json"] {
                    let text = try rendered { BotmuxCommand.writeText(report, verbose: verbose, fullReport: fullReport, to: &$0) }
                    let expected = ReportReference.bytes(ReportReference.text(report, verbose: verbose, fullReport: fullReport))
                    #expect(text == expected, "\(records) records, \(variant), verbose \(verbose): \(firstDifference(text, expected))")
                }
            }
        }
    }

    @Test("a table of wide, combining and escaped cells is padded as before, streamed or not")
    func tablePadding() throws {
        let cells = ["", "a", "é", "e\u{301}", "👩‍💻", "🇫🇷x", "中文", "\\x01", "tab\\x09", "plain-ascii-longer", "a\r\nb"]
        var rows: [[String]] = [["H1", "H2", "H3"]]
        for (i, cell) in cells.enumerated() { rows.append([cell, cells[(i + 3) % cells.count], cell + "!"]) }
        let streamed = try rendered { $0.table(rows) }
        #expect(streamed == ReportReference.bytes(ReportReference.table(rows)))
        #expect(table(rows) == ReportReference.table(rows))
        let none = try rendered { $0.table([[String]]()) }
        #expect(none.isEmpty)
    }

    @Test("the output buffer stays near 64 KiB while a report of many megabytes goes through it")
    func bufferStaysBounded() throws {
        let report = sampleReport(records: 20_000, seed: 7, Variant.all[0])
        let dir = try TemporaryDirectory()
        let path = dir.file("out.json")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        #expect(fd >= 0)
        var out = OutputStream(fd: fd)
        ReportRendering.writeJSON(report, to: &out)
        let heldBeforeFlush = out.buffer.count
        let capacity = out.buffer.capacity
        let flushed = out.flush()
        close(fd)
        #expect(flushed)
        let size = fileStatus(path).map { Int($0.st_size) } ?? 0
        #expect(size > 32 * OutputStream.flushThreshold, "\(size) bytes written")
        #expect(heldBeforeFlush <= OutputStream.flushThreshold + 4096)
        // A buffer that held the document would be at least its size.
        #expect(capacity <= 4 * OutputStream.flushThreshold, "capacity \(capacity) for a \(size)-byte document")
    }

    // MARK: - The report file

    @Test("--report PATH: a new file, 0600, the report's bytes, nothing else left in the folder")
    func reportFileCreated() throws {
        let dir = try TemporaryDirectory()
        let report = sampleReport(records: 500, seed: 3, Variant.all[1])
        let path = dir.file("report.json")
        #expect(ReportRendering.writeFile(report, to: path) == nil)
        #expect(try readFile(path) == ReportReference.jsonBytes(report))
        #expect(permissions(path) == 0o600)
        #expect(folderNames(dir.path) == ["report.json"])
    }

    @Test("--report PATH over a regular file: replaced whole by a new file (0600), another hard link keeps the old one")
    func reportFileReplaced() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("report.json", "previous report\n", mode: 0o644)
        #expect(link(path, dir.file("kept.json")) == 0)
        let before = try #require(fileStatus(path))
        let report = sampleReport(records: 500, seed: 4, Variant.all[2])
        #expect(ReportRendering.writeFile(report, to: path) == nil)
        #expect(try readFile(path) == ReportReference.jsonBytes(report))
        #expect(permissions(path) == 0o600)
        #expect(fileStatus(path)?.st_ino != before.st_ino, "renamed over, not rewritten in place")
        #expect(try readText(dir.file("kept.json")) == "previous report\n")
        #expect(folderNames(dir.path).sorted() == ["kept.json", "report.json"])
    }

    @Test("--report PATH that is a symbolic link: refused (ELOOP), the link and its target untouched, nothing left")
    func reportFileSymlink() throws {
        let dir = try TemporaryDirectory()
        let target = try dir.write("target", "mine\n")
        #expect(symlink(target, dir.file("report.json")) == 0)
        let problem = ReportRendering.writeFile(sampleReport(records: 3, seed: 5, Variant.all[0]), to: dir.file("report.json"))
        #expect(problem?.contains("ELOOP") == true, "\(problem ?? "nil")")
        #expect(isSymbolicLink(dir.file("report.json")))
        #expect(try readText(target) == "mine\n")
        #expect(folderNames(dir.path).sorted() == ["report.json", "target"])
    }

    @Test("--report PATH that is a FIFO is written in place, as a stream, and stays a FIFO")
    func reportFileFIFO() throws {
        let dir = try TemporaryDirectory()
        let fifo = dir.file("report.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let done = Mutex(false)
        runInBackground(shell("cat '\(fifo)' > '\(dir.file("received"))'", timeout: .seconds(60))) { _ in
            done.withLock { $0 = true }
        }
        let report = sampleReport(records: 3000, seed: 6, Variant.all[3])
        #expect(ReportRendering.writeFile(report, to: fifo) == nil)
        #expect(waitUntil(milliseconds: 30_000) { done.withLock { $0 } })
        #expect(try readFile(dir.file("received")) == ReportReference.jsonBytes(report))
        #expect(fileStatus(fifo).map { $0.st_mode & S_IFMT } == S_IFIFO)
        #expect(folderNames(dir.path).sorted() == ["received", "report.fifo"])
    }

    @Test("--report /dev/full: ENOSPC, and /dev/full is still the device")
    func reportFileDevFull() throws {
        let problem = ReportRendering.writeFile(sampleReport(records: 2000, seed: 8, Variant.all[0]), to: "/dev/full")
        #expect(problem?.contains("ENOSPC") == true, "\(problem ?? "nil")")
        #expect(fileStatus("/dev/full").map { $0.st_mode & S_IFMT } == S_IFCHR)
    }

    @Test("a report file cut off half way (file size limit): exit 74, PATH as it was, no temporary file left",
          arguments: [true, false])
    func reportFileCutOff(existed: Bool) async throws {
        let dir = try TemporaryDirectory()
        let store = try dir.write("store.json", storeText(records: 3000))
        let path = dir.file("report.json")
        if existed { _ = try dir.write("report.json", "previous report\n") }
        // 256 KiB for any file vigil writes: the report (about 600 KB) crosses it.
        // A dry run writes nothing else; SIGXFSZ ignored makes the write fail with EFBIG.
        let command = Command("/usr/bin/python3", arguments: [
            "-c", """
            import os, resource, signal, sys
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (262144, 262144))
            os.execv(sys.argv[1], sys.argv[1:])
            """, VigilBinary.path, "restore", "--store", store, "--dry-run", "--report", path,
        ], timeout: .seconds(120), stdoutLimit: 1 << 20, stderrLimit: 1 << 20)
        let o = await Spawner().run(command)
        #expect(o.termination == .exited(74), "\(o.termination) \(o.stderr.text)")
        let lines = o.stderr.text.split(separator: "\n")
        #expect(lines.count == 1, "\(o.stderr.text)")
        #expect(lines.first?.hasPrefix("Error: cannot write the report to \(path): \(Errno(rawValue: EFBIG))") == true, "\(o.stderr.text)")
        #expect(o.stderr.text.contains("dry run: the store was not changed"))
        #expect(o.stdout.text.isEmpty, "nothing printed after the report failed")
        if existed {
            #expect(try readText(path) == "previous report\n")
            #expect(folderNames(dir.path).sorted() == ["report.json", "store.json"])
        } else {
            #expect(folderNames(dir.path) == ["store.json"])
        }
    }

    @Test("vigil restore --json --report PATH: stdout and the file carry the same bytes, every record")
    func stdoutAndFileAgree() async throws {
        let dir = try TemporaryDirectory()
        let store = try dir.write("store.json", storeText(records: 5000))
        let path = dir.file("report.json")
        let o = await VigilBinary.runAsync(["restore", "--store", store, "--dry-run", "--json", "--report", path], timeout: .seconds(120))
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        #expect(o.stdout.bytes == (try readFile(path)))
        #expect(o.stdout.bytes.last == UInt8(ascii: "\n"))
        let doc = try JSONValue.parse(o.stdout.text)
        #expect(doc["sessions"]?.arrayValue?.count == 5000)
        #expect(doc["totals"]?["close"] == .integer(5000))
        #expect(permissions(path) == 0o600)
    }

    // MARK: - Samples

    /// The options a report can carry that change its rendering.
    struct Variant: CustomStringConvertible {
        var dryRun: Bool
        var lockHeld: Duration?
        var usage: ChildrenUsage
        var elapsed: Duration

        static let all: [Variant] = [
            Variant(dryRun: false, lockHeld: .milliseconds(12), usage: .none, elapsed: .milliseconds(1234)),
            Variant(dryRun: true, lockHeld: nil, usage: ChildrenUsage(
                children: 3, unmeasured: 1, userTime: .microseconds(1500), systemTime: .nanoseconds(2_500_999),
                voluntaryContextSwitches: 7, involuntaryContextSwitches: 2, peakMemory: .exact(bytes: 3_145_728)),
                    elapsed: .zero),
            Variant(dryRun: false, lockHeld: nil, usage: ChildrenUsage(children: 1, peakMemory: .atMost(bytes: 123_456_789)),
                    elapsed: .seconds(3601) + .microseconds(999)),
            Variant(dryRun: true, lockHeld: .seconds(2), usage: ChildrenUsage(children: 2, peakMemory: .unavailable),
                    elapsed: .milliseconds(5)),
        ]

        var description: String { "dryRun \(dryRun), lockHeld \(lockHeld.map { "\($0)" } ?? "nil"), \(usage.peakMemory.kind)" }
    }

    /// Text for ids, names and reasons: plain, shared, and every kind the
    /// JSON escaper and the table's control escapes treat apart.
    static let texts = [
        "plain", "", "quote\"and\\backslash", "newline\nreturn\rtab\t", "ctl\u{0}\u{1}\u{8}\u{C}\u{1F}",
        "del\u{7F} c1\u{85}\u{9F}", "é-ünïcødé", "e\u{301}-combining", "emoji 👩‍💻🧪 🇫🇷", "中文会话",
        "slash/</script>", "line\u{2028}sep\u{2029}", "a\r\nb", "long " + String(repeating: "x", count: 300),
    ]

    /// Reasons most records share (the restorer's reasons are a few strings).
    static let sharedReasons = [
        "not listed by tmux list-sessions (-L vigil-none)", "lazy: live session kept registered without a worker",
        "closed record: nothing to probe", "unknown: tmux list-sessions timed out after 3000 ms (kept)",
    ]

    func sampleReport(records: Int, seed: UInt64, _ variant: Variant) -> RestoreReport {
        var random = SplitMix(seed: seed)
        var sessions: [SessionOutcome] = []
        for i in 0..<records {
            let action = RestoreAction.allCases[random.below(RestoreAction.allCases.count)]
            let probe: SessionState? = action == .skip && random.below(2) == 0 ? nil : SessionState.allCases[random.below(3)]
            let id = random.below(3) == 0 ? Self.texts[random.below(Self.texts.count)] + "-\(i)" : "s\(1_000_000 + i)"
            let name = random.below(4) == 0 ? Self.texts[random.below(Self.texts.count)] : "bmx-\(i)"
            let reason = random.below(3) == 0 ? Self.texts[random.below(Self.texts.count)] : Self.sharedReasons[random.below(Self.sharedReasons.count)]
            let pids: [Int32?] = [nil, nil, 0, 1, 4242, Int32.max]
            let pid = action == .fork ? pids[random.below(pids.count)] : nil
            let backend = ["tmux", "zellij", "herdr", "pty", Self.texts[random.below(Self.texts.count)]][random.below(5)]
            sessions.append(SessionOutcome(id: id, backend: backend, backendSession: name, probe: probe,
                                           action: action, reason: reason, workerPID: pid))
        }
        var report = RestoreReport(sessions: sessions, elapsed: variant.elapsed, dryRun: variant.dryRun,
                                   listingCalls: records == 0 ? 0 : 1 + random.below(4), listingUsage: variant.usage)
        report.lockHeld = variant.lockHeld
        return report
    }

    func sampleBotmuxReport(records: Int, seed: UInt64, _ variant: Variant) -> BotmuxReport {
        let base = sampleReport(records: records, seed: seed, variant)
        var random = SplitMix(seed: seed ^ 0xB07)
        let bots: [String?] = ["cli_a1b2", nil, "cli_\u{1}odd\"bot", "cli_é"]
        let lines = base.sessions.map { outcome -> BotmuxSessionOutcome in
            let bot = bots[random.below(bots.count)]
            return BotmuxSessionOutcome(bot: bot, store: bot.map { "sessions-\($0).json" } ?? "sessions.json", outcome: outcome)
        }
        let summaries = bots.enumerated().map { index, bot in
            BotmuxBotSummary(bot: bot, expectedCLI: index == 1 ? nil : "claude-code",
                             stores: index == 0 ? ["sessions.json", "sessions-\(bot!).json"] : [bot.map { "sessions-\($0).json" } ?? "sessions.json"],
                             liveDaemon: index == 2 ? "heartbeat 3.2 s ago, pid 4711" : nil,
                             totals: Dictionary(uniqueKeysWithValues: RestoreAction.allCases.map { ($0, random.below(9)) }))
        }
        let sources: [BotmuxDataDirectorySource] = [.argument, .environment, .breadcrumb, .fallback]
        var report = BotmuxReport(
            dataDirectory: BotmuxDataDirectory(path: "/srv/botmux/da\tta \"dir\"", source: sources[Int(seed % 4)]),
            botsConfiguration: seed % 2 == 0 ? nil : "/root/.botmux/bots.json",
            sessions: lines, bots: records == 0 ? [] : summaries, elapsed: variant.elapsed, dryRun: variant.dryRun,
            listingCalls: base.listingCalls, notices: seed % 3 == 0 ? [] : ["no bots configuration at /x: no CLI checks", "notice \"two\"\n"])
        if seed % 2 == 1 {
            report.failures = [
                StoreError(.locked, path: "/srv/botmux/data/sessions-cli_a1b2.json", message: "locked by pid 99"),
                StoreError(.cannotWrite, path: "/srv/botmux/data/sessions.json", message: "cannot write: ENOSPC", underlyingErrno: ENOSPC),
            ]
        }
        return report
    }

    /// A store of `records` active tmux records on a server nobody runs
    /// (every one decided `close`).
    func storeText(records: Int) -> String {
        var text = "{\"version\": 1, \"sessions\": [\n"
        for i in 0..<records {
            text += "{\"id\": \"rec-\(i)\", \"backend\": \"tmux\", \"status\": \"active\", \"socket\": \"vigil-stream-none-\(getpid())\"}"
            text += i == records - 1 ? "\n" : ",\n"
        }
        return text + "]}\n"
    }
}

// MARK: - Helpers

/// What `body` writes through an `OutputStream` on a real file.
private func rendered(_ body: (inout OutputStream) -> Void) throws -> [UInt8] {
    let dir = try TemporaryDirectory()
    let path = dir.file("out")
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw TestFailure("cannot create \(path)") }
    var out = OutputStream(fd: fd)
    body(&out)
    let flushed = out.flush()
    close(fd)
    guard flushed else { throw TestFailure("cannot write \(path)") }
    return try readFile(path)
}

/// What a report-file writer (`ReportRendering.writeFile`) leaves at a new path.
private func reportFile(_ write: (String) -> String?) throws -> [UInt8] {
    let dir = try TemporaryDirectory()
    let path = dir.file("report.json")
    if let problem = write(path) { throw TestFailure("report file: \(problem)") }
    return try readFile(path)
}

/// Where two byte strings first differ, with some context, for messages.
private func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> String {
    guard let index = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset ?? (a.count == b.count ? nil : min(a.count, b.count)) else {
        return "equal"
    }
    let from = max(0, index - 60)
    return "at byte \(index) of \(a.count)/\(b.count): streamed …\(String(decoding: a[from..<min(a.count, index + 60)], as: UTF8.self))… reference …\(String(decoding: b[from..<min(b.count, index + 60)], as: UTF8.self))…"
}
