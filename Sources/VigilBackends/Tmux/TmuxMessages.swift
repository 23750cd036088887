public import VigilCore
import VigilSystem

// MARK: - The message table

/// How tmux words the end of a client that exited 1, and what each wording
/// means for "does session X exist?". One table, one place; each row has a
/// test in `TmuxClassificationTests`.
///
/// The client prints these on stderr and exits 1. Wording checked against
/// tmux's own sources (client.c, cmd-find.c, tmux.c as found by source
/// search; the texts are unchanged across 3.0 to 3.5 except where a row says
/// otherwise) and against the installed tmux 3.3a, where every row marked
/// "seen on 3.3a" was produced for real. `strerror` texts are English: tmux
/// sets only `LC_CTYPE` and `LC_TIME` from the environment, never `LC_MESSAGES`.
struct TmuxMessageRule: Sendable {
    /// How a stderr line is matched (after trimming spaces).
    enum Pattern: Sendable {
        case exactly(String)
        case prefix(String)
        case suffix(String)
        case prefixAndSuffix(String, String)

        func matches(_ line: Substring) -> Bool {
            switch self {
            case .exactly(let s): return line == s
            case .prefix(let p): return line.hasPrefix(p)
            case .suffix(let s): return line.hasSuffix(s)
            case .prefixAndSuffix(let p, let s): return line.count >= p.count + s.count && line.hasPrefix(p) && line.hasSuffix(s)
            }
        }
    }

    /// What a matching line means.
    enum Meaning: Sendable, Equatable {
        /// A server answered: no session by that name. `missing` for a probe;
        /// for a listing it is unexpected, so `unknown`.
        case noSuchSession
        /// tmux found no server on that socket: `missing` for a probe, an
        /// authoritative empty set for a listing, but only once the socket
        /// table confirms that no server listens there (`confirmNoServer`).
        case noServer
        /// No authoritative answer.
        case unknown
    }

    let pattern: Pattern
    let meaning: Meaning
    /// Why the line means what it does, put into the answer's reason.
    let explanation: String
}

extension TmuxBackend {
    /// The table, in match order (the first matching row wins).
    static let messageTable: [TmuxMessageRule] = [
        // cmd-find.c, cmd_find_target -> cmd_find_get_session fails:
        // cmdq_error "can't find session: %s" (2.x to 3.5; seen on 3.3a as
        // "can't find session: bmx-dead", the '=' not echoed).
        TmuxMessageRule(pattern: .prefix("can't find session"), meaning: .noSuchSession,
                        explanation: "no such session on the running server"),
        // cmd-find.c, cmd_find_target: "no current target" when the server
        // has no session at all, so no current state can be made (3.0 to
        // 3.5; seen on 3.3a with `exit-empty off` and zero sessions). With
        // TMUX/TMUX_PANE stripped the command client has no current pane,
        // so this only happens when the server holds no sessions.
        TmuxMessageRule(pattern: .exactly("no current target"), meaning: .noSuchSession,
                        explanation: "the running server has no sessions at all"),
        // client.c, client_main: connect(2) failed with ECONNREFUSED:
        // "no server running on %s" (2.x to 3.5; seen on 3.3a). A socket file
        // with nothing listening: a server that exited, or a stale file (a
        // regular file at the socket path gives ECONNREFUSED too), or a
        // file that replaced the socket of a live server: hence the check.
        TmuxMessageRule(pattern: .prefix("no server running on "), meaning: .noServer,
                        explanation: "no server: nothing is listening on the socket"),
        // client.c, client_main: any other connect errno: "error connecting
        // to %s (%s)" with strerror (2.x to 3.5; seen on 3.3a). ENOENT: no
        // socket file. No server was started there, or its file was deleted
        // under the live server (a /tmp cleaner): hence the check.
        TmuxMessageRule(pattern: .prefixAndSuffix("error connecting to ", " (No such file or directory)"), meaning: .noServer,
                        explanation: "no server: the socket file does not exist"),
        // Same line, any errno but ENOENT (EACCES, ENOTDIR, ELOOP, EMFILE...):
        // a socket we could not reach may belong to a live server.
        TmuxMessageRule(pattern: .prefix("error connecting to "), meaning: .unknown,
                        explanation: "the socket could not be reached"),
        // tmux.c, make_label: the per-user socket directory (TMUX_TMPDIR or
        // /tmp, then tmux-UID) is group/world accessible or not ours.
        // "directory %s has unsafe permissions" (seen on 3.3a).
        TmuxMessageRule(pattern: .prefixAndSuffix("directory ", " has unsafe permissions"), meaning: .unknown,
                        explanation: "tmux refuses the socket directory"),
        // tmux.c, make_label, the other failures of the same check on 3.3a:
        // "couldn't create directory %s (%s)", "couldn't read directory %s (%s)",
        // "%s is not a directory".
        TmuxMessageRule(pattern: .prefix("couldn't create directory "), meaning: .unknown,
                        explanation: "tmux cannot make the socket directory"),
        TmuxMessageRule(pattern: .prefix("couldn't read directory "), meaning: .unknown,
                        explanation: "tmux cannot read the socket directory"),
        TmuxMessageRule(pattern: .suffix(" is not a directory"), meaning: .unknown,
                        explanation: "the socket directory is not a directory"),
        // tmux.c, make_label in older releases (one message for all of the
        // above, errno EACCES for unsafe permissions): "error creating %s (%s)".
        TmuxMessageRule(pattern: .prefix("error creating "), meaning: .unknown,
                        explanation: "tmux cannot use the socket directory"),
        // client.c, client_dispatch_wait, MSG_VERSION: the server speaks an
        // older protocol. tmux was upgraded while the old server runs: its
        // sessions are alive, this client just cannot ask. Wording
        // "protocol version mismatch (client %d, server %u)" on 3.3a.
        TmuxMessageRule(pattern: .prefix("protocol version mismatch"), meaning: .unknown,
                        explanation: "tmux was upgraded while an older server runs (its sessions are alive)"),
        // client.c, client_exit_message, CLIENT_EXIT_LOST_SERVER: the
        // connection dropped mid-command (2.x to 3.5; in the 3.3a binary).
        TmuxMessageRule(pattern: .exactly("server exited unexpectedly"), meaning: .unknown,
                        explanation: "the server went away during the call"),
        // The same event in tmux 1.x wording.
        TmuxMessageRule(pattern: .exactly("lost server"), meaning: .unknown,
                        explanation: "the server went away during the call"),
    ]

    /// The meaning of a whole stderr: every non-empty line must be
    /// recognised; any unknown or unrecognised line makes the whole unknown.
    static func interpret(_ stderr: CapturedOutput) -> (meaning: TmuxMessageRule.Meaning, explanation: String, line: String) {
        if stderr.truncated {
            return (.unknown, "stderr longer than \(stderr.bytes.count) bytes", Outcome.firstLine(of: stderr.text))
        }
        let lines = TextLines.nonEmptyLines(stderr.bytes)
        guard let first = lines.first else { return (.unknown, "no message", "") }
        var result: (meaning: TmuxMessageRule.Meaning, explanation: String, line: String)? = nil
        for raw in lines {
            let line = raw[...].trimmingSpaces()
            if line.isEmpty { continue }
            guard let rule = messageTable.first(where: { $0.pattern.matches(line) }) else {
                return (.unknown, "unrecognised message", String(line.prefix(200)))
            }
            if rule.meaning == .unknown { return (.unknown, rule.explanation, String(line.prefix(200))) }
            if result == nil || (result!.meaning == .noServer && rule.meaning == .noSuchSession) {
                result = (rule.meaning, rule.explanation, String(line.prefix(200)))
            }
        }
        return result ?? (.unknown, "no message", first)
    }
}

// MARK: - The "no server" check

extension TmuxBackend {
    /// The socket path in a "no server" line: `no server running on PATH`
    /// or `error connecting to PATH (No such file or directory)`.
    static func noServerPath(_ line: String) -> String? {
        let running = "no server running on "
        if line.hasPrefix(running) { return String(line.dropFirst(running.count)) }
        let connecting = "error connecting to ", enoent = " (No such file or directory)"
        if line.hasPrefix(connecting) && line.hasSuffix(enoent) && line.count > connecting.count + enoent.count {
            return String(line.dropFirst(connecting.count).dropLast(enoent.count))
        }
        return nil
    }

    /// Whether tmux's "no server" line holds: confirmed only when the socket
    /// table shows nothing listening at the path it names, nor a server of
    /// the same socket name in another directory.
    ///
    /// - Returns: `.success` with a note for the reason when confirmed,
    ///   `.failure` with the reason of the `unknown` answer otherwise.
    static func confirmNoServer(_ line: String, sockets: UnixSocketSource) -> Result<String, NoServerRefuted> {
        guard let path = noServerPath(line) else {
            return .failure(NoServerRefuted(reason: "tmux says there is no server (\(line)), but names no socket path to check; not called missing"))
        }
        let fileGone = line.hasPrefix("error connecting to ")
        switch sockets.presence(at: path) {
        case .noListener:
            return .success("no server listens at \(path) (/proc/net/unix)")
        case .listening(let inode):
            let pid = sockets.owner(inode)
            let server = pid.map { "a tmux server (pid \($0))" } ?? "a server"
            let what = fileGone
                ? "its socket file was deleted under it (a /tmp cleaner?)"
                : "the file at that path is not the socket it listens on (replaced or stale)"
            let fix = pid.map { "kill -USR1 \($0)" } ?? "kill -USR1 <server pid> (find it with: ss -xlp | grep \(path))"
            return .failure(NoServerRefuted(reason:
                "\(server) still listens on \(path) but tmux cannot reach it: \(what); its sessions are alive. "
                + "Recover with `\(fix)`, which makes tmux recreate its socket (\(line))"))
        case .sameNameElsewhere(let other, let inode):
            let pid = sockets.owner(inode).map { " (pid \($0))" } ?? ""
            return .failure(NoServerRefuted(reason:
                "no server at \(path), but a tmux server\(pid) with the same socket name listens at \(other): "
                + "TMUX_TMPDIR (or the socket path) differs from the one that started it? Not called missing; "
                + "point this caller at \(other) to ask it (\(line))"))
        case .cannotTell(let reason):
            return .failure(NoServerRefuted(reason:
                "tmux says there is no server (\(line)), but whether one still listens cannot be checked: \(reason); not called missing"))
        }
    }

    /// Why a "no server" line was not taken as proof.
    struct NoServerRefuted: Error {
        let reason: String
    }
}

// MARK: - Classification

extension TmuxBackend {
    /// Classifies one `tmux has-session -t =NAME` (or `kill-session`) run.
    /// Exit status and stderr in, answer out; the only thing read besides
    /// is the socket table, and only on a "no server" message.
    ///
    /// - exit 0: `exists` (for has-session, "the target resolved": a client
    ///   name resolves too, which is why `probe` asks `display-message`).
    /// - exit 1 with "can't find session" or "no current target": `missing`.
    /// - exit 1 with "no server running on PATH" or "error connecting to
    ///   PATH (No such file or directory)": `missing` only when `sockets`
    ///   shows no server listening at PATH (nor one of the same socket name
    ///   elsewhere); otherwise `unknown`, with a reason that says how to recover.
    /// - exit 1 with any other message (another connect errno, unsafe socket
    ///   directory, protocol version mismatch, lost server, anything
    ///   unrecognised, no message, truncated stderr): `unknown`.
    /// - any other exit code, a signal, a timeout, a spawn or wait failure: `unknown`.
    ///
    /// - Parameters:
    ///   - outcome: the finished run.
    ///   - program: the executable as configured, for reasons.
    ///   - timeout: the deadline that applied, for the timeout wording.
    ///   - sockets: where the socket table is read for the "no server" rows.
    public static func classify(_ outcome: Outcome, program: String = "tmux", timeout: Duration? = nil,
                                sockets: UnixSocketSource = .system) -> SessionProbe {
        switch outcome.termination {
        case .exited(0):
            return .exists(reason: "\(program) has-session exit 0")
        case .exited(1):
            return classifyFailure(outcome, program: program, sockets: sockets)
        default:
            return .unknown(reason: outcome.failureReason(program: program, timeout: timeout))
        }
    }

    /// Exit 1: the message table, and the socket check for "no server".
    private static func classifyFailure(_ outcome: Outcome, program: String, sockets: UnixSocketSource) -> SessionProbe {
        let (meaning, explanation, line) = interpret(outcome.stderr)
        switch meaning {
        case .noSuchSession:
            return .missing(reason: "\(explanation) (\(line))")
        case .noServer:
            switch confirmNoServer(line, sockets: sockets) {
            case .success(let note): return .missing(reason: "\(explanation) (\(line)); \(note)")
            case .failure(let refuted): return .unknown(reason: refuted.reason)
            }
        case .unknown:
            return .unknown(reason: line.isEmpty ? "\(program) exit 1: \(explanation)" : "\(program) exit 1: \(explanation) (\(line))")
        }
    }

    /// What a resolution run says: an answer, or "tmux resolved the name to
    /// another session" (a client's), which a listing must settle.
    public enum Resolution: Sendable, Hashable {
        /// The answer.
        case answer(SessionProbe)
        /// tmux printed this session name instead of the one asked.
        case otherSession(String)
    }

    /// Classifies one `tmux has-session -t =NAME ; display-message -p -t
    /// =NAME: '#{session_name}'` run.
    ///
    /// - exit 0 and stdout exactly `NAME` and a newline: `exists`.
    /// - exit 0 and another name: `.otherSession` (tmux read NAME as a client).
    /// - exit 0 and empty or cut stdout: `unknown`.
    /// - otherwise as `classify(_:program:timeout:sockets:)`.
    public static func classifyResolution(_ outcome: Outcome, name: String, program: String = "tmux", timeout: Duration? = nil,
                                          sockets: UnixSocketSource = .system) -> Resolution {
        guard outcome.termination == .exited(0) else {
            return .answer(classify(outcome, program: program, timeout: timeout, sockets: sockets))
        }
        var printed = outcome.stdout.bytes[...]
        guard !outcome.stdout.truncated, printed.last == UInt8(ascii: "\n") else {
            return .answer(.unknown(reason: "\(program) exit 0 without a whole line on stdout"))
        }
        printed = printed.dropLast()
        if printed.last == UInt8(ascii: "\r") { printed = printed.dropLast() }
        if printed.elementsEqual(name.utf8) {
            return .answer(.exists(reason: "\(program) resolved =\(name) to session \(name)"))
        }
        if printed.isEmpty || printed.contains(UInt8(ascii: "\n")) {
            return .answer(.unknown(reason: "\(program) printed no single session name"))
        }
        return .otherSession(String(decoding: printed, as: UTF8.self))
    }

    /// Classifies one `tmux list-sessions -F '#{session_name}'` run.
    ///
    /// - exit 0 with stdout within its limit: the live set, one name a line.
    /// - exit 1 where every message says there is no server ("no server
    ///   running on", ENOENT on connect) and the socket table confirms that
    ///   nothing listens there: an authoritative empty set.
    /// - anything else, including truncated stdout: `unknown`.
    ///
    /// - Parameters:
    ///   - outcome: the finished run.
    ///   - program: the executable as configured, for reasons.
    ///   - timeout: the deadline that applied, for the timeout wording.
    ///   - source: how the listing is named in reasons, e.g. "tmux list-sessions (-L work)".
    ///   - sockets: where the socket table is read for the "no server" rows.
    public static func classifyListing(
        _ outcome: Outcome, program: String = "tmux", timeout: Duration? = nil, source: String = "tmux list-sessions",
        sockets: UnixSocketSource = .system
    ) -> SessionListing {
        switch outcome.termination {
        case .exited(0):
            if outcome.stdout.truncated {
                return .unknown(reason: "\(source): output longer than \(outcome.stdout.bytes.count) bytes, the list is incomplete")
            }
            return .live(Set(TextLines.nonEmptyLines(outcome.stdout.bytes)), reason: source)
        case .exited(1):
            let (meaning, explanation, line) = interpret(outcome.stderr)
            if meaning == .noServer {
                switch confirmNoServer(line, sockets: sockets) {
                case .success(let note): return .live([], reason: "\(source): \(explanation) (\(line)); \(note)")
                case .failure(let refuted): return .unknown(reason: "\(source): \(refuted.reason)")
                }
            }
            return .unknown(reason: line.isEmpty ? "\(program) exit 1: \(explanation)" : "\(program) exit 1: \(explanation) (\(line))")
        default:
            return .unknown(reason: outcome.failureReason(program: program, timeout: timeout))
        }
    }

    /// Classifies one `tmux kill-session` run with the same table: exit 0 is
    /// `killed`, a `missing` answer is `alreadyGone`, the rest `failed`.
    static func classifyKill(_ outcome: Outcome, program: String, timeout: Duration?, sockets: UnixSocketSource) -> KillResult {
        if outcome.termination == .exited(0) {
            return KillResult(status: .killed, reason: "\(program) kill-session exit 0")
        }
        return KillResult.from(classify(outcome, program: program, timeout: timeout, sockets: sockets))
    }
}
