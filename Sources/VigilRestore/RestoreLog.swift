#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilSystem

/// One thing the orchestrator wants the embedding daemon to know.
public struct RestoreEvent: Sendable, CustomStringConvertible {
    /// How much attention the event deserves.
    public enum Level: String, Sendable {
        case info
        case warning
    }

    /// Info or warning.
    public var level: Level
    /// The session the event is about, if any.
    public var sessionID: String?
    /// One line, no trailing newline.
    public var message: String

    /// Creates an event.
    public init(level: Level, sessionID: String? = nil, message: String) {
        self.level = level
        self.sessionID = sessionID
        self.message = message
    }

    /// `"vigil: warning: [id] message"`.
    public var description: String {
        let who = sessionID.map { "[\($0)] " } ?? ""
        return "vigil: \(level.rawValue): \(who)\(message)"
    }
}

/// Where events go. The embedding daemon supplies its own; the default writes
/// one line per event to stderr.
public struct RestoreLogger: Sendable {
    let sink: @Sendable (RestoreEvent) -> Void
    /// Whether events about single sessions (those with a `sessionID`) are
    /// wanted. When false they are never built: at 100,000 records their
    /// messages would cost more than the rest of the restore's bookkeeping.
    public let wantsSessionEvents: Bool

    /// A logger that calls `sink` for every event (from any thread).
    /// - Parameter sessionEvents: false to receive only events about the
    ///   store itself (sessionID nil); per-session events are then skipped
    ///   before they are made.
    public init(sessionEvents: Bool = true, _ sink: @escaping @Sendable (RestoreEvent) -> Void) {
        self.sink = sink
        self.wantsSessionEvents = sessionEvents
    }

    /// Hands `event` to the sink.
    public func emit(_ event: RestoreEvent) { sink(event) }

    /// One line per event on stderr, written with a single write(2) so lines
    /// from concurrent tasks do not interleave.
    /// Control characters (from ids, names or reasons a store supplied) are
    /// written as `\xHH`, so a record cannot move the cursor or retitle the
    /// terminal of whoever reads the log.
    public static let standardError = RestoreLogger { event in
        var line = Array(event.description.escapingControlCharacters.utf8)
        line.append(UInt8(ascii: "\n"))
        _ = system_writeAll(2, line)
    }

    /// Drops every event.
    public static let silent = RestoreLogger(sessionEvents: false) { _ in }

    func info(_ message: String, session: String? = nil) {
        sink(RestoreEvent(level: .info, sessionID: session, message: message))
    }

    func warning(_ message: String, session: String? = nil) {
        sink(RestoreEvent(level: .warning, sessionID: session, message: message))
    }

    /// A warning about one session, built only if such events are wanted.
    func warning(session: String, _ message: @autoclosure () -> String) {
        guard wantsSessionEvents else { return }
        sink(RestoreEvent(level: .warning, sessionID: session, message: message()))
    }
}

extension String {
    /// This text with every control character (C0, DEL, C1) written as
    /// `\xHH`: for text that reaches a terminal and may come from a store.
    package var escapingControlCharacters: String {
        guard unicodeScalars.contains(where: \.isControlCharacter) else { return self }
        var out = ""
        for scalar in unicodeScalars {
            if scalar.isControlCharacter {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

extension Unicode.Scalar {
    /// C0 (U+0000...U+001F), DEL and C1 (U+007F...U+009F).
    var isControlCharacter: Bool { value < 0x20 || (0x7F...0x9F).contains(value) }
}
