import Foundation
import Postgres

extension EventStore {
    /// The log's head inside the caller's transaction: a projection rebuild reads it under
    /// the checkpoint locks it holds, so nothing lands between the head and its swap.
    public static func headPosition(on connection: isolated PostgresConnection) throws -> Int64 {
        try connection.query(Statements.head).decode(0, 0)
    }

    /// Events of `categories` in (`after`, `through`], at most `limit`, in position order,
    /// inside the caller's transaction (a projection applying a range in one transaction).
    public static func events(
        inCategories categories: [String], after: Int64, through: Int64, limit: Int, on connection: isolated PostgresConnection
    ) throws -> [RecordedEvent] {
        let result = try connection.query(
            """
            SELECT \(RecordedEvent.columns) FROM tidemark.events
             WHERE category = ANY($1::text[]) AND position > $2 AND position <= $3 ORDER BY position LIMIT $4
            """, [categories, after, through, limit])
        return try RecordedEvent.all(in: result)
    }

    /// How long ago (by the database's clock) the first event of `categories` after
    /// `position` was recorded: a reader at `position` is that far behind; 0 when it is not.
    public func secondsBehind(position: Int64, categories: [String]) async throws -> Double {
        try await pool.query(
            """
            SELECT coalesce(extract(epoch FROM clock_timestamp() - (SELECT recorded_at FROM tidemark.events
                    WHERE category = ANY($1::text[]) AND position > $2 ORDER BY position LIMIT 1)), 0)::float8
            """, [categories, position]
        ).decode(0, 0)
    }
}
