import Catalog
import EventStore
import Foundation
import JobManager
import Logging
import Postgres
import WorkflowEvents

/// What the log queries the server asks cost on a large log (issue 13, finding 2): the
/// unfinished sessions (asked every second) and a job's live restore points (asked by every
/// session), with migration 0010's indexes and, as the reference, on the same log without them.
struct BenchLogQueries {
    /// Migration 0010's indexes, dropped for the reference and made again after.
    static let indexes = [
        "events_session_started_idx", "events_session_finished_idx", "events_session_started_job_idx",
        "events_restore_point_job_idx", "events_restore_point_removed_idx", "events_repository_checked_idx",
    ]

    let store: EventStore
    let bench: BenchDatabase
    let logger: Logger

    func measure() async throws -> [BenchCase] {
        let busiest = try await store.pool.query(
            "SELECT job_id FROM projection.restore_points WHERE removed_at IS NULL AND job_id IS NOT NULL GROUP BY job_id ORDER BY count(*) DESC LIMIT 1"
        )
        guard busiest.rowCount == 1 else { throw BenchSetupError("the history holds no live restore point to ask for") }
        let job: String = try busiest.decode(0, 0)
        let indexed = try await polls(job: job)
        let connection = try await PostgresConnection.connect(bench.administrator, logger: logger)
        let bare = try await withClosing(connection) { _ in
            let found = try await connection.query(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'tidemark' AND indexname = ANY($1)", [Self.indexes])
            let definitions = try (0..<found.rowCount).map { try found.decode($0, 1, as: String.self) }
            guard definitions.count == Self.indexes.count else {
                throw BenchSetupError("the bench database has \(definitions.count) of migration 0010's \(Self.indexes.count) indexes")
            }
            for name in Self.indexes { try await connection.execute("DROP INDEX tidemark.\(name)") }
            let bare = try await polls(job: job)
            for definition in definitions { try await connection.execute(definition) }
            try await connection.execute("ANALYZE tidemark.events")
            return bare
        }
        return [
            BenchCase(
                name: "poll: unfinished sessions, p50", value: indexed.open.percentile(0.5), unit: "ms",
                reference: bare.open.percentile(0.5)),
            BenchCase(
                name: "a job's live restore points, p50", value: indexed.live.percentile(0.5), unit: "ms",
                reference: bare.live.percentile(0.5)),
        ]
    }

    /// Twenty of each query, one after the other, as a server would ask them.
    private func polls(job: String) async throws -> (open: LatencySamples, live: LatencySamples) {
        let clock = ContinuousClock()
        var open = LatencySamples()
        var live = LatencySamples()
        for _ in 0..<20 {
            var start = clock.now
            _ = try await store.openStreams(
                opened: SessionEvent.logKind(.sessionStarted), closedBy: SessionEvent.Kind.sessionFinished.rawValue,
                field: SessionEvent.Field.jobId)
            open.record(clock.now - start)
            start = clock.now
            _ = try await store.live(
                SessionEvent.logKind(.restorePointCreated), field: SessionEvent.Field.jobId, equals: job,
                cancelledBy: SessionEvent.Kind.restorePointRemoved.rawValue, key: SessionEvent.Field.restorePointId)
            live.record(clock.now - start)
        }
        return (open, live)
    }
}
