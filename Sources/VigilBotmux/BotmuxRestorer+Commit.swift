// Writing the closes into the stores without racing anyone.
//
// Per store, with VigilStore's compare-and-set commit and botmux's own lock
// protocol (`exclusive-create`: `<store>.lock` made with O_CREAT|O_EXCL,
// payload {"pid","procStart","bootId"}, removed on release):
// 1. check the bot's heartbeat again (a daemon that started meanwhile owns
//    the store now: the store is not written, exit 75);
// 2. take the lock, read the store again, and apply each close only to a
//    record that is byte for byte what the decision was made from; a record
//    changed or removed meanwhile is left as it is and reported `skip`;
// 3. write a temporary file (`.<store>.vigil-tmp-*`, which never matches
//    `sessions*.json`), fsync, rename, fsync the folder; release the lock.
// The lock is held for one read and one write: never across a probe or a
// kill. Stores are committed one after the other; one that cannot be
// (locked past the timeout, a daemon came up) is left untouched and named
// in the run's failures, the others are written.

import VigilRestore
public import VigilStore

extension BotmuxStore: RecordDocument {
    /// The bytes the store was parsed from.
    public var sourceBytes: [UInt8] { source.bytes }

    /// Where the record with commit id `id` (`BotmuxRecord.commitID`) was.
    public func sourceLocation(ofRecord id: String) -> RecordLocation? {
        guard let position = indexByKey[Array(id.utf8)] else { return nil }
        return RecordLocation(position: position, range: records[position].range)
    }

    /// Whether any record has an edit to write.
    public var hasChanges: Bool { !pendingEdits.isEmpty }

    /// The store with its pending edits, laid out as `JSON.stringify(obj, null, 2)`.
    public func serialized() -> [UInt8] { serialized(applying: pendingEdits) }
}

extension BotmuxRestorer {
    /// Commits the closes of `closable` (indices into `entries`), store by
    /// store; updates `lines` for records that were not closed after all.
    /// - Returns: the stores that could not be written, with why.
    func commit(_ closable: [Int], entries: [Entry], loaded: [Loaded], dataDirectory: String,
                lines: inout [BotmuxSessionOutcome]) async -> [StoreError] {
        var byStore: [Int: [Int]] = [:]
        for index in closable { byStore[entries[index].store, default: []].append(index) }
        var failures: [StoreError] = []
        let logger = self.logger
        let notice: (StoreNotice) -> Void = { logger.emit(RestoreEvent(level: .info, message: "\($0)")) }

        for storeIndex in byStore.keys.sorted() {
            let indices = byStore[storeIndex]!
            let item = loaded[storeIndex]
            let bots = Set(indices.compactMap { entries[$0].bot } + (item.file.larkAppId.map { [$0] } ?? []))
            let moment = now()
            let daemons = BotmuxDaemons.read(dataDirectory: dataDirectory)
            var live: [String: BotmuxHeartbeat] = [:]
            for bot in bots { if let beat = daemons.live(bot, now: moment) { live[bot] = beat } }
            if !live.isEmpty {
                let error = liveDaemonError(live, loaded: [item], now: moment)
                failures.append(error)
                notWritten(indices, because: error, lines: &lines)
                continue
            }

            let edit = BotmuxDecision.closeEdit(at: BotmuxDecision.isoTimestamp(millisecondsSinceEpoch: moment))
            var document = item.store
            let changes = indices.map { RecordChange(id: document.records[entries[$0].record].commitID) }
            do throws(StoreError) {
                let report = try await StoreFile(path: item.file.path).commit(
                    &document, changes: changes, lock: .exclusiveCreate, lockTimeout: options.lockTimeout,
                    strictLinks: options.strictLinks, notice: notice
                ) { document, _, position in
                    document.pendingEdits[document.records[position].key] = edit
                }
                for (index, verdict) in zip(indices, report.verdicts) where verdict != .applied {
                    let why = verdict == .changed ? Restorer.changedMeanwhile : Restorer.removedMeanwhile
                    if lines[index].outcome.action == .kill {
                        lines[index].outcome.reason += "; record not closed: \(why)"
                    } else {
                        lines[index].outcome.action = .skip
                        lines[index].outcome.reason = why + " (it was to be closed: \(lines[index].outcome.reason))"
                    }
                }
            } catch {
                failures.append(error)
                notWritten(indices, because: error, lines: &lines)
            }
        }
        return failures
    }

    /// Lines of decisions whose store was not written: closes become keeps
    /// (the record is as it was); a kill that happened says so.
    func notWritten(_ indices: [Int], because error: StoreError, lines: inout [BotmuxSessionOutcome]) {
        for index in indices {
            if lines[index].outcome.action == .kill {
                lines[index].outcome.reason += "; record not closed, the store was not written: \(error.message)"
            } else {
                lines[index].outcome.action = .keep
                lines[index].outcome.reason = "not closed, the store was not written (\(error.message)); decided: \(lines[index].outcome.reason)"
            }
        }
    }
}
