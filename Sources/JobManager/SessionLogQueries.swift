import Catalog
import EventStore
import Foundation
import WorkflowEvents

extension EventStore {
    /// The job's restore points that no `RestorePointRemoved` has taken back, oldest first
    /// (outside the stream `outside`, the session asking): incremental bases and retention.
    func liveRestorePoints(job: String, outside: String? = nil) async throws -> [LogQuery.Row] {
        try await live(
            SessionEvent.logKind(.restorePointCreated), field: SessionEvent.Field.jobId, equals: job, outside: outside,
            cancelledBy: SessionEvent.Kind.restorePointRemoved.rawValue, key: SessionEvent.Field.restorePointId)
    }
}
