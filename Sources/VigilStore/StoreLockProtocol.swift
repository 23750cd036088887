// Which lock a store's writers agree on. Two exist in the wild, and a lock
// only works if every writer of the store takes the same one: a writer that
// takes the other is not excluded, and its update can be lost.

/// How the writers of one store exclude each other, chosen per store.
///
/// Both lock `<store>.lock` (the store path as given, plus `.lock`), both are
/// held only around read, compare, write and rename, and both refuse a lock
/// path that is a symbolic link or not a regular file.
public enum StoreLockProtocol: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// `flock(2)` on `<store>.lock`, which is created if missing and never
    /// removed (removing it on release would let a writer that opened the
    /// old file and one that created a new one both "hold" the lock; keeping
    /// it lets any writer use plain `flock(1)`). The default for Vigil's own
    /// store format.
    case flock
    /// botmux's protocol (`src/utils/file-lock.ts`): the lock is held by
    /// whoever creates `<store>.lock` with `O_CREAT|O_EXCL`; the file holds
    /// `{"pid":N,"procStart":"...","bootId":"..."}` and is unlinked on
    /// release (only while it is still the same inode). A lock whose holder
    /// is provably dead and that is older than 1 s is broken with botmux's
    /// own stale-claim protocol, so Vigil and botmux never remove each
    /// other's live lock.
    case exclusiveCreate = "exclusive-create"

    /// The name used on the command line: `flock` or `exclusive-create`.
    public var description: String { rawValue }
}
