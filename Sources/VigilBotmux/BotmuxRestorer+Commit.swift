// Writing the closes into the stores without racing anyone.
//
// Per store: take `<store>.lock` with botmux's own protocol (O_CREAT|O_EXCL,
// payload {"pid","procStart","bootId"}), re-check the bot's heartbeat, read
// the store again, and apply each close only to a record that is byte for
// byte what the decision was made from; a record changed meanwhile is left as
// it is and reported. Then write a temporary file, fsync, rename it over the
// store, fsync the folder, and release the lock. The lock is held for
// milliseconds: never across a probe or a kill.

import VigilRestore
import VigilStore

extension BotmuxRestorer {
    /// The edits of one store after compare-and-set against its current
    /// version: each decided close whose record is unchanged, by key; and the
    /// decided records that changed or disappeared.
    static func compareAndSet(decided: [(record: BotmuxRecord, edit: BotmuxEdit)], original: BotmuxStore,
                              current: BotmuxStore) -> (edits: [[UInt8]: BotmuxEdit], changed: Set<[UInt8]>) {
        var edits: [[UInt8]: BotmuxEdit] = [:]
        var changed = Set<[UInt8]>()
        for (record, edit) in decided {
            if let now = current.record(matching: record), current.bytes(of: now) == original.bytes(of: record) {
                edits[record.key] = edit
            } else {
                changed.insert(record.key)
            }
        }
        return (edits, changed)
    }

    /// Commits the closes of `closable` (indices into `entries`), store by
    /// store, updating `lines` for records that changed meanwhile.
    func commit(_ closable: [Int], entries: [Entry], loaded: [Loaded], daemons dataDirectory: String,
                lines: inout [BotmuxSessionOutcome]) async throws(StoreError) {
        let path = closable.first.map { loaded[entries[$0].store].file.path } ?? dataDirectory
        throw StoreError(.cannotWrite, path: path, message: "writing botmux stores needs the exclusive-create store lock, which this build does not have yet; run with --dry-run")
    }
}
