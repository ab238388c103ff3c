import Crypto
import Foundation
import Postgres

/// The questions the workflows ask the log itself rather than a projection, because the answer
/// must include the last committed event (a projection may lag): which sessions are unfinished,
/// which restore points of a job are live, how a job's last sessions ended. The event store owns
/// their SQL, and nothing else names `tidemark.events`; the contracts that own the events give
/// the categories, event types and data fields. Those are spelled into the SQL as literals, not
/// passed as parameters, so that the partial expression indexes of migration 0010 serve the
/// queries (`LogQueryPlanTests` checks the plans with `EXPLAIN`); each distinct shape becomes one
/// named prepared statement. This file holds the shapes; `EventStore+LogQueries.swift` runs them.
public enum LogQuery {
    /// One event type of one stream category, e.g. (`session`, `SessionStarted`).
    public struct Kind: Sendable, Hashable {
        public let category: String
        public let type: String

        public init(category: String, type: String) {
            self.category = category
            self.type = type
        }
    }

    /// An event's data as stored (jsonb's text), the stream it belongs to and when it was
    /// recorded: for the contract that owns the event to decode.
    public struct Row: Sendable {
        public let stream: String
        public let data: String
        public let recordedAt: Date
    }

    /// Streams opened by `opened` without a `closedBy` event, oldest first, with `field` of the
    /// opening event. No parameters.
    static func openStreams(opened: Kind, closedBy: String, field: String) throws -> String {
        """
        SELECT s.stream_id, s.data ->> \(try self.field(field)) FROM tidemark.events AS s
         WHERE s.category = \(try category(opened.category)) AND s.event_type = \(try type(opened.type))
           AND NOT EXISTS (SELECT 1 FROM tidemark.events AS f
                            WHERE f.stream_id = s.stream_id AND f.event_type = \(try type(closedBy)))
         ORDER BY s.position
        """
    }

    /// Whether an event of `kind` has `field` = $1 outside the stream $2.
    static func contains(_ kind: Kind, field: String) throws -> String {
        """
        SELECT EXISTS (SELECT 1 FROM tidemark.events
                        WHERE category = \(try category(kind.category)) AND event_type = \(try type(kind.type))
                          AND data ->> \(try self.field(field)) = $1 AND stream_id <> $2)
        """
    }

    /// `closedBy` events of streams whose `opened` event has `field` = $1, outside the stream
    /// $2, newest first, at most $3.
    static func closings(opened: Kind, field: String, closedBy: String) throws -> String {
        """
        SELECT f.stream_id, f.data::text, f.recorded_at FROM tidemark.events AS f
          JOIN tidemark.events AS s ON s.stream_id = f.stream_id
               AND s.category = \(try category(opened.category)) AND s.event_type = \(try type(opened.type))
         WHERE f.event_type = \(try type(closedBy)) AND s.data ->> \(try self.field(field)) = $1 AND s.stream_id <> $2
         ORDER BY f.position DESC LIMIT $3
        """
    }

    /// Events of `kind` with `field` = $1 outside the stream $2, oldest first, but for those a
    /// `cancelledBy` event of the same category names by the same `key`.
    static func live(_ kind: Kind, field: String, cancelledBy: String, key: String) throws -> String {
        let keyField = try self.field(key)
        return """
            SELECT c.stream_id, c.data::text, c.recorded_at FROM tidemark.events AS c
             WHERE c.category = \(try category(kind.category)) AND c.event_type = \(try type(kind.type))
               AND c.data ->> \(try self.field(field)) = $1 AND c.stream_id <> $2
               AND NOT EXISTS (SELECT 1 FROM tidemark.events AS r
                                WHERE r.category = \(try category(kind.category)) AND r.event_type = \(try type(cancelledBy))
                                  AND r.data ->> \(keyField) = c.data ->> \(keyField))
             ORDER BY c.position
            """
    }

    /// Every event of `kind`, oldest first, but for those a `cancelledBy` event of the same
    /// category names by the same `key`. No parameters.
    static func liveAll(_ kind: Kind, cancelledBy: String, key: String) throws -> String {
        let keyField = try self.field(key)
        return """
            SELECT c.stream_id, c.data::text, c.recorded_at FROM tidemark.events AS c
             WHERE c.category = \(try category(kind.category)) AND c.event_type = \(try type(kind.type))
               AND NOT EXISTS (SELECT 1 FROM tidemark.events AS r
                                WHERE r.category = \(try category(kind.category)) AND r.event_type = \(try type(cancelledBy))
                                  AND r.data ->> \(keyField) = c.data ->> \(keyField))
             ORDER BY c.position
            """
    }

    /// Streams of a category whose id is LIKE $1, at most $2.
    static func streams(category name: String) throws -> String {
        """
        SELECT DISTINCT stream_id FROM tidemark.events
         WHERE category = \(try category(name)) AND stream_id LIKE $1 ORDER BY stream_id LIMIT $2
        """
    }

    /// A statement named after its text: each shape is prepared once per connection.
    static func statement(_ sql: String) -> PostgresStatement {
        let digest = SHA256.hash(data: Array(sql.utf8)).prefix(8).hexString
        return PostgresStatement(name: "tidemark_log_\(digest)", sql: sql)
    }

    private static func category(_ name: String) throws -> String {
        try literal(name, "category") { $0.isASCII && $0.isLowercase }
    }

    private static func type(_ name: String) throws -> String {
        try literal(name, "event type") { $0.isASCII && $0.isLetter }
    }

    private static func field(_ name: String) throws -> String {
        try literal(name, "field") { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
    }

    /// A name spelled into SQL between quotes: plain names only, so no quoting can go wrong.
    private static func literal(_ name: String, _ what: String, _ allowed: (Character) -> Bool) throws -> String {
        guard !name.isEmpty, name.count <= 64, name.allSatisfy(allowed) else {
            throw EventStoreError.invalid("a log query's \(what) '\(EscapedText.escaped(name))' is not a plain name")
        }
        return "'\(name)'"
    }
}
