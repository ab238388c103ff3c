import EventStore
import Foundation
import Postgres

/// Where a projection stands against the log.
public struct ProjectionStatus: Sendable {
    public let name: String
    public let position: Int64
    public let head: Int64
    /// Events of the whole log past the checkpoint (not all of them concern the projection).
    public var eventsBehind: Int64 { max(0, head - position) }
    /// How long the oldest event past the checkpoint has been waiting; 0 when caught up.
    public let lagSeconds: Double
    public let updatedAt: Date
    public let rebuiltAt: Date?
}

extension Projector {
    /// Each projection's checkpoint, the log's head, and the lag.
    public func status() async throws -> [ProjectionStatus] {
        let result = try await store.pool.query(
            """
            SELECT c.projection, c.position, h.head, c.updated_at, c.rebuilt_at,
                   coalesce(extract(epoch FROM clock_timestamp() - (SELECT e.recorded_at FROM tidemark.events e
                                                                     WHERE e.position > c.position ORDER BY e.position LIMIT 1)), 0)::float8
              FROM projection.checkpoints c
             CROSS JOIN (SELECT coalesce(max(position), 0) AS head FROM tidemark.events) h
             ORDER BY c.projection
            """)
        var statuses: [ProjectionStatus] = []
        for row in 0..<result.rowCount {
            statuses.append(
                ProjectionStatus(
                    name: try result.decode(row, 0), position: try result.decode(row, 1), head: try result.decode(row, 2),
                    lagSeconds: try result.decode(row, 5), updatedAt: try result.decode(row, 3), rebuiltAt: try result.decodeIfPresent(row, 4)))
        }
        return statuses
    }
}
