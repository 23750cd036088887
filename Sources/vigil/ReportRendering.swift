// The report of `vigil restore` (and `restore --botmux`, `demo`): the JSON
// document, the table of every record, and the summary.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilCore
import VigilJSON
import VigilRestore

/// The report as JSON and as a table.
enum ReportRendering {
    /// Records listed per action in the summary.
    static let summaryRows = 5

    /// The report as one JSON document, the whole table (`verbose`), or the summary.
    static func write(_ report: RestoreReport, json: Bool, verbose: Bool = true, fullReport: String? = nil, to out: inout OutputStream) {
        if json {
            out.bytes(self.json(report).serialized())
            out.line()
        } else if verbose {
            for line in text(report) { out.line(line) }
        } else {
            for line in summary(report, fullReport: fullReport) { out.line(line) }
        }
    }

    /// Writes the JSON report to `path`: created 0600 (an existing file is
    /// truncated), never through a symbolic link.
    /// - Returns: `nil`, or what went wrong.
    static func writeFile(_ report: RestoreReport, to path: String) -> String? {
        writeFile(json(report), to: path)
    }

    /// Writes a JSON document to `path`, as `writeFile(_:to:)` does.
    static func writeFile(_ document: JSONValue, to path: String) -> String? {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0o600)
        guard fd >= 0 else { return "\(Errno(rawValue: errno))" }
        var file = OutputStream(fd: fd)
        file.bytes(document.serialized())
        file.line()
        let written = file.flush()
        let problem = written ? nil : file.failure.map { "\($0)" } ?? "write failed"
        close(fd)
        return problem
    }

    static func json(_ report: RestoreReport) -> JSONValue {
        var sessions: [JSONValue] = []
        sessions.reserveCapacity(report.sessions.count)
        for s in report.sessions {
            let obj: JSONObject = [
                "id": .string(s.id), "backend": .string(s.backend), "backendSession": .string(s.backendSession),
                "probe": s.probe.map { .string($0.rawValue) } ?? .null, "action": .string(s.action.rawValue),
                "reason": .string(s.reason), "workerPid": s.workerPID.map { .integer(Int($0)) } ?? .null,
            ]
            sessions.append(.object(obj))
        }
        let totals = report.totals
        var totalsObject = JSONObject()
        for a in RestoreAction.allCases { totalsObject.append(a.rawValue, .integer(totals[a] ?? 0)) }
        let doc: JSONObject = [
            "schema": .integer(1), "sessions": .array(sessions), "totals": .object(totalsObject),
            "elapsedMs": .integer(Int(report.elapsed.milliseconds)), "dryRun": .bool(report.dryRun),
            "listingCalls": .integer(report.listingCalls), "listingUsage": usageJSON(report.listingUsage),
        ]
        return .object(doc)
    }

    static func text(_ report: RestoreReport) -> [String] {
        var rows: [[String]] = [["ID", "BACKEND", "SESSION", "PROBE", "ACTION", "WORKER", "REASON"]]
        for s in report.sessions {
            // Ids, names and reasons may come from the store: no control characters reach the terminal.
            rows.append([s.id, s.backend, s.backendSession, s.probe?.rawValue ?? "-", s.action.rawValue,
                         s.workerPID.map(String.init) ?? "-", s.reason].map(\.escapingControlCharacters))
        }
        var lines = table(rows)
        lines.append("")
        lines.append(totalsLine(report))
        return lines
    }

    /// Totals, then the first few records of each action with their reasons,
    /// then where the rest is: a few dozen lines whatever the store's size.
    static func summary(_ report: RestoreReport, fullReport: String?) -> [String] {
        var lines = [totalsLine(report)]
        var shown: [RestoreAction: [SessionOutcome]] = [:]
        var counts: [RestoreAction: Int] = [:]
        for s in report.sessions {
            counts[s.action, default: 0] += 1
            if shown[s.action, default: []].count < summaryRows { shown[s.action, default: []].append(s) }
        }
        for action in [RestoreAction.close, .kill, .keep, .fork, .skip] {
            guard let count = counts[action], count > 0 else { continue }
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

    static func totalsLine(_ report: RestoreReport) -> String {
        let t = report.totals
        let summary = RestoreAction.allCases.map { "\($0.rawValue) \(t[$0] ?? 0)" }.joined(separator: ", ")
        return "\(report.sessions.count) records: \(summary); \(report.elapsed.milliseconds) ms\(report.dryRun ? " (dry run: nothing changed)" : "")"
    }
}
