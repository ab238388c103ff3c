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
        // Read once for all: a checkpoint read after it may be ahead of it, hence the max below.
        let head = try await store.headPosition()
        for projection in projections {
            let result = try await store.pool.query(
                "SELECT position, updated_at, rebuilt_at FROM projection.checkpoints WHERE projection = $1", [projection.name])
            guard result.rowCount == 1 else { throw Self.missingCheckpoint(projection.name) }
            let position: Int64 = try result.decode(0, 0)
            let lag = try await store.secondsBehind(position: position, categories: projection.categories)
            statuses.append(
                ProjectionStatus(
                    name: projection.name, position: position, head: max(head, position), lagSeconds: lag,
                    updatedAt: try result.decode(0, 1), rebuiltAt: try result.decodeIfPresent(0, 2)))
        }
        return statuses
    }
}
