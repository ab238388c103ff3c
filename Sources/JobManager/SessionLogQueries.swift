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

extension EventStore {
    /// What began each of these session streams (`SessionStarted`'s trigger; absent when the
    /// session was recorded before triggers were).
    func sessionTriggers(streams: [String]) async throws -> [String: SessionEvent.Trigger] {
        guard !streams.isEmpty else { return [:] }
        let result = try await pool.query(
            "SELECT stream_id, data ->> 'trigger' FROM tidemark.events WHERE stream_id = ANY($1::text[]) AND event_type = $2",
            [streams, SessionEvent.Kind.sessionStarted.rawValue])
        var triggers: [String: SessionEvent.Trigger] = [:]
        for row in 0..<result.rowCount {
            guard let trigger = try result.decodeIfPresent(row, 1, as: String.self) else { continue }
            triggers[try result.decode(row, 0, as: String.self)] = SessionEvent.Trigger(rawValue: trigger)
        }
        return triggers
    }
}
