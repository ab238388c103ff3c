import Foundation
import Postgres
import TestSupport
import Testing

@testable import EventStore

/// The log queries (issue 13, finding 2) on a log of 900 sessions of 45 events: each answers what its
/// raw SQL used to answer, and PostgreSQL's plan for it uses the indexes of migration 0010
/// instead of reading every event (`EXPLAIN`, after `ANALYZE`).
@Suite("Log queries and their indexes")
struct LogQueryPlanTests {
    static let started = LogQuery.Kind(category: "session", type: "SessionStarted")
    static let created = LogQuery.Kind(category: "session", type: "RestorePointCreated")
    static let checked = LogQuery.Kind(category: "session", type: "RepositoryChecked")

    /// 900 sessions of 30 jobs: started, repository checked, 40 checkpoints, a restore point,
    /// finished; every 50th unfinished, every 3rd restore point removed.
    static func log() async throws -> (TestDatabase, EventStore) {
        let database = try await TestDatabase.create()
        // In transactions of 100 sessions, as appends come: one transaction of all 900 takes
        // thirty times as long.
        for first in stride(from: 1, through: 900, by: 100) {
            try await database.administratorQuery(
                """
                DO $$
                DECLARE
                    v_stream text;
                    v_types text[];
                    v_data jsonb[];
                BEGIN
                    FOR i IN \(first)..\(first + 99) LOOP
                        v_stream := 'session-' || gen_random_uuid();
                        v_types := ARRAY['SessionStarted', 'RepositoryChecked']
                            || array_fill('TransferCheckpointed'::text, ARRAY[40]) || 'RestorePointCreated'::text;
                        v_data := ARRAY[
                            jsonb_build_object('session_id', substr(v_stream, 9), 'job_id', 'job-' || (i % 30), 'trigger', 'scheduled'),
                            jsonb_build_object('repository_id', 'repo-' || (i % 3), 'path', '/srv', 'online', true)]
                            || array_fill(jsonb_build_object('task_id', 'vm-1/2000', 'offset', i), ARRAY[40])
                            || jsonb_build_object('restore_point_id', 'rp-' || i, 'job_id', 'job-' || (i % 30), 'vm_id', 'vm-' || (i % 7));
                        IF i % 3 = 0 THEN
                            v_types := v_types || 'RestorePointRemoved'::text;
                            v_data := v_data || jsonb_build_object('restore_point_id', 'rp-' || i, 'reason', 'retention');
                        END IF;
                        IF i % 50 <> 0 THEN
                            v_types := v_types || 'SessionFinished'::text;
                            v_data := v_data || jsonb_build_object('result', 'success', 'transferred_bytes', i);
                        END IF;
                        PERFORM tidemark.append_events(
                            ARRAY[v_stream], ARRAY[-2::bigint], ARRAY[cardinality(v_types)],
                            (SELECT array_agg(gen_random_uuid()) FROM generate_series(1, cardinality(v_types))),
                            v_types, array_fill(1, ARRAY[cardinality(v_types)]), v_data,
                            array_fill('{}'::jsonb, ARRAY[cardinality(v_types)]));
                    END LOOP;
                END
                $$
                """)
        }
        // As autovacuum leaves a table in use: statistics, and a visibility map for index-only scans.
        try await database.administratorQuery("VACUUM (ANALYZE) tidemark.events")
        return (database, database.eventStore())
    }

    /// One log for the whole suite: filling it is most of the suite's time.
    static let shared = Task { try await log() }

    /// The plan PostgreSQL makes for `sql` with these values.
    static func plan(_ database: TestDatabase, _ sql: String, _ parameters: [any PostgresEncodable] = []) async throws -> String {
        let result = try await database.administratorQuery("EXPLAIN " + sql, parameters)
        return try (0..<result.rowCount).map { try result.decode($0, 0, as: String.self) }.joined(separator: "\n")
    }

    @Test("the categories read forward (the projector's catch-up): the (category, position) index per category, in the generic plan too")
    func categoriesForwardPlan() async throws {
        let (database, store) = try await Self.shared.value
        let events = try await store.read(after: 0, categories: ["session", "job"], limit: 45)
        #expect(events.count == 45 && events.map(\.position) == events.map(\.position).sorted())
        // The pool prepares the statement; after five runs PostgreSQL may plan it once for any
        // values, not knowing a lateral category's rarity: that plan must not walk the log.
        let connection = try await PostgresConnection.connect(database.administrator)
        do {
            _ = try await connection.query("SET plan_cache_mode = force_generic_plan")
            _ = try await connection.query(
                "PREPARE forward(bigint, bigint, text[], timestamptz, integer) AS " + Statements.categoriesForward.sql)
            let result = try await connection.query("EXPLAIN EXECUTE forward(0, 1000000, ARRAY['job', 'session'], NULL, 100)")
            let plan = try (0..<result.rowCount).map { try result.decode($0, 0, as: String.self) }.joined(separator: "\n")
            #expect(plan.contains("events_category_position_idx") && !plan.contains("events_pkey"), "\(plan)")
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    @Test("unfinished sessions: the answer, from the started and finished indexes")
    func openStreams() async throws {
        let (database, store) = try await Self.shared.value
        let open = try await store.openStreams(opened: Self.started, closedBy: "SessionFinished", field: "job_id")
        #expect(open.count == 18)
        #expect(open.allSatisfy { $0.stream.hasPrefix("session-") && ["job-0", "job-10", "job-20"].contains($0.value ?? "") })
        let plan = try await Self.plan(
            database, try LogQuery.openStreams(opened: Self.started, closedBy: "SessionFinished", field: "job_id"))
        #expect(plan.contains("events_session_started_idx"), "\(plan)")
        #expect(plan.contains("events_session_finished_idx"), "\(plan)")
        #expect(!plan.contains("Seq Scan"), "\(plan)")
    }

    @Test("a job's last finished sessions, newest first, from the job index")
    func closings() async throws {
        let (database, store) = try await Self.shared.value
        let last = try await store.closings(opened: Self.started, field: "job_id", equals: "job-7", closedBy: "SessionFinished", limit: 3)
        #expect(last.map { $0.data.contains("\"transferred_bytes\": 877") } == [true, false, false], "\(last.map(\.data))")
        let plan = try await Self.plan(
            database, try LogQuery.closings(opened: Self.started, field: "job_id", closedBy: "SessionFinished"), ["job-7", "", Int64(3)])
        #expect(plan.contains("events_session_started_job_idx"), "\(plan)")
        #expect(!plan.contains("Seq Scan"), "\(plan)")
    }

    @Test("a job's live restore points, oldest first, from the restore point indexes")
    func live() async throws {
        let (database, store) = try await Self.shared.value
        let points = try await store.live(
            Self.created, field: "job_id", equals: "job-7", cancelledBy: "RestorePointRemoved", key: "restore_point_id")
        // Job 7 has sessions 7, 37, ..., 877 (30); those divisible by 3 lost their point.
        let expected = stride(from: 7, through: 877, by: 30).filter { $0 % 3 != 0 }.map { "rp-\($0)" }
        #expect(points.compactMap { Self.restorePoint(in: $0.data) } == expected)
        let plan = try await Self.plan(
            database, try LogQuery.live(Self.created, field: "job_id", cancelledBy: "RestorePointRemoved", key: "restore_point_id"),
            ["job-7", ""])
        #expect(plan.contains("events_restore_point_job_idx"), "\(plan)")
        #expect(plan.contains("events_restore_point_removed_idx"), "\(plan)")
        #expect(!plan.contains("Seq Scan"), "\(plan)")
    }

    @Test("whether a repository was used before, outside one session, from the repository index")
    func contains() async throws {
        let (database, store) = try await Self.shared.value
        #expect(try await store.contains(Self.checked, field: "repository_id", equals: "repo-1"))
        #expect(try await store.contains(Self.checked, field: "repository_id", equals: "repo-9") == false)
        let plan = try await Self.plan(database, try LogQuery.contains(Self.checked, field: "repository_id"), ["repo-1", ""])
        #expect(plan.contains("events_repository_checked_idx"), "\(plan)")
        #expect(!plan.contains("Seq Scan"), "\(plan)")
    }

    @Test("a name that is not plain is refused before any SQL is built, and a stream prefix is taken literally")
    func badNames() async throws {
        #expect(throws: EventStoreError.self) { try LogQuery.contains(Self.checked, field: "job_id') OR ('1' = '1") }
        #expect(throws: EventStoreError.self) {
            try LogQuery.openStreams(opened: .init(category: "Session", type: "SessionStarted"), closedBy: "X", field: "a")
        }
        #expect(throws: EventStoreError.self) { try LogQuery.streams(category: "") }
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        try await store.append(to: "note-a_b", events: [try event()])
        try await store.append(to: "note-axb", events: [try event()])
        #expect(try await store.streams(category: "note", prefix: "note-a_", limit: 5) == ["note-a_b"])
        #expect(try await store.streams(category: "note", prefix: "note-a%", limit: 5).isEmpty)
        await store.pool.close()
    }

    static func restorePoint(in data: String) -> String? {
        (try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any])?["restore_point_id"] as? String
    }
}
