public import VigilCore
import VigilSystem

/// Reading `zellij list-sessions --no-formatting`.
///
/// One line a session: `NAME [Created 2h 5m ago]`, optionally followed by
/// ` (current)` (the caller's own session: running) or ` (EXITED - attach to
/// resurrect)` (serialised, not running). With no session at all zellij
/// prints "No active zellij sessions found." on stderr and exits 1 (0.39 and
/// later; the message is accepted on either stream for older releases).
/// Colour codes are stripped if present. Any line of another shape makes the
/// whole listing `unknown`: a format we do not understand must not read as
/// "not there".
extension ZellijBackend {
    /// The line zellij prints when no session, running or resurrectable, exists.
    static let noSessionsMessage = "No active zellij sessions found."
    static let exitedSuffix = " (EXITED - attach to resurrect)"
    static let currentSuffix = " (current)"
    static let createdMarker = " [Created "

    /// One parsed listing line.
    struct Line: Equatable {
        var name: String
        var running: Bool
    }

    /// Parses one line, or `nil` when it is not of the documented shape.
    static func parseLine(_ line: Substring) -> Line? {
        var rest = line
        var running = true
        if rest.hasSuffix(exitedSuffix) {
            rest = rest.dropLast(exitedSuffix.count)
            running = false
        } else if rest.hasSuffix(currentSuffix) {
            rest = rest.dropLast(currentSuffix.count)
        }
        guard rest.hasSuffix("]") else { return nil }
        // The name may hold spaces; the created stamp is the last bracket.
        guard let marker = lastRange(of: createdMarker, in: rest) else { return nil }
        let stamp = rest[marker.upperBound..<rest.index(before: rest.endIndex)]
        guard !stamp.isEmpty, !stamp.contains("["), !stamp.contains("]") else { return nil }
        let name = rest[rest.startIndex..<marker.lowerBound]
        guard !name.isEmpty else { return nil }
        return Line(name: String(name), running: running)
    }

    private static func lastRange(of needle: String, in text: Substring) -> Range<Substring.Index>? {
        var found: Range<Substring.Index>? = nil
        var searchStart = text.startIndex
        while let r = text[searchStart...].firstRange(of: needle) {
            found = r
            searchStart = text.index(after: r.lowerBound)
        }
        return found
    }

    /// Classifies one `zellij list-sessions --no-formatting` run. Pure.
    ///
    /// - exit 0, every line parsed: running names are live, EXITED ones dormant.
    /// - exit 0 or 1 whose only text (either stream) is "No active zellij
    ///   sessions found.": an authoritative empty listing.
    /// - anything else (other exits, unparsed lines, empty output with exit 0,
    ///   truncated output, signal, timeout, spawn failure): `unknown`.
    ///
    /// - Parameters:
    ///   - outcome: the finished run.
    ///   - program: the executable as configured, for reasons.
    ///   - timeout: the deadline that applied, for the timeout wording.
    public static func classifyListing(_ outcome: Outcome, program: String = "zellij", timeout: Duration? = nil) -> SessionInventory {
        let source = "zellij list-sessions"
        guard case .exited(let code) = outcome.termination, code == 0 || code == 1 else {
            return .unknown(reason: outcome.failureReason(program: program, timeout: timeout))
        }
        if outcome.stdout.truncated || outcome.stderr.truncated {
            return .unknown(reason: "\(source): output longer than the capture limit, the list is incomplete")
        }
        let out = TextLines.nonEmptyLines(TextLines.strippingANSI(outcome.stdout.bytes)).map { $0[...].trimmingSpaces() }
        let err = TextLines.nonEmptyLines(TextLines.strippingANSI(outcome.stderr.bytes)).map { $0[...].trimmingSpaces() }
        let all = (out + err).filter { !$0.isEmpty }
        if !all.isEmpty && all.allSatisfy({ $0 == noSessionsMessage }) {
            return .known(live: [], dormant: [:], source: "\(source) (\(noSessionsMessage))")
        }
        guard code == 0 else {
            return .unknown(reason: outcome.failureReason(program: program, timeout: timeout))
        }
        let rows = TextLines.nonEmptyLines(TextLines.strippingANSI(outcome.stdout.bytes))
        guard !rows.isEmpty else {
            return .unknown(reason: "\(source) exit 0 printed no sessions and no \"\(noSessionsMessage)\"")
        }
        var live = Set<String>()
        var dormant: [String: String] = [:]
        for row in rows {
            guard let line = parseLine(row[...].trimmingSpaces()) else {
                return .unknown(reason: "\(source): unrecognised line \(String(row.prefix(200)).debugDescription)")
            }
            if line.running { live.insert(line.name) } else { dormant[line.name] = "EXITED (can be resurrected)" }
        }
        // A name both running and exited cannot happen; if it did, running wins (never destroy).
        for name in live { dormant[name] = nil }
        return .known(live: live, dormant: dormant, source: source)
    }

    /// One name's answer from one listing run (list, then exact lookup). Pure.
    public static func classify(_ outcome: Outcome, name: String, program: String = "zellij", timeout: Duration? = nil) -> SessionProbe {
        classifyListing(outcome, program: program, timeout: timeout).probe(name)
    }
}
