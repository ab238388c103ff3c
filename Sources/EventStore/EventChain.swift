import Crypto
import Foundation
import Postgres

/// The log's hash chain (migration 0007): its head, the hash at a position, and the
/// verification that recomputes it from the events.
///
/// Every event row carries `digest`, the sha256 of its canonical text, and `chain_hash =
/// sha256(chain hash of the event before || digest)`, set by the append functions under the
/// log's write lock. The verifier recomputes each digest here, in Swift, from the columns it
/// reads, so a function replaced in the database cannot vouch for an edited event.
public enum EventChain {
    /// A point of the chain: an event's position and its chain hash.
    public struct Head: Sendable, Equatable, Codable {
        public let position: Int64
        /// The event's chain hash, 64 lower-case hex digits.
        public let hash: String

        public init(position: Int64, hash: String) {
            self.position = position
            self.hash = hash
        }
    }

    /// What the first event follows.
    static let genesis = [UInt8](repeating: 0, count: 32)

    /// The newest event's chain hash, or nil when the log is empty.
    public static func head(of store: EventStore) async throws -> Head? {
        let result = try await store.pool.query(EventChainStatements.head)
        guard result.rowCount == 1 else { return nil }
        return Head(position: try result.decode(0, 0), hash: try result.decode(0, 1))
    }

    /// The chain hash of the event at `position`, or nil when the log has no event there.
    public static func hash(at position: Int64, in store: EventStore) async throws -> String? {
        let result = try await store.pool.query(EventChainStatements.hashAt, [position])
        guard result.rowCount == 1 else { return nil }
        return try result.decode(0, 0)
    }
}

/// The chain's SQL. The events' canonical text is put together here with built-in casts
/// only (no Tidemark function), the same text `tidemark.event_digest` hashes.
enum EventChainStatements {
    static let head = PostgresStatement(
        name: "tidemark_chain_head",
        sql: "SELECT position, encode(chain_hash, 'hex') FROM tidemark.events ORDER BY position DESC LIMIT 1")
    static let hashAt = PostgresStatement(
        name: "tidemark_chain_hash_at",
        sql: "SELECT encode(chain_hash, 'hex') FROM tidemark.events WHERE position = $1")
    /// The two newest events at or before a position: where a walk from there starts.
    static let before = PostgresStatement(
        name: "tidemark_chain_before",
        sql: "SELECT position, chain_hash FROM tidemark.events WHERE position <= $1 ORDER BY position DESC LIMIT 2")
    static let events = PostgresStatement(
        name: "tidemark_chain_events",
        sql: """
            SELECT position,
                   position::text || E'\\n' || stream_id || E'\\n' || stream_version::text || E'\\n' || event_id::text
                   || E'\\n' || event_type || E'\\n' || schema_version::text
                   || E'\\n' || ((extract(epoch FROM recorded_at) * 1000000)::bigint)::text
                   || E'\\n' || data::text || E'\\n' || metadata::text,
                   digest, chain_hash
              FROM tidemark.events WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3
            """)
}

/// Raw bytes of a text or bytea column, copied once from libpq's buffer.
struct RawField: PostgresDecodable {
    let bytes: [UInt8]
    init?(postgresText bytes: UnsafeBufferPointer<UInt8>) { self.bytes = Array(bytes) }

    /// A bytea in PostgreSQL's hex output (`\x0a1b...`), decoded.
    var hexDecoded: [UInt8]? {
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x"), bytes.count % 2 == 0 else {
            return nil
        }
        var result = [UInt8]()
        result.reserveCapacity((bytes.count - 2) / 2)
        var index = 2
        while index < bytes.count {
            guard let high = Self.nibble(bytes[index]), let low = Self.nibble(bytes[index + 1]) else { return nil }
            result.append(high << 4 | low)
            index += 2
        }
        return result
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hex, as `encode(..., 'hex')` writes it. By table, not `String(format:)`,
    /// which costs microseconds a byte (a token's digest on every API request).
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
