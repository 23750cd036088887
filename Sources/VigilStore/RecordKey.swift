// The record members the typed properties of `SessionRecord` own, and how to
// recognise them in the source bytes without allocating a String per key.

/// A record member Vigil reads and writes, in `SessionRecord.reservedKeys` order.
import VigilJSON
enum RecordKey: Int, CaseIterable {
    case id, backend, status, backendSession, socket, cliId, closedAt, closeReason

    static let names: [StaticString] = [
        "id", "backend", "status", "backendSession", "socket", "cliId", "closedAt", "closeReason",
    ]

    /// The key as a String.
    var name: String { SessionRecord.reservedKeys[rawValue] }

    /// Read leniently (not part of the store contract): a non-string value is
    /// kept as it is, not refused.
    var isLenient: Bool { self == .closedAt || self == .closeReason }

    /// Which known member a validated key token names, if any. Plain keys are
    /// compared byte for byte; a key with escapes is decoded first (rare).
    static func match(_ key: JSONStringToken, in scanner: JSONScanner) -> RecordKey? {
        let length = key.end - key.start
        guard key.hasEscapes || (length >= 2 && length <= 14) else { return nil }
        for (index, name) in names.enumerated() where scanner.token(key, equals: name) {
            return RecordKey(rawValue: index)
        }
        return nil
    }
}

extension SessionRecord {
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
