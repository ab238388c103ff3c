import Crypto
import Foundation
import Postgres

/// The log's hash chain (`tidemark.event_chain`, migration 0007): its head, one of its rows,
/// and the verification that recomputes it from the events.
///
/// Every append call adds one row: the sha256 digest of each event it stored, in position
/// order, and `hash = sha256(previous hash || digests)`. The verifier recomputes each
/// digest here, in Swift, from the columns it reads, so a function replaced in the database
/// cannot vouch for an edited event.
public enum EventChain {
    /// A point of the chain: the last position of a chain row and the row's hash.
    public struct Head: Sendable, Equatable, Codable {
        public let position: Int64
        /// The row's hash, 64 lower-case hex digits.
        public let hash: String

        public init(position: Int64, hash: String) {
            self.position = position
            self.hash = hash
        }
    }

    /// The hash before the first row.
    static let genesis = [UInt8](repeating: 0, count: 32)

    /// The newest chain row, or nil when the log is empty.
    public static func head(of store: EventStore) async throws -> Head? {
        let result = try await store.pool.query(EventChainStatements.head)
        guard result.rowCount == 1 else { return nil }
        return Head(position: try result.decode(0, 0), hash: try result.decode(0, 1))
    }

    /// The hash the chain holds for the row ending at `position`, or nil when no row ends there.
    public static func hash(at position: Int64, in store: EventStore) async throws -> String? {
        let result = try await store.pool.query(EventChainStatements.rowHash, [position])
        guard result.rowCount == 1 else { return nil }
        return try result.decode(0, 0)
    }
}

/// The chain's SQL. The events' canonical text is put together here with built-in casts
/// only (no Tidemark function), the same text `tidemark.event_digest` hashes.
enum EventChainStatements {
    static let head = PostgresStatement(
        name: "tidemark_chain_head",
        sql: "SELECT last_position, encode(hash, 'hex') FROM tidemark.event_chain ORDER BY last_position DESC LIMIT 1")
    static let rowHash = PostgresStatement(
        name: "tidemark_chain_row_hash",
        sql: "SELECT encode(hash, 'hex') FROM tidemark.event_chain WHERE last_position = $1")
    static let rowContaining = PostgresStatement(
        name: "tidemark_chain_row_containing",
        sql: "SELECT first_position FROM tidemark.event_chain WHERE last_position > $1 ORDER BY last_position LIMIT 1")
    /// The first event after a position that no chain row covers; events and rows are seen
    /// in one snapshot, so an append committing meanwhile shows both or neither.
    static let unchainedAfter = PostgresStatement(
        name: "tidemark_chain_unchained_after",
        sql: """
            SELECT e.position FROM tidemark.events AS e
             WHERE e.position > $1 AND NOT EXISTS (
                   SELECT 1 FROM (SELECT c.first_position FROM tidemark.event_chain AS c
                                   WHERE c.last_position >= e.position ORDER BY c.last_position LIMIT 1) AS r
                    WHERE r.first_position <= e.position)
             ORDER BY e.position LIMIT 1
            """)
    static let rows = PostgresStatement(
        name: "tidemark_chain_rows",
        sql: """
            SELECT first_position, last_position, event_digests, previous_hash, hash FROM tidemark.event_chain
             WHERE last_position > $1 AND last_position <= $2 ORDER BY last_position LIMIT $3
            """)
    static let events = PostgresStatement(
        name: "tidemark_chain_events",
        sql: """
            SELECT position,
                   position::text || E'\\n' || stream_id || E'\\n' || stream_version::text || E'\\n' || event_id::text
                   || E'\\n' || event_type || E'\\n' || schema_version::text
                   || E'\\n' || ((extract(epoch FROM recorded_at) * 1000000)::bigint)::text
                   || E'\\n' || data::text || E'\\n' || metadata::text
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

extension Array where Element == UInt8 {
    /// Lower-case hex, as `encode(..., 'hex')` writes it.
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(count * 2)
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
