// The one place where a probe answer about a botmux session becomes an
// action, and what a close writes into the record.

public import VigilCore
public import VigilRestore
import VigilStore

/// Decisions for botmux records.
public enum BotmuxDecision {
    /// Decides one probed record.
    ///
    /// | probe | CLI (record's `cliId` vs the bot's) | action | effect |
    /// |---|---|---|---|
    /// | exists | differs | kill | backing session killed; if that worked, record closed (botmux closes a session whose CLI changed) |
    /// | exists | same, or not known | keep | untouched; the daemon re-attaches it when it starts |
    /// | unknown | any | keep | untouched: `unknown` never destroys anything |
    /// | missing | differs | close | botmux closes a session whose CLI changed, whether or not it is alive |
    /// | missing, `suspendedColdResume` | same | keep | suspended on purpose by the resident-session cap |
    /// | missing | same | keep (`--on-missing keep`, the default) or close (`--on-missing close`) | keep: the daemon cold-resumes the transcript on the next message |
    ///
    /// The CLI differs only when both are known: a record without `cliId`, a
    /// bot bots.json does not load, or a bot whose `cliId` is not a string
    /// is never killed or closed for a CLI change.
    public static func decide(
        probe: SessionProbe, recordCLI: String?, expectedCLI: String?,
        suspended: Bool, onMissing: MissingPolicy
    ) -> (action: RestoreAction, reason: String) {
        var mismatch: (String, String)?
        if let recordCLI, !recordCLI.isEmpty, let expectedCLI, !expectedCLI.isEmpty, recordCLI != expectedCLI {
            mismatch = (recordCLI, expectedCLI)
        }
        switch probe {
        case .exists(let why):
            if let (runs, wanted) = mismatch {
                return (.kill, "alive (\(why)) but runs CLI \(runs), the bot is configured for \(wanted): backing session killed and record closed, as the daemon does for a CLI change")
            }
            return (.keep, "alive (\(why)); the daemon re-attaches it when it starts")
        case .unknown(let why):
            if let (runs, wanted) = mismatch {
                return (.keep, "no authoritative answer, kept: \(why) (it runs CLI \(runs), the bot \(wanted): the daemon settles that when it starts)")
            }
            return (.keep, "no authoritative answer, kept: \(why)")
        case .missing(let why):
            if let (runs, wanted) = mismatch {
                return (.close, "session is gone (\(why)) and ran CLI \(runs), the bot is configured for \(wanted): closed, as the daemon does for a CLI change")
            }
            if suspended {
                return (.keep, "missing on purpose: suspended by the resident-session cap (suspendedColdResume); the next message cold-resumes it")
            }
            switch onMissing {
            case .keep: return (.keep, "missing; the daemon will cold-resume it (\(why))")
            case .close: return (.close, "session is gone: \(why) (--on-missing close)")
            }
        }
    }

    /// The members a close removes, as botmux's own offline close does
    /// (src/cli.ts, the close path after the backing session is torn down):
    /// per-generation routing and ownership state that a closed session
    /// must not carry.
    public static let removedOnClose = [
        "codexAppDispatchLedger", "codexAppGenerationCommits", "queuedActivationPending",
        "queuedActivationTail", "pendingRepoSetup", "previewTarget",
    ]

    /// The edit of a close at `timestamp`: `status` "closed" and `closedAt`
    /// (each in place, or appended when new), the members above deleted;
    /// nothing else added, removed or moved.
    static func closeEdit(at timestamp: String) -> BotmuxEdit {
        BotmuxEdit(changes: [("status", "closed"), ("closedAt", timestamp)] + removedOnClose.map { ($0, nil) })
    }

    /// `new Date(milliseconds).toISOString()`: UTC with milliseconds,
    /// `2026-11-21T12:30:45.123Z`.
    public static func isoTimestamp(millisecondsSinceEpoch milliseconds: Int64) -> String {
        let seconds = Int(milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000)
        let fraction = Int(milliseconds - Int64(seconds) * 1000)
        let base = StoreClock.iso8601(secondsSinceEpoch: seconds) // ...:SSZ
        let digits = String(fraction)
        return String(base.dropLast()) + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }
}
