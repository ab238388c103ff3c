import Catalog
import CatalogStore
import EventStore
import Foundation
import JobManager
import Logging
import Server
import Testing
import TestSupport

/// A forged `RunSkipped` or `RunRequested` with a scheduled time far in the future used to
/// stop a job's schedule for ever (the scheduler continued from the highest time it had
/// seen). The scheduler now passes over a time beyond the job's next computed run, reports
/// it, and runs the job at its next time.
@Suite("Scheduler: forged schedule events")
struct ForgedScheduleTests {
    static func utc(days: Int, _ hour: Int, _ minute: Int, _ second: Int = 30) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        return calendar.date(byAdding: DateComponents(day: days, hour: hour, minute: minute, second: second), to: calendar.startOfDay(for: Date()))!
    }

    static func setUp() async throws -> (TestDatabase, EventStore, Scheduler, String) {
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let manager = JobManager(store: store, logger: logger)
        let catalog = CatalogStore(events: store)
        try await catalog.execute(metadata: EventMetadata(actor: "test")) { start throws(CatalogError) in
            var plan = CatalogPlan(start)
            try plan.add(ManagedServer(name: "lab", platform: .lab, folder: "/nonexistent/lab"))
            try plan.add(RepositoryDefinition(name: "repo", path: "/nonexistent/repo"))
            var settings = JobSettings()
            settings.name = "nightly"
            settings.server = "lab"
            settings.repository = "repo"
            settings.objects = ["vm:a"]
            settings.schedule = "daily at 23:59"
            settings.timeZone = "UTC"
            try plan.add(try settings.definition(base: nil, in: plan.state, defaultTimeZone: "UTC"))
            return plan.changes
        }
        let job = try await catalog.load().require(JobDefinition.self, named: "nightly")
        return (database, store, Scheduler(store: store, manager: manager, logger: logger), job)
    }

    /// Appends a schedule event as the service role would: through the event store's API.
    static func forge(_ type: ScheduleEvent.Kind, job: String, scheduledFor: Date, store: EventStore) async throws -> Int64 {
        let payload: any Encodable =
            type == .runSkipped
            ? ScheduleEvent.RunSkipped(jobId: job, scheduledFor: scheduledFor, reason: "job disabled", count: 1, nextRunAt: scheduledFor)
            : ScheduleEvent.RunRequested(
                jobId: job, scheduledFor: scheduledFor, trigger: "scheduled", sessionId: UUID().uuidString.lowercased(), nextRunAt: scheduledFor)
        let data = String(decoding: try ScheduleEvent.encoder().encode(payload), as: UTF8.self)
        let result = try await store.append(
            to: try StreamName(ScheduleEvent.stream(of: job)), events: [try NewEvent(type: type.rawValue, jsonData: data)])
        return result.positions[0]
    }

    @Test("a RunSkipped for 2099 is ignored and reported; the job runs at its next time", arguments: [ScheduleEvent.Kind.runSkipped, .runRequested])
    func farFuture(kind: ScheduleEvent.Kind) async throws {
        let (_, store, scheduler, job) = try await Self.setUp()
        let forged = try await Self.forge(kind, job: job, scheduledFor: Date(timeIntervalSince1970: 4_070_908_800), store: store)  // 2099-01-01
        #expect(try await scheduler.tick(at: Self.utc(days: 0, 23, 59)).count == 1)
        #expect(scheduler.ignoredScheduleEvents == [forged])
        // And the day after, again: the forged time never becomes the one continued from.
        _ = try? await JobManager(store: store).run(session: Scheduler.sessionIDForTests(job: job, slot: Self.utc(days: 0, 23, 59, 0)))
        #expect(try await scheduler.tick(at: Self.utc(days: 1, 23, 59)).count == 1)
        await store.pool.close()
    }

    @Test("a time beyond the next run is passed over, the last genuine one is continued from: nothing is run twice")
    func genuineKept() async throws {
        let (_, store, scheduler, job) = try await Self.setUp()
        #expect(try await scheduler.tick(at: Self.utc(days: 0, 23, 59)).count == 1)
        // Forged at 23:59:40 today: two days ahead, beyond tomorrow's run.
        let forged = try await Self.forge(.runSkipped, job: job, scheduledFor: Self.utc(days: 2, 23, 59, 0), store: store)
        // Today's run is recorded and not run again; the forged time is not trusted.
        #expect(try await scheduler.tick(at: Self.utc(days: 0, 23, 59, 50)).isEmpty)
        #expect(scheduler.ignoredScheduleEvents == [forged])
        _ = try? await JobManager(store: store).run(session: Scheduler.sessionIDForTests(job: job, slot: Self.utc(days: 0, 23, 59, 0)))
        #expect(try await scheduler.tick(at: Self.utc(days: 1, 23, 59)).count == 1)
        await store.pool.close()
    }
}
