import Catalog
import CatalogStore
import EventStore
import Foundation
import Postgres
import Projections
import Testing
import WorkflowEvents

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
        #expect(
            try await fixture.count(
                "SELECT count(*) FROM projection.jobs WHERE name = 'job-2-renamed' AND (definition->>'compression_level')::int = 7") == 1)
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

    @Test("session events missing fields or carrying wild values stop nothing, and batch boundaries do not matter")
    func oddSessionEvents() async throws {
        let fixture = try await HistoryFixture.make(jobs: 2, vmsPerJob: 1)
        let session = try StreamName("session-\(UUID().uuidString.lowercased())")
        let events = try [
            (#"SessionStarted"#, #"{"session_id":"s","job_id":"not-a-uuid","trigger":"manual"}"#),
            ("TaskStarted", #"{"task_id":"vm-1/2000","vm_id":"vm-1","vm_name":"web","disk_key":2000,"size_bytes":100,"attempt":1}"#),
            ("TaskStarted", #"{"task_id":"vm-1/2000","vm_id":"vm-1","disk_key":1099511627776,"attempt":2}"#),
            ("TransferCheckpointed", #"{"task_id":"vm-1/2000","offset":50}"#),
            ("TaskFinished", #"{"task_id":"vm-1/2000","result":"success"}"#),
            ("RestorePointCreated", #"{"restore_point_id":"rp-1","vm_id":"vm-1","disks":"not a list"}"#),
            ("SessionFinished", #"{"result":"success","processed_bytes":9223372036854775807,"duration_seconds":-5}"#),
            ("SessionFinished", #"{"result":"warning","processed_bytes":9223372036854775807,"read_bytes":-1,"duration_seconds":1e300}"#),
            ("TaskFinished", #"{"task_id": 12}"#),
        ].map { try NewEvent(type: $0.0, jsonData: $0.1) }
        try await fixture.store.append(to: session, events: events)
        // One event per batch live; one batch for all in the rebuild.
        let projector = Projector(store: fixture.store, batchSize: 1)
        try await projector.catchUp()
        #expect(try await projector.verify(StandardProjections.all).isEmpty)
        let task = try await fixture.database.administratorQuery(
            "SELECT vm_name, disk_key, attempts, offset_bytes, result FROM projection.tasks WHERE task_id = 'vm-1/2000'")
        #expect(try task.decode(0, 0, as: String.self) == "web")
        #expect(try task.decode(0, 1, as: Int64.self) == 2000)
        #expect(try task.decode(0, 2, as: Int64.self) == 2)
        #expect(try task.decode(0, 4, as: String.self) == "success")
        #expect(try await fixture.count("SELECT sessions FROM projection.daily_statistics") == 2)
        #expect(try await fixture.count("SELECT processed_bytes FROM projection.daily_statistics") == Int64.max)
    }

    @Test("verify names every row that differs, on both sides, and exits non-empty")
    func verifyFindsTampering() async throws {
        var fixture = try await HistoryFixture.make(jobs: 3, vmsPerJob: 2)
        let projector = Projector(store: fixture.store)
        try await fixture.addSessions(5)
        try await projector.catchUp()
        try await fixture.database.administratorQuery("UPDATE projection.jobs SET description = 'tampered' WHERE name = 'job-1'")
        try await fixture.database.administratorQuery(
            "DELETE FROM projection.sessions WHERE session_id = (SELECT min(session_id) FROM projection.sessions)")
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
        #expect(statuses.map(\.name) == ["catalog", "sessions", "statistics", "health", "restores", "publishes"])
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
