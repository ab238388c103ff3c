import Catalog
import CatalogStore
import EventStore
import Foundation
import Postgres
import Projections
import Testing

@Suite("Projections: live, rebuilt, verified")
struct ProjectionRebuildTests {
    @Test("a long mixed history rebuilt from position zero equals the live projection, row for row")
    func rebuildEqualsLive() async throws {
        var fixture = try await HistoryFixture.make()
        // Small batches, caught up between appends: many batch boundaries inside sessions.
        let projector = Projector(store: fixture.store, batchSize: 37)
        try await fixture.addSessions(60, projector: projector, catchUpEvery: 7)
        let catalog = CatalogStore(events: fixture.store)
        let jobID = try #require(try await catalog.load().id(of: JobDefinition.self, named: "job-2"))
        try await catalog.execute(metadata: EventMetadata(actor: "test")) { state throws(CatalogError) in
            try CatalogDecider.update(id: jobID, basedOn: nil, in: state) { (job: inout JobDefinition) in
                job.name = "job-2-renamed"
                job.compressionLevel = 7
            }
        }
        try await fixture.addSessions(10, projector: projector, catchUpEvery: 3)
        try await projector.catchUp()

        #expect(try await fixture.count("SELECT count(*) FROM projection.sessions") == 70)
        #expect(try await fixture.count("SELECT count(*) FROM projection.sessions WHERE state = 'finished' AND result IS NOT NULL") == 70)
        #expect(try await fixture.count("SELECT count(*) FROM projection.tasks WHERE attempts = 2") > 0)
        #expect(try await fixture.count("SELECT count(*) FROM projection.restore_points WHERE removed_at IS NOT NULL") > 0)
        #expect(try await fixture.count("SELECT count(*) FROM projection.jobs WHERE last_result IS NOT NULL") > 0)
        #expect(try await fixture.count("SELECT count(*) FROM projection.jobs WHERE name = 'job-2-renamed' AND (definition->>'compression_level')::int = 7") == 1)
        #expect(try await fixture.count("SELECT sum(sessions) FROM projection.daily_statistics") == 70)

        let differences = try await projector.verify(StandardProjections.all)
        #expect(differences.isEmpty, "\(differences.prefix(5))")

        let digest = "SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM (SELECT * FROM projection.tasks) x"
        let before: String = try await fixture.database.administratorQuery(digest).decode(0, 0)
        let report = try await projector.rebuild(StandardProjections.all)
        #expect(report.events > 0)
        let after: String = try await fixture.database.administratorQuery(digest).decode(0, 0)
        #expect(before == after)
        #expect(try await projector.verify(StandardProjections.all).isEmpty)
        #expect(try await fixture.count("SELECT count(*) FROM projection_shadow.tasks") == 0)
    }

    @Test("verify names every row that differs, on both sides, and exits non-empty")
    func verifyFindsTampering() async throws {
        var fixture = try await HistoryFixture.make(jobs: 3, vmsPerJob: 2)
        let projector = Projector(store: fixture.store)
        try await fixture.addSessions(5)
        try await projector.catchUp()
        try await fixture.database.administratorQuery("UPDATE projection.jobs SET description = 'tampered' WHERE name = 'job-1'")
        try await fixture.database.administratorQuery("DELETE FROM projection.sessions WHERE session_id = (SELECT min(session_id) FROM projection.sessions)")
        let differences = try await projector.verify(StandardProjections.all)
        #expect(differences.contains { $0.table == "jobs" && $0.side == .onlyLive && $0.row.contains("tampered") })
        #expect(differences.contains { $0.table == "jobs" && $0.side == .onlyRebuilt })
        #expect(differences.contains { $0.table == "sessions" && $0.side == .onlyRebuilt })
        // A rebuild repairs it.
        try await projector.rebuild(StandardProjections.all)
        #expect(try await projector.verify(StandardProjections.all).isEmpty)
    }

    @Test("two projectors catching up at once apply every event exactly once")
    func concurrentProjectors() async throws {
        var fixture = try await HistoryFixture.make(jobs: 4, vmsPerJob: 2)
        try await fixture.addSessions(30)
        let first = Projector(store: fixture.store, batchSize: 50)
        let second = Projector(store: fixture.database.eventStore(), batchSize: 64)
        async let a = first.catchUp()
        async let b = second.catchUp()
        _ = try await (a, b)
        #expect(try await fixture.count("SELECT sum(sessions) FROM projection.daily_statistics") == 30)
        #expect(try await first.verify(StandardProjections.all).isEmpty)
        let statuses = try await first.status()
        #expect(statuses.map(\.name) == ["catalog", "sessions", "statistics"])
        #expect(statuses.allSatisfy { $0.eventsBehind == 0 && $0.lagSeconds == 0 })
    }

    @Test("a following projector picks up new events within its poll interval")
    func following() async throws {
        var fixture = try await HistoryFixture.make(jobs: 2, vmsPerJob: 1)
        let projector = Projector(store: fixture.store)
        let follower = Task { try await projector.run(pollInterval: .milliseconds(200)) }
        defer { follower.cancel() }
        try await fixture.addSessions(3)
        var caughtUp = false
        for _ in 0..<50 where !caughtUp {
            try await Task.sleep(for: .milliseconds(100))
            caughtUp = try await fixture.count("SELECT count(*) FROM projection.sessions WHERE state = 'finished'") == 3
        }
        #expect(caughtUp)
    }
}
