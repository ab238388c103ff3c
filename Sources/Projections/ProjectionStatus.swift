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
    /// How long the oldest event of the projection's categories past the checkpoint has been
    /// waiting; 0 when none is.
    public let lagSeconds: Double
    public let updatedAt: Date
    public let rebuiltAt: Date?
}

extension Projector {
    /// Each projection's checkpoint, the log's head, and the lag.
    public func status() async throws -> [ProjectionStatus] {
        var statuses: [ProjectionStatus] = []
        for projection in projections {
            let result = try await store.pool.query(
                """
                SELECT c.position, (SELECT coalesce(max(position), 0) FROM tidemark.events), c.updated_at, c.rebuilt_at,
                       coalesce(extract(epoch FROM clock_timestamp() - (SELECT e.recorded_at FROM tidemark.events e
                                 WHERE e.category = ANY($2::text[]) AND e.position > c.position ORDER BY e.position LIMIT 1)), 0)::float8
                  FROM projection.checkpoints c WHERE c.projection = $1
                """, [projection.name, projection.categories])
            guard result.rowCount == 1 else { throw Self.missingCheckpoint(projection.name) }
            statuses.append(
                ProjectionStatus(
                    name: projection.name, position: try result.decode(0, 0), head: try result.decode(0, 1),
                    lagSeconds: try result.decode(0, 4), updatedAt: try result.decode(0, 2), rebuiltAt: try result.decodeIfPresent(0, 3)))
        }
        return statuses
    }
}
