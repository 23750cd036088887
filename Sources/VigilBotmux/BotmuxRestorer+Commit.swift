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
    /// Commits the closes of `closable` (indices into `entries`), store by
    /// store; updates `lines` for records that were not closed after all.
    /// - Returns: the stores that could not be written, with why.
    func commit(_ closable: [Int], entries: [Entry], loaded: [Loaded], dataDirectory: String,
                lines: inout [BotmuxSessionOutcome]) async -> [StoreError] {
        let path = closable.first.map { loaded[entries[$0].store].file.path } ?? dataDirectory
        return [StoreError(.cannotWrite, path: path, message: "writing botmux stores needs the exclusive-create store lock, which this build does not have yet; run with --dry-run")]
    }
}
