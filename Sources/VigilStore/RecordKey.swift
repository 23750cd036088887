// The record members the typed properties of `SessionRecord` own, and how to
// recognise them in the source bytes without allocating a String per key.

public import VigilJSON

/// A record member Vigil reads and writes, in `SessionRecord.reservedKeys` order.
enum RecordKey: Int, CaseIterable {
    case id, backend, status, backendSession, socket, cliId, closedAt, closeReason

    /// The key as a String.
    var name: String { SessionRecord.reservedKeys[rawValue] }

    /// Read leniently (not part of the store contract): a non-string value is
    /// kept as it is, not refused.
    var isLenient: Bool { self == .closedAt || self == .closeReason }

    /// Which known member a validated key token names, if any. A plain key
    /// has at most one candidate by its length (and, for six bytes, its
    /// second byte), compared byte for byte; a key with escapes is decoded
    /// first (rare).
    @inline(__always)
    static func match(_ key: JSONStringToken, in scanner: JSONScanner) -> RecordKey? {
        guard !key.hasEscapes else {
            return allCases.first { scanner.token(key, equals: $0.staticName) }
        }
        let candidate: RecordKey
        switch key.end - key.start {
        case 2: candidate = .id
        case 5: candidate = .cliId
        case 6: candidate = scanner.bytes[key.start + 1] == UInt8(ascii: "t") ? .status : .socket
        case 7: candidate = .backend
        case 8: candidate = .closedAt
        case 11: candidate = .closeReason
        case 14: candidate = .backendSession
        default: return nil
        }
        return scanner.token(key, equals: candidate.staticName) ? candidate : nil
    }

    /// The key's bytes.
    var staticName: StaticString {
        switch self {
        case .id: "id"
        case .backend: "backend"
        case .status: "status"
        case .backendSession: "backendSession"
        case .socket: "socket"
        case .cliId: "cliId"
        case .closedAt: "closedAt"
        case .closeReason: "closeReason"
        }
    }
}

/// Members Vigil writes into a record beside the typed ones: the marks a
/// restore leaves when it kills a live session for a CLI change (the next
/// restore then keeps the record instead of closing it). To the record
/// they are daemon members, never required, set and read through
/// `SessionRecord.subscript(marker:)`; this is the one place their names
/// are spelled.
public enum MarkerKey: String, Sendable, Hashable, CaseIterable {
    /// When restore killed the session (ISO-8601 UTC).
    case killedAt
    /// Why restore killed it.
    case killReason

    /// The name as static bytes, for the loader's byte compare.
    var staticName: StaticString {
        switch self {
        case .killedAt: "killedAt"
        case .killReason: "killReason"
        }
    }
}

extension SessionRecord {
    /// A marker member's value as it would be written now, or nil; setting
    /// it is `subscript(field:)` with the marker's name.
    public subscript(marker key: MarkerKey) -> JSONValue? {
        get { self[field: key.rawValue] }
        set { self[field: key.rawValue] = newValue }
    }

    /// The typed value for `key`: nil when the optional property is unset.
    func typedValue(_ key: RecordKey) -> String? {
        switch key {
        case .id: id
        case .backend: backend.rawValue
        case .status: status.rawValue
        case .backendSession: backendSession
        case .socket: socket
        case .cliId: cliId
        case .closedAt: closedAt
        case .closeReason: closeReason
        }
    }
}
