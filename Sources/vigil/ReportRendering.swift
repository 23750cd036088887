// The report of `vigil restore` (and `restore --botmux`, `demo`): the JSON
// document, the table of every record, and the summary.
//
// A 100,000-record report is 20 MB of JSON or 13 MB of table. Neither is
// built in memory: both are written record by record into the output's
// 64 KiB buffer, which is flushed to the descriptor as it fills (issue 11).
// No record becomes a JSON tree or a line of its own; the strings written
// are the report's own (a reason shared by many records stays one string).
// The bytes are those of the tree-building renderer this replaced, for
// every option; Tests/VigilCLITests/ReportReference.swift keeps that
// renderer and the tests compare the two.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilCore
import VigilJSON
import VigilRestore
import VigilSystem

/// What a report says besides its records: the same for `restore` and
/// `restore --botmux`.
struct ReportFigures {
    /// Records in the report.
    var records: Int
    /// Records per action, every action present.
    var totals: [RestoreAction: Int]
    /// Wall time of the run.
    var elapsed: Duration
    /// True when nothing was changed (`--dry-run`).
    var dryRun: Bool
    /// Listing calls made.
    var listingCalls: Int
    /// What the listing calls' children used.
    var listingUsage: ChildrenUsage

    /// The figures of a restore's report.
    init(_ report: RestoreReport) {
        self.init(records: report.lines.count, totals: report.totals, elapsed: report.elapsed,
                  dryRun: report.dryRun, listingCalls: report.listingCalls, listingUsage: report.listingUsage)
    }

    /// Figures given one by one.
    init(records: Int, totals: [RestoreAction: Int], elapsed: Duration, dryRun: Bool, listingCalls: Int, listingUsage: ChildrenUsage) {
        self.records = records
        self.totals = totals
        self.elapsed = elapsed
        self.dryRun = dryRun
        self.listingCalls = listingCalls
        self.listingUsage = listingUsage
    }
}

/// The report as JSON and as a table.
enum ReportRendering {
    /// Records listed per action in the summary.
    static let summaryRows = 5

    /// The report as one JSON document, the whole table (`verbose`), or the
    /// summary, written to `out` as it is produced.
    static func write(_ report: RestoreReport, json: Bool, verbose: Bool = true, fullReport: String? = nil, to out: inout OutputStream) {
        if json {
            writeJSON(report, to: &out)
        } else if verbose {
            writeTable(report, to: &out)
        } else {
            for line in summary(report.lines, ReportFigures(report), fullReport: fullReport) { out.line(line) }
        }
    }

    // MARK: - JSON (schema 1)

    /// The whole report as one compact JSON document and a newline:
    /// `{"schema":1,"sessions":[{"id","backend","backendSession","probe",
    /// "action","reason","workerPid"}...],"totals":{...},"elapsedMs",
    /// "dryRun","listingCalls","listingUsage"}`.
    static func writeJSON(_ report: RestoreReport, to out: inout OutputStream) {
        out.raw(#"{"schema":1,"sessions":["#)
        for (index, session) in report.lines.enumerated() {
            if out.failed { break }
            if index > 0 { out.raw(",") }
            out.raw("{")
            writeSessionMembers(session, to: &out)
            out.raw("}")
            out.flushIfFull()
        }
        out.raw("],")
        writeFigureMembers(ReportFigures(report), to: &out)
        out.raw("}\n")
    }

    /// One record's members, without the braces (`restore --botmux` adds its own).
    static func writeSessionMembers(_ s: SessionOutcome, to out: inout OutputStream) {
        out.raw(#""id":"#)
        out.jsonString(s.id)
        out.raw(#","backend":"#)
        out.jsonString(s.backend)
        out.raw(#","backendSession":"#)
        out.jsonString(s.backendSession)
        out.raw(#","probe":"#)
        out.jsonString(s.probe?.rawValue)
        out.raw(#","action":"#)
        out.jsonString(s.action.rawValue)
        out.raw(#","reason":"#)
        out.jsonString(s.reason)
        out.raw(#","workerPid":"#)
        out.jsonInteger(s.workerPID.map { Int($0) })
    }

    /// `"totals":{...},"elapsedMs":N,"dryRun":B,"listingCalls":N,"listingUsage":{...}`.
    static func writeFigureMembers(_ figures: ReportFigures, to out: inout OutputStream) {
        out.raw(#""totals":{"#)
        for (index, action) in RestoreAction.allCases.enumerated() {
            if index > 0 { out.raw(",") }
            out.jsonString(action.rawValue)
            out.raw(":")
            out.jsonInteger(figures.totals[action] ?? 0)
        }
        out.raw(#"},"elapsedMs":"#)
        out.jsonInteger(Int(figures.elapsed.milliseconds))
        out.raw(#","dryRun":"#)
        out.jsonBool(figures.dryRun)
        out.raw(#","listingCalls":"#)
        out.jsonInteger(figures.listingCalls)
        out.raw(#","listingUsage":"#)
        out.json(usageJSON(figures.listingUsage))
    }

    // MARK: - Text

    /// `--verbose`: every record in a table, a blank line, the totals.
    static func writeTable(_ report: RestoreReport, to out: inout OutputStream) {
        let header = ["ID", "BACKEND", "SESSION", "PROBE", "ACTION", "WORKER", "REASON"]
        let sessions = report.lines
        // Rows are made as the table reads them (twice: to measure, to write).
        out.table((-1..<sessions.count).lazy.map { $0 < 0 ? header : row(sessions[$0]) })
        out.line()
        out.line(totalsLine(ReportFigures(report)))
    }

    /// One record's row of the `--verbose` table.
    static func row(_ s: SessionOutcome) -> [String] {
        // Ids, names and reasons may come from the store: no control characters reach the terminal.
        [s.id, s.backend, s.backendSession, s.probe?.rawValue ?? "-", s.action.rawValue,
         s.workerPID.map(String.init) ?? "-", s.reason].map(\.terminalSafe)
    }

    /// Totals, then the first few records of each action with their reasons,
    /// then where the rest is: a few dozen lines whatever the store's size.
    /// (A line is made only when it is shown: the others are counted by action.)
    static func summary(_ sessions: RestoreLines, _ figures: ReportFigures, fullReport: String?) -> [String] {
        var lines = [totalsLine(figures)]
        var shown: [RestoreAction: [SessionOutcome]] = [:]
        var wanted = figures.totals.values.reduce(0) { $0 + min($1, summaryRows) }
        for index in sessions.indices {
            if wanted == 0 { break }
            let action = sessions.action(at: index)
            guard shown[action, default: []].count < summaryRows else { continue }
            shown[action, default: []].append(sessions[index])
            wanted -= 1
        }
        for action in [RestoreAction.close, .kill, .keep, .fork, .skip] {
            guard let count = figures.totals[action], count > 0 else { continue }
            lines.append("")
            lines.append("\(action) (\(count)):")
            let rows = (shown[action] ?? []).map { s in
                ["  " + s.id, s.backend, s.backendSession, s.reason + (s.workerPID.map { " (worker pid \($0))" } ?? "")]
                    .map(\.escapingControlCharacters)
            }
            lines += table(rows)
            if count > summaryRows { lines.append("  ... and \(count - summaryRows) more") }
        }
        lines.append("")
        if let fullReport {
            lines.append("Full report: \(fullReport) (JSON); every record: --verbose.")
        } else {
            lines.append("Full report: --verbose (every record), --json, or --report PATH.")
        }
        return lines
    }

    /// `N records: fork N, close N, keep N, kill N, skip N; N ms`.
    static func totalsLine(_ figures: ReportFigures) -> String {
        let t = figures.totals
        let summary = RestoreAction.allCases.map { "\($0.rawValue) \(t[$0] ?? 0)" }.joined(separator: ", ")
        return "\(figures.records) records: \(summary); \(figures.elapsed.milliseconds) ms\(figures.dryRun ? " (dry run: nothing changed)" : "")"
    }

    // MARK: - The report file

    /// Writes the JSON report to `path` (see `writeFile(to:_:)`).
    /// - Returns: `nil`, or what went wrong.
    static func writeFile(_ report: RestoreReport, to path: String) -> String? {
        writeFile(to: path) { writeJSON(report, to: &$0) }
    }

    /// Writes what `render` writes to the file `path`, never through a
    /// symbolic link (one there is refused with ELOOP, nothing written).
    ///
    /// A new or regular file is replaced whole: the report goes into a new
    /// temporary file beside it (`.NAME.vigil-report-PID-RANDOM`, created
    /// 0600 with O_EXCL), which is renamed over `path` once every byte is
    /// written. A write that fails removes the temporary file: `path` then
    /// still holds what it held (or nothing), never part of a report. The
    /// file is not fsynced: the report is output, not state (after a power
    /// loss it may be missing; the store is what restore makes durable).
    /// Anything else at `path` (a device such as /dev/null or /dev/full, a
    /// FIFO) is written in place, as a stream.
    /// - Returns: `nil`, or what went wrong (an errno's description).
    static func writeFile(to path: String, _ render: (inout OutputStream) -> Void) -> String? {
        var info = stat()
        if lstat(path, &info) == 0 {
            switch info.st_mode & S_IFMT {
            case S_IFLNK: return "\(Errno(ELOOP))"
            case S_IFREG: break
            default: return writeInPlace(path, render)
            }
        } else if errno != ENOENT {
            return "\(Errno.current)"
        }

        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temporary = folder + "." + name + ".vigil-report-\(getpid())-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let fd: Int32
        switch system_open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY, mode: 0o600) {
        case .success(let descriptor): fd = descriptor
        case .failure(let error): return "\(error)"
        }
        var problem = renderAll(render, into: fd)
        // close can report a deferred write error (NFS).
        if case .failure(let error) = system_close(fd), problem == nil { problem = error }
        if problem == nil, case .failure(let error) = valueOrErrno({ rename(temporary, path) }) { problem = error }
        guard let problem else { return nil }
        unlink(temporary)
        return "\(problem)"
    }

    /// Writes what `render` writes into the existing non-regular file
    /// `path` (a device, a FIFO), opened as before streaming was
    /// introduced: O_TRUNC, O_NOFOLLOW.
    private static func writeInPlace(_ path: String, _ render: (inout OutputStream) -> Void) -> String? {
        let fd: Int32
        switch system_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NOCTTY, mode: 0o600) {
        case .success(let descriptor): fd = descriptor
        case .failure(let error): return "\(error)"
        }
        let problem = renderAll(render, into: fd)
        system_close(fd)
        return problem.map { "\($0)" }
    }

    /// Writes what `render` writes into `fd`, flushed; what went wrong, if anything.
    private static func renderAll(_ render: (inout OutputStream) -> Void, into fd: Int32) -> Errno? {
        var file = OutputStream(fd: fd)
        render(&file)
        return file.flush() ? nil : file.failure ?? Errno(EIO)
    }
}

extension String {
    /// `escapingControlCharacters`, with printable ASCII (nothing to
    /// escape) passed through after a look at its bytes: for the cells of
    /// a 100,000-row table.
    var terminalSafe: String { isPrintableASCII(self) ? self : escapingControlCharacters }
}
