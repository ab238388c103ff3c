import EventStore
import Foundation
import Postgres
import Projections
import TestSupport
import Testing

/// Issue 12, finding 8: deleted checkpoint rows used to make every reading command fail
/// while `db migrate` said "up to date". Now the service role may not delete them, and a
/// missing row is recreated at position 0 (its projection rebuilt from the log) by the next
/// read and by `db migrate`.
@Suite("Missing projection checkpoints are recreated", .serialized)
struct CheckpointRecoveryTests {
    func snapshot(_ database: TestDatabase) async throws -> [String] {
        var rows: [String] = []
        for view in ["jobs", "sessions", "restore_points", "daily_statistics"] {
            let result = try await database.administratorQuery(
                "SELECT coalesce(jsonb_agg(to_jsonb(v) ORDER BY to_jsonb(v)::text)::text, '') FROM reporting.\(view) v")
            rows.append(try result.decode(0, 0))
        }
        return rows
    }

    @Test(
        "the service role cannot delete checkpoints; deleted by an administrator, the next catch-up and db migrate recreate and rebuild them"
    )
    func recreated() async throws {
        var fixture = try await HistoryFixture.make(jobs: 3, vmsPerJob: 2)
        let projector = Projector(store: fixture.store, logger: quietLogger)
        try await fixture.addSessions(12, projector: projector)
        try await projector.catchUp()
        let before = try await snapshot(fixture.database)

        let service = try await PostgresConnection.connect(fixture.database.service)
        await #expect(throws: PostgresError.self) { _ = try await service.query("DELETE FROM projection.checkpoints") }
        await service.close()

        try await fixture.database.administratorQuery("DELETE FROM projection.checkpoints")
        try await projector.catchUp()
        #expect(try await snapshot(fixture.database) == before, "rebuilt from the log, not applied twice")
        #expect(try await fixture.count("SELECT count(*) FROM projection.checkpoints") == Int64(StandardProjections.all.count))

        try await fixture.database.administratorQuery("DELETE FROM projection.checkpoints WHERE projection IN ('sessions', 'statistics')")
        let scratch = FileManager.default.temporaryDirectory
        let migrate = try TidemarkProcess.run(
            ["db", "migrate", "--database-url", fixture.database.administratorConnectionString], in: scratch)
        #expect(migrate.status == 0, "\(migrate.output)")
        #expect(migrate.output.contains("recreated the missing checkpoint of projection 'sessions'"), "\(migrate.output)")
        #expect(!migrate.output.contains("up to date"))
        #expect(try await snapshot(fixture.database) == before)
        let again = try TidemarkProcess.run(
            ["db", "migrate", "--database-url", fixture.database.administratorConnectionString], in: scratch)
        #expect(again.output.contains("up to date"), "\(again.output)")
    }
}
