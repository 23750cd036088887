// Breaking a stale exclusive-create lock without ever deleting a live one.
//
// The hazard: two waiters both see the same stale lock file X. The first
// unlinks X and creates its own lock Y; the second, acting on what it saw a
// moment ago, unlinks the path again and so deletes Y, a live lock. There is
// no "unlink this name only if it is still inode X" system call, so a breaker
// must first make sure it is the only one allowed to unlink the path for X.
//
// Vigil uses botmux's own stale-claim protocol (`src/utils/file-lock.ts`,
// `resumeStaleBreak`), step for step and with the same file names, so a
// Vigil breaker and a botmux breaker exclude each other too:
//
// 1. Observe the lock through one descriptor (fstat, read, fstat); the
//    holder must be provably dead and the lock at least 1 s old.
// 2. Pin it: `link(<lock>, .botmux-stale-claim-<G>)`, where G is the first 24
//    hex digits of SHA-256("<dev>\0<ino>\0<birthtimeMs>") of the observed
//    inode, numbers written as JavaScript writes them. Every breaker of the
//    same inode computes the same G. If the path already named another inode
//    at link time, the claim pins that one instead, and step 4 notices.
// 3. Elect one owner for the claim: owners are epochs
//    `<claim>.owner-000000000000`, `...001`, published with link(2) (atomic,
//    never overwrites) from a fully written candidate
//    `<owner>.candidate-<pid>-<uuid>` holding the breaker's payload. The next
//    epoch may only be taken over from a dead owner (same liveness rules), so
//    at most one live breaker owns the claim.
// 4. The owner checks that the claim is the observed inode, re-reads the lock
//    (still the same inode, unchanged, still dead and old), and unlinks the
//    lock path only after an lstat shows the same unchanged inode. Nobody
//    else may unlink that inode meanwhile: its holder is dead and every other
//    breaker needs the ownership this one holds.
// 5. It removes the claim and its owner files; a crash anywhere leaves files
//    that the next breaker resumes from (a dead owner's epoch is superseded).
//
// Where Vigil is stricter than botmux: the holder must be *provably* dead
// (another boot id, another start time for its pid, or no such pid) and the
// lock at least 1 s old; botmux also breaks a lock whose payload is empty or
// unreadable after 1 s, and one of a dead holder after 100 ms. A lock file
// Vigil cannot judge is waited on, never broken, and the timeout names it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import VigilSystem

/// What a lock (or owner) file held when read through one descriptor.
struct LockObservation {
    /// The payload's holder; nil when the payload is empty or unreadable.
    var holder: LockHolder?
    /// Milliseconds since its last modification (`Date.now() - mtimeMs`).
    var ageMilliseconds: Double
    /// The path's lstat after the read.
    var identity: FileIdentity
    /// The stale-claim generation of the inode (see `claimGeneration`).
    var generation: String
}

/// The result of reading a lock-protocol file the way botmux's
/// `readPinnedHolder` does.
enum PinnedRead {
    /// The path does not exist.
    case missing
    /// The path is a symbolic link or not a regular file.
    case notRegular
    /// It changed while being read (or is being published): look again.
    case unstable
    /// A consistent observation.
    case observed(LockObservation)
}

/// How two stats of one file compare (botmux's `pinnedHolderMetadataState`).
enum PinnedMetadataState {
    case stable
    /// A legitimate transition (payload being written, a link added or
    /// removed): do not act on it, look again.
    case transient
    /// Content-relevant change on a non-empty file: never act on it.
    case untrusted
}

func pinnedMetadataState(_ before: FileIdentity, _ after: FileIdentity) -> PinnedMetadataState {
    guard before.isRegularFile, after.isRegularFile, before.sameInode(as: after) else { return .untrusted }
    let sizeChanged = before.size != after.size
    let modifiedChanged = !before.sameModificationTime(as: after)
    let changedChanged = !before.sameChangeTime(as: after)
    if before.size == 0 && (sizeChanged || modifiedChanged || changedChanged) { return .transient }
    if sizeChanged || modifiedChanged { return .untrusted }
    if before.linkCount != after.linkCount { return .transient }
    if changedChanged { return .untrusted }
    if before.linkCount < 1 || after.linkCount < 1 { return .transient }
    return .stable
}

/// Reads a lock-protocol file through one `O_NOFOLLOW` descriptor: fstat,
/// read, fstat, then lstat of the path, all of which must agree.
func readPinned(_ path: String) -> PinnedRead {
    let descriptor: Int32
    switch system_open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) {
    case .success(let fd): descriptor = fd
    case .failure(let error) where error == .noSuchFile: return .missing
    case .failure(let error) where error == Errno(ELOOP): return .notRegular
    case .failure: return .unstable
    }
    defer { _ = system_close(descriptor) }
    guard case .success(let beforeInfo) = system_fstat(descriptor) else { return .unstable }
    let before = FileIdentity(beforeInfo)
    guard before.isRegularFile else { return .notRegular }
    guard let bytes = system_readUpTo(descriptor, limit: 64 * 1024),
          case .success(let afterInfo) = system_fstat(descriptor) else { return .unstable }
    let after = FileIdentity(afterInfo)
    switch pinnedMetadataState(before, after) {
    case .stable: break
    case .transient, .untrusted: return .unstable
    }
    let current: FileIdentity
    switch system_lstat(path) {
    case .success(let info): current = FileIdentity(info)
    case .failure: return .unstable
    }
    guard current.isRegularFile else { return .notRegular }
    guard after.sameInode(as: current), pinnedMetadataState(after, current) == .stable else { return .unstable }
    return .observed(LockObservation(
        holder: LockHolder(payload: bytes),
        ageMilliseconds: system_nowMilliseconds() - current.modifiedMilliseconds,
        identity: current,
        generation: claimGeneration(descriptor, fallback: after)
    ))
}

/// The first 24 hex digits of SHA-256 over `"<dev>\0<ino>\0<birthtimeMs>"`,
/// each number as JavaScript's `String(number)` writes it: botmux's
/// `staleClaimPathFor`, fed with what Node's `fstat` reports (libuv's statx:
/// glibc `makedev` of the device numbers, the birth time or zero where the
/// file system keeps none; without statx, libuv reports ctime as the birth time).
func claimGeneration(_ descriptor: Int32, fallback: FileIdentity) -> String {
    let device: Double, inode: Double, birth: Double
    if let identity = system_statxIdentity(descriptor) {
        device = Double(identity.device)
        inode = Double(identity.inode)
        birth = Double(identity.birthSeconds) * 1e3 + Double(identity.birthNanoseconds) / 1e6
    } else {
        device = Double(fallback.device)
        inode = Double(fallback.inode)
        birth = fallback.changedMilliseconds
    }
    let text = javaScriptString(device) + "\u{0}" + javaScriptString(inode) + "\u{0}" + javaScriptString(birth)
    return String(SHA256.hexDigest(Array(text.utf8)).prefix(24))
}

/// `String(number)` in JavaScript (ECMAScript Number::toString, radix 10),
/// from Swift's shortest round-trip digits, which are the same digits.
func javaScriptString(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
    if value == 0 { return "0" }
    let sign = value < 0 ? "-" : ""
    // Swift writes "123.456", "1e-07", "1.2345e+21" or "5e-324": take the
    // significant digits and the decimal exponent out of it.
    let text = String(abs(value).description.utf8)
    var mantissa = Substring(text)
    var exponent = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        mantissa = text[..<e]
        exponent = Int(text[text.index(after: e)...]) ?? 0
    }
    var digits = ""
    var pointPosition = mantissa.count // digits before the decimal point
    if let dot = mantissa.firstIndex(of: ".") {
        pointPosition = mantissa.distance(from: mantissa.startIndex, to: dot)
        digits = String(mantissa[..<dot]) + String(mantissa[mantissa.index(after: dot)...])
    } else {
        digits = String(mantissa)
    }
    // value = 0.digits × 10^n
    var n = pointPosition + exponent
    while digits.hasPrefix("0") { digits.removeFirst(); n -= 1 }
    while digits.hasSuffix("0") { digits.removeLast() }
    let k = digits.count
    if k <= n && n <= 21 {
        return sign + digits + String(repeating: "0", count: n - k)
    }
    if 0 < n && n <= 21 {
        let split = digits.index(digits.startIndex, offsetBy: n)
        return sign + digits[..<split] + "." + digits[split...]
    }
    if -6 < n && n <= 0 {
        return sign + "0." + String(repeating: "0", count: -n) + digits
    }
    let e = n - 1
    let exponentText = (e < 0 ? "-" : "+") + String(abs(e))
    if k == 1 { return sign + digits + "e" + exponentText }
    return sign + digits.prefix(1) + "." + digits.dropFirst() + "e" + exponentText
}

/// Unlinks `path` if it is still the regular file `owned` (same device and
/// inode): botmux's `releaseOwnedLock`, used for the lock itself, claims and
/// owner files. A path that names another file is left alone.
@discardableResult
func unlinkIfSameInode(_ path: String, _ owned: FileIdentity) -> Bool {
    guard case .success(let info) = system_lstat(path) else { return false }
    let current = FileIdentity(info)
    guard current.isRegularFile, current.sameInode(as: owned) else { return false }
    return (try? system_unlink(path).get()) != nil
}

// MARK: - The breaker

/// One attempt to break one observed stale lock.
struct StaleLockBreaker {
    static let claimPrefix = ".botmux-stale-claim-"
    static let ownerInfix = ".owner-"
    static let ownerWidth = 12
    static let candidateInfix = ".candidate-"

    /// The lock file.
    let lockPath: String
    /// Its folder (claims and owners live beside it).
    let folder: String
    /// Our own payload, written into owner files.
    let payload: [UInt8]
    /// The least age of a lock (and of an owner) before it may be broken.
    let minimumAge: Double
    /// Permission bits of the owner files made here (the store's).
    let mode: UInt32

    init(lockPath: String, payload: [UInt8], minimumAgeMilliseconds: Double, mode: UInt32) {
        self.lockPath = lockPath
        self.folder = StoreLocation(target: lockPath).folder
        self.payload = payload
        self.minimumAge = minimumAgeMilliseconds
        self.mode = mode
    }

    /// Whether an observation may be broken: a readable holder that is
    /// provably dead, and old enough.
    func isBreakable(_ observation: LockObservation) -> LockHolder.Liveness? {
        guard observation.ageMilliseconds >= minimumAge, let holder = observation.holder else { return nil }
        let liveness = holder.liveness()
        if case .dead = liveness { return liveness }
        return nil
    }

    /// Tries to break the lock seen in `observed`.
    /// - Returns: true when the lock path should be tried again at once (the
    ///   stale lock is gone, by us or by another breaker); false to wait.
    func breakLock(observed: LockObservation, reason: String, notice: (StoreNotice) -> Void) -> Bool {
        let claimPath = folder + "/" + Self.claimPrefix + observed.generation
        var claimWasCreated = false
        switch system_link(lockPath, claimPath) {
        case .success: claimWasCreated = true
        case .failure(let error) where error == .noSuchFile: return true
        case .failure(let error) where error == .exists: break
        case .failure: return false // no hard links here, say: never break without the claim
        }
        return resume(claimPath: claimPath, observed: observed, claimWasCreated: claimWasCreated, reason: reason, notice: notice)
    }

    /// botmux's `resumeStaleBreak`.
    private func resume(claimPath: String, observed: LockObservation, claimWasCreated: Bool,
                        reason: String, notice: (StoreNotice) -> Void) -> Bool {
        guard let ownership = acquireOwnership(claimPath: claimPath, claimWasCreated: claimWasCreated) else { return false }
        var claimRemoved = false
        defer {
            if claimRemoved {
                cleanOwnership(claimPath: claimPath, ownership)
            } else {
                _ = system_close(ownership.descriptor)
                unlinkIfSameInode(ownership.ownerPath, ownership.owned)
                unlinkIfSameInode(ownership.candidatePath, ownership.owned)
            }
        }
        guard case .success(let claimInfo) = system_lstat(claimPath) else { return false }
        let claim = FileIdentity(claimInfo)
        func withdraw() -> Bool {
            unlinkIfSameInode(claimPath, claim)
            claimRemoved = true
            return false
        }
        // The path named a newer inode when the claim was linked: the claim
        // pinned that one. Remove only the claim; never touch the lock.
        guard claim.sameInode(as: observed.identity) else { return withdraw() }

        switch readPinned(lockPath) {
        case .missing:
            break // a previous owner unlinked it and died before cleaning up
        case .notRegular, .unstable:
            return withdraw()
        case .observed(let current) where current.identity.sameInode(as: observed.identity):
            // Still the stale inode: still dead and old? Then unlink it, but
            // only if an lstat right before shows it unchanged.
            guard isBreakable(current) != nil else { return withdraw() }
            guard case .success(let info) = system_lstat(lockPath) else { return withdraw() }
            let now = FileIdentity(info)
            guard now.isRegularFile, now.sameInode(as: current.identity),
                  pinnedMetadataState(current.identity, now) == .stable,
                  (try? system_unlink(lockPath).get()) != nil else { return withdraw() }
            notice(.brokeStaleLock(path: lockPath, reason: reason))
        case .observed:
            break // a newer lock: the stale one is already gone
        }
        unlinkIfSameInode(claimPath, claim)
        claimRemoved = true
        return true
    }

    struct Ownership {
        let ownerPath: String
        let candidatePath: String
        let owned: FileIdentity
        let descriptor: Int32
    }

    /// botmux's `tryAcquireStaleClaimOwnership`: become the claim's owner
    /// at the next epoch, or nil if a live (or too young) owner has it.
    private func acquireOwnership(claimPath: String, claimWasCreated: Bool) -> Ownership? {
        guard case .success(let claimInfo) = system_lstat(claimPath) else { return nil }
        let claim = FileIdentity(claimInfo)
        guard claim.isRegularFile else { return nil }
        guard case .success(let names) = system_listFolder(folder) else { return nil }
        let claimName = StoreLocation(target: claimPath).name
        let epochs = names.compactMap { ownerEpoch(claimName: claimName, name: $0) }.sorted()

        var nextEpoch = 0
        if let latest = epochs.last {
            guard case .observed(let owner) = readPinned(ownerPath(claimPath, latest)),
                  isBreakable(owner) != nil else { return nil }
            nextEpoch = latest + 1
            guard nextEpoch < 1_000_000_000_000 else { return nil }
        } else {
            // The claim's creator may be between link(2) and publishing its
            // owner; link(2) refreshed the claim's ctime.
            let ownerlessAge = system_nowMilliseconds() - claim.changedMilliseconds
            if !claimWasCreated && ownerlessAge < max(minimumAge, 1000) { return nil }
        }

        let ownerPath = ownerPath(claimPath, nextEpoch)
        let candidatePath = ownerPath + Self.candidateInfix + "\(system_getpid())-" + Self.randomUUID()
        let descriptor: Int32
        switch system_open(candidatePath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY, mode: 0o600) {
        case .success(let fd): descriptor = fd
        case .failure: return nil
        }
        var owned: FileIdentity?
        func abandon() -> Ownership? {
            _ = system_close(descriptor)
            if let owned {
                unlinkIfSameInode(ownerPath, owned)
                unlinkIfSameInode(candidatePath, owned)
            } else {
                _ = system_unlink(candidatePath)
            }
            return nil
        }
        let written = payload.withUnsafeBytes { system_writeAll(descriptor, $0) }
        guard case .success = written, case .success = system_fchmod(descriptor, mode),
              case .success(let ownedInfo) = system_fstat(descriptor) else { return abandon() }
        owned = FileIdentity(ownedInfo)
        guard case .success(let beforePublish) = system_lstat(claimPath),
              FileIdentity(beforePublish).sameInode(as: claim) else { return abandon() }
        // link(2) publishes the complete owner atomically and never overwrites.
        guard case .success = system_link(candidatePath, ownerPath),
              case .success(let publishedInfo) = system_lstat(ownerPath),
              case .success(let claimAfter) = system_lstat(claimPath) else { return abandon() }
        let published = FileIdentity(publishedInfo)
        guard published.isRegularFile, published.sameInode(as: owned!),
              FileIdentity(claimAfter).sameInode(as: claim) else { return abandon() }
        return Ownership(ownerPath: ownerPath, candidatePath: candidatePath, owned: owned!, descriptor: descriptor)
    }

    /// botmux's `cleanStaleClaimOwnership`: the owner files of this claim,
    /// every epoch and candidate, once the claim itself is gone.
    private func cleanOwnership(claimPath: String, _ ownership: Ownership) {
        _ = system_close(ownership.descriptor)
        unlinkIfSameInode(ownership.ownerPath, ownership.owned)
        unlinkIfSameInode(ownership.candidatePath, ownership.owned)
        guard case .success(let names) = system_listFolder(folder) else { return }
        let claimName = StoreLocation(target: claimPath).name
        for name in names where ownerEpoch(claimName: claimName, name: name) != nil || isCandidate(claimName: claimName, name: name) {
            _ = system_unlink(folder + "/" + name)
        }
    }

    private func ownerPath(_ claimPath: String, _ epoch: Int) -> String {
        let digits = String(epoch)
        return claimPath + Self.ownerInfix + String(repeating: "0", count: max(0, Self.ownerWidth - digits.count)) + digits
    }

    /// The epoch of `<claim>.owner-<12 digits>`, or nil.
    private func ownerEpoch(claimName: String, name: String) -> Int? {
        let prefix = claimName + Self.ownerInfix
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.utf8.dropFirst(prefix.utf8.count)
        guard rest.count == Self.ownerWidth, rest.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int(String(decoding: rest, as: UTF8.self))
    }

    /// Whether `name` is `<claim>.owner-<12 digits>.candidate-<pid>-<uuid>`.
    private func isCandidate(claimName: String, name: String) -> Bool {
        let prefix = claimName + Self.ownerInfix
        guard name.hasPrefix(prefix) else { return false }
        let rest = Array(name.utf8.dropFirst(prefix.utf8.count))
        let infix = Array(Self.candidateInfix.utf8)
        guard rest.count > Self.ownerWidth + infix.count,
              rest[..<Self.ownerWidth].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              Array(rest[Self.ownerWidth..<(Self.ownerWidth + infix.count)]) == infix else { return false }
        let tail = rest[(Self.ownerWidth + infix.count)...]
        guard let dash = tail.firstIndex(of: UInt8(ascii: "-")), dash > tail.startIndex,
              tail[..<dash].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return false }
        let uuid = tail[(dash + 1)...]
        return LockHolder.isUUID(uuid) && !uuid.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "F") })
    }

    /// A random (version 4) UUID in lowercase, like Node's `randomUUID()`.
    static func randomUUID() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[6] = (bytes[6] & 0x0f) | 0x40
        bytes[8] = (bytes[8] & 0x3f) | 0x80
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for (index, byte) in bytes.enumerated() {
            if [4, 6, 8, 10].contains(index) { text.append(UInt8(ascii: "-")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
