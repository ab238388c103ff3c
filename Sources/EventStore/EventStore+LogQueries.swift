import Foundation
import Postgres

/// Running the log queries (`LogQuery`): each answer includes every committed event.
extension EventStore {
    /// Streams opened by an `opened` event and holding no `closedBy` event yet, oldest first,
    /// with the text of `field` in the opening event's data (nil when absent): unfinished sessions.
    public func openStreams(
        opened: LogQuery.Kind, closedBy: String, field: String
    ) async throws
        -> [(stream: String, value: String?)]
    {
        let result = try await pool.query(LogQuery.statement(try LogQuery.openStreams(opened: opened, closedBy: closedBy, field: field)))
        return try (0..<result.rowCount).map { (try result.decode($0, 0), try result.decodeIfPresent($0, 1)) }
    }

    /// Whether an event of `kind` whose `field` equals `value` exists outside the stream `outside`.
    public func contains(_ kind: LogQuery.Kind, field: String, equals value: String, outside: String? = nil) async throws -> Bool {
        let result = try await pool.query(LogQuery.statement(try LogQuery.contains(kind, field: field)), [value, outside ?? ""])
        return try result.decode(0, 0)
    }

    /// The `closedBy` events of streams whose `opened` event has `field` equal to `value`
    /// (outside the stream `outside`), newest first, at most `limit`: how a job's last
    /// sessions ended.
    public func closings(
        opened: LogQuery.Kind, field: String, equals value: String, closedBy: String, outside: String? = nil, limit: Int
    ) async throws -> [LogQuery.Row] {
        let sql = try LogQuery.closings(opened: opened, field: field, closedBy: closedBy)
        return try Self.rows(try await pool.query(LogQuery.statement(sql), [value, outside ?? "", Int64(max(0, limit))]))
    }

    /// Events of `kind` whose `field` equals `value` (outside the stream `outside`), oldest
    /// first, except those a `cancelledBy` event of the same category names by the same `key`:
    /// a job's live restore points.
    public func live(
        _ kind: LogQuery.Kind, field: String, equals value: String, outside: String? = nil, cancelledBy: String, key: String
    ) async throws -> [LogQuery.Row] {
        let sql = try LogQuery.live(kind, field: field, cancelledBy: cancelledBy, key: key)
        return try Self.rows(try await pool.query(LogQuery.statement(sql), [value, outside ?? ""]))
    }

    /// Every event of `kind`, oldest first, except those a `cancelledBy` event names by `key`:
    /// every live restore point.
    public func live(_ kind: LogQuery.Kind, cancelledBy: String, key: String) async throws -> [LogQuery.Row] {
        let sql = try LogQuery.liveAll(kind, cancelledBy: cancelledBy, key: key)
        return try Self.rows(try await pool.query(LogQuery.statement(sql)))
    }

    /// Streams of `category` whose name starts with `prefix` (taken literally, `%` and `_`
    /// included), at most `limit`.
    public func streams(category: String, prefix: String, limit: Int) async throws -> [String] {
        let escaped = prefix.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
        let result = try await pool.query(
            LogQuery.statement(try LogQuery.streams(category: category)), [escaped + "%", Int64(max(0, limit))])
        return try (0..<result.rowCount).map { try result.decode($0, 0) }
    }

    private static func rows(_ result: PostgresResult) throws -> [LogQuery.Row] {
        try (0..<result.rowCount).map { row in
            LogQuery.Row(stream: try result.decode(row, 0), data: try result.decode(row, 1), recordedAt: try result.decode(row, 2))
        }
    }
}
