// The report as `vigil restore` rendered it before issue 11 made it stream:
// one JSON tree per record, the document serialized at once, the table
// built as an array of lines. Kept here, verbatim apart from its names, as
// the reference the streamed report must equal byte for byte
// (ReportStreamingTests); nothing in Sources uses it.

import VigilBotmux
import VigilCore
import VigilJSON
import VigilRestore
import VigilStore

enum ReportReference {
    static let summaryRows = 5

    /// The bytes `--json` and `--report` wrote: the document and a newline.
    static func jsonBytes(_ report: RestoreReport) -> [UInt8] { json(report).serialized() + [UInt8(ascii: "\n")] }

    /// The bytes `restore --botmux --json` wrote.
    static func jsonBytes(_ report: BotmuxReport) -> [UInt8] { json(report).serialized() + [UInt8(ascii: "\n")] }

    /// Lines as `OutputStream.line` wrote them.
    static func bytes(_ lines: [String]) -> [UInt8] { Array(lines.map { $0 + "\n" }.joined().utf8) }

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

    // MARK: - restore --botmux (BotmuxCommand)

    static func json(_ report: BotmuxReport) -> JSONValue {
        guard case .object(var doc) = ReportReference.json(report.restoreReport),
              case .array(var sessions)? = doc["sessions"] else { return .null }
        for (index, line) in report.sessions.enumerated() {
            guard case .object(var session) = sessions[index] else { continue }
            session.append("bot", line.bot.map { .string($0) } ?? .null)
            session.append("store", .string(line.store))
            sessions[index] = .object(session)
        }
        doc["sessions"] = .array(sessions)
        doc.append("dataDirectory", .object([
            "path": .string(report.dataDirectory.path), "source": .string(report.dataDirectory.source.rawValue),
        ]))
        doc.append("botsConfig", report.botsConfiguration.map { .string($0) } ?? .null)
        doc.append("bots", .array(report.bots.map { bot in
            var totals = JSONObject()
            for action in RestoreAction.allCases { totals.append(action.rawValue, .integer(bot.totals[action] ?? 0)) }
            return .object([
                "bot": bot.bot.map { .string($0) } ?? .null,
                "expectedCli": bot.expectedCLI.map { .string($0) } ?? .null,
                "stores": .array(bot.stores.map { .string($0) }),
                "liveDaemon": bot.liveDaemon.map { .string($0) } ?? .null,
                "totals": .object(totals),
            ])
        }))
        doc.append("notices", .array(report.notices.map { .string($0) }))
        doc.append("failures", .array(report.failures.map { .string($0.description) }))
        return .object(doc)
    }

    /// Per bot: its CLI, totals and live daemon; one line each.
    static func botLines(_ report: BotmuxReport) -> [String] {
        report.bots.map { bot in
            let count = bot.totals.values.reduce(0, +)
            var line = "bot \(bot.bot ?? "(none: legacy records without larkAppId)")"
            line += bot.expectedCLI.map { " (cli \($0))" } ?? " (not in bots.json: no CLI check)"
            line += ": \(count) records: " + RestoreAction.allCases.map { "\($0.rawValue) \(bot.totals[$0] ?? 0)" }.joined(separator: ", ")
            if let live = bot.liveDaemon { line += "; daemon live (\(live))" }
            return line.escapingControlCharacters
        }
    }

    /// `verbose`: the table of every record (with its bot), the lines per
    /// bot and the totals. Otherwise restore's summary (totals, the first
    /// records of each action) after the lines per bot.
    static func text(_ report: BotmuxReport, verbose: Bool, fullReport: String?) -> [String] {
        let source = "\(report.dataDirectory.path) (\(report.dataDirectory.source.rawValue))".escapingControlCharacters
        guard verbose else {
            return ["botmux data directory \(source)"] + botLines(report) + [""]
                + ReportReference.summary(report.restoreReport, fullReport: fullReport)
        }
        var rows: [[String]] = [["BOT", "ID", "BACKEND", "SESSION", "PROBE", "ACTION", "REASON"]]
        for line in report.sessions {
            let s = line.outcome
            rows.append([line.bot ?? "-", s.id, s.backend, s.backendSession, s.probe?.rawValue ?? "-", s.action.rawValue, s.reason]
                .map(\.escapingControlCharacters))
        }
        var lines = table(rows)
        lines.append("")
        lines += botLines(report)
        lines.append("botmux data directory \(source): " + ReportReference.totalsLine(report.restoreReport))
        return lines
    }

    // MARK: - Output.swift

    static func table(_ rows: [[String]]) -> [String] {
        guard let width = rows.first?.count else { return [] }
        var widths = [Int](repeating: 0, count: width)
        for row in rows { for (i, cell) in row.enumerated() where i < width - 1 { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            var line = ""
            for (i, cell) in row.enumerated() {
                line += cell
                if i < width - 1 { line += String(repeating: " ", count: widths[i] - cell.count + 2) }
            }
            return line
        }
    }

    static func usageJSON(_ usage: ChildrenUsage) -> JSONValue {
        func us(_ d: Duration) -> JSONValue {
            let c = d.components
            return .integer(Int(c.seconds) * 1_000_000 + Int(c.attoseconds / 1_000_000_000_000))
        }
        let obj: JSONObject = [
            "children": .integer(usage.children), "unmeasured": .integer(usage.unmeasured),
            "userUs": us(usage.userTime), "systemUs": us(usage.systemTime), "cpuUs": us(usage.cpuTime),
            "voluntarySwitches": .integer(usage.voluntaryContextSwitches),
            "involuntarySwitches": .integer(usage.involuntaryContextSwitches),
            "peakRss": .string(usage.peakMemory.kind),
            "peakRssBytes": usage.peakMemory.upperBound.map { .integer($0) } ?? .null,
        ]
        return .object(obj)
    }
}
