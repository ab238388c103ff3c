import Catalog
import CatalogStore
import EventStore
import Foundation
import JobManager
import Logging
import TestSupport
import Testing
import WorkflowEvents

@testable import Server

/// A forged `RunSkipped` or `RunRequested` with a scheduled time far in the future used to
/// stop a job's schedule for ever (the scheduler continued from the highest time it had
/// seen). The scheduler now passes over a time beyond the job's next computed run, reports
/// it, and runs the job at its next time.
@Suite("Scheduler: forged schedule events")
struct ForgedScheduleTests {
    static func utc(days: Int, _ hour: Int, _ minute: Int, _ second: Int = 30) -> Date {
        SchedulerTests.utc(days: days, hour, minute, second)
    }

    /// The scheduler suite's world with one job, "nightly", daily at 23:59 UTC, and its id.
    static func setUp() async throws -> (TestDatabase, EventStore, Scheduler, String) {
        let world = try await SchedulerTests.world(jobs: [("nightly", "daily at 23:59", nil)])
        let job = try await world.catalog.load().require(JobDefinition.self, named: "nightly")
        return (world.database, world.store, world.scheduler, job)
    }

    /// Appends a schedule event as the service role would: through the event store's API.
    static func forge(_ type: ScheduleEvent.Kind, job: String, scheduledFor: Date, store: EventStore) async throws -> Int64 {
        let payload: any Encodable =
            type == .runSkipped
            ? ScheduleEvent.RunSkipped(jobId: job, scheduledFor: scheduledFor, reason: "job disabled", count: 1, nextRunAt: scheduledFor)
            : ScheduleEvent.RunRequested(
                jobId: job, scheduledFor: scheduledFor, trigger: "scheduled", sessionId: UUID().uuidString.lowercased(),
                nextRunAt: scheduledFor)
        let data = String(decoding: try ScheduleEvent.encoder().encode(payload), as: UTF8.self)
        let result = try await store.append(
            to: try StreamName(ScheduleEvent.stream(of: job)), events: [try NewEvent(type: type.rawValue, jsonData: data)])
        return result.positions[0]
    }

    @Test(
        "a RunSkipped for 2099 is ignored and reported; the job runs at its next time",
        arguments: [ScheduleEvent.Kind.runSkipped, .runRequested])
    func farFuture(kind: ScheduleEvent.Kind) async throws {
        let (_, store, scheduler, job) = try await Self.setUp()
        // 2099-01-01
        let forged = try await Self.forge(kind, job: job, scheduledFor: Date(timeIntervalSince1970: 4_070_908_800), store: store)
        #expect(try await scheduler.tick(at: Self.utc(days: 0, 23, 59)).count == 1)
        #expect(scheduler.ignoredScheduleEvents == [forged])
        // And the day after, again: the forged time never becomes the one continued from.
        _ = try? await JobManager(store: store).run(session: Scheduler.sessionID(job: job, slot: Self.utc(days: 0, 23, 59, 0)))
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
        _ = try? await JobManager(store: store).run(session: Scheduler.sessionID(job: job, slot: Self.utc(days: 0, 23, 59, 0)))
        #expect(try await scheduler.tick(at: Self.utc(days: 1, 23, 59)).count == 1)
        await store.pool.close()
    }
}
