import Catalog
import CatalogStore
import EventStore
import Foundation
import JobManager
import Logging
import Postgres
import Projections
import TestSupport
import Testing

@testable import Server

@Suite("Scheduler")
struct SchedulerTests {
    struct World {
        let database: TestDatabase
        let store: EventStore
        let manager: JobManager
        let scheduler: Scheduler
        let catalog: CatalogStore
    }

    static func world(jobs: [(name: String, schedule: String, window: String?)]) async throws -> World {
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
            for job in jobs {
                var settings = JobSettings()
                settings.name = job.name
                settings.server = "lab"
                settings.repository = "repo"
                settings.objects = ["vm:a"]
                settings.schedule = job.schedule
                settings.timeZone = "UTC"
                settings.backupWindow = job.window
                try plan.add(try settings.definition(base: nil, in: plan.state, defaultTimeZone: "UTC"))
            }
            return plan.changes
        }
        return World(
            database: database, store: store, manager: manager, scheduler: Scheduler(store: store, manager: manager, logger: logger),
            catalog: catalog)
    }

    /// A UTC moment `days` from today at `hour:minute`.
    static func utc(days: Int, _ hour: Int, _ minute: Int, _ second: Int = 30) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let today = calendar.startOfDay(for: Date())
        return calendar.date(byAdding: DateComponents(day: days, hour: hour, minute: minute, second: second), to: today)!
    }

    func decisions(_ world: World) async throws -> [(String, String)] {
        let result = try await world.database.administratorQuery(
            "SELECT event_type, coalesce(data->>'reason', data->>'trigger') FROM tidemark.events WHERE category = 'schedule' ORDER BY position"
        )
        return try (0..<result.rowCount).map { (try result.decode($0, 0), try result.decode($0, 1)) }
    }

    @Test("a due job gets one session per scheduled time; busy, disabled and missed runs are skipped with their reason")
    func dueAndSkipped() async throws {
        let world = try await Self.world(jobs: [("nightly", "daily at 23:59", nil)])
        // Not due before 23:59 today.
        #expect(try await world.scheduler.tick(at: Self.utc(days: 0, 23, 58)).isEmpty)
        let first = try await world.scheduler.tick(at: Self.utc(days: 0, 23, 59))
        try #require(first.count == 1)
        #expect(try await world.scheduler.tick(at: Self.utc(days: 0, 23, 59, 50)).isEmpty)
        // The next day the first session has not run yet: already running.
        #expect(try await world.scheduler.tick(at: Self.utc(days: 1, 23, 59)).isEmpty)
        // The session ends (it fails at once: the lab does not exist); then the job is disabled.
        _ = try? await world.manager.run(session: first[0])
        try await world.catalog.execute(metadata: EventMetadata(actor: "test")) { state throws(CatalogError) in
            try CatalogDecider.update(id: try state.require(JobDefinition.self, named: "nightly"), basedOn: nil, in: state) {
                (job: inout JobDefinition) in job.enabled = false
            }
        }
        #expect(try await world.scheduler.tick(at: Self.utc(days: 2, 23, 59)).isEmpty)
        try await world.catalog.execute(metadata: EventMetadata(actor: "test")) { state throws(CatalogError) in
            try CatalogDecider.update(id: try state.require(JobDefinition.self, named: "nightly"), basedOn: nil, in: state) {
                (job: inout JobDefinition) in job.enabled = true
            }
        }
        // Three days later with no scheduler running in between: the runs were missed; with no
        // backup window (always open) the job runs once for them.
        #expect(try await world.scheduler.tick(at: Self.utc(days: 5, 12, 0)).count == 1)
        let recorded = try await decisions(world)
        #expect(recorded.map(\.0) == ["RunRequested", "RunSkipped", "RunSkipped", "RunRequested"])
        #expect(recorded.map(\.1) == ["scheduled", "already running", "job disabled", "missed"])
    }

    @Test("a missed run outside the job's window is skipped, with how many times it covers")
    func missedOutsideWindow() async throws {
        // The job owes the 23:00 runs after it was made: today's only if it was made before 23:00.
        let madeBeforeToday2300 = Date() < Self.utc(days: 0, 23, 0, 0)
        let world = try await Self.world(jobs: [("windowed", "daily at 23:00", "22:00-06:00")])
        #expect(try await world.scheduler.tick(at: Self.utc(days: 3, 12, 0)).isEmpty)
        #expect(try await decisions(world).map(\.1) == ["missed while the server was down"])
        let count = try await world.database.administratorQuery(
            "SELECT (data->>'count')::int FROM tidemark.events WHERE category = 'schedule' ORDER BY position DESC LIMIT 1")
        #expect(try count.decode(0, 0, as: Int32.self) == (madeBeforeToday2300 ? 3 : 2))
    }

    @Test("a continuous job runs back to back, but waits after a failed session instead of spinning")
    func continuous() async throws {
        let world = try await Self.world(jobs: [("always", "continuously", nil)])
        let first = try await world.scheduler.tick()
        try #require(first.count == 1)
        #expect(try await world.scheduler.tick().isEmpty)  // still running
        _ = try? await world.manager.run(session: first[0])  // fails: the lab does not exist
        #expect(try await world.scheduler.tick().isEmpty)  // failed just now: it waits
        #expect(try await world.scheduler.tick(at: Date().addingTimeInterval(11 * 60)).count == 1)
    }

    @Test("a leader that died between beginning a session and recording it: the next records it, no duplicate")
    func adoptBegunSession() async throws {
        let world = try await Self.world(jobs: [("nightly", "daily at 23:59", nil)])
        let begun = try await world.scheduler.tick(at: Self.utc(days: 0, 23, 59))
        // Erase the memory of the decision, as a new leader without this one's record would be:
        // a fresh scheduler reading a log where the request was never recorded is simulated by
        // beginning the next slot's session by hand and ticking at that slot.
        let state = try await world.catalog.load()
        let job = try state.require(JobDefinition.self, named: "nightly")
        _ = try? await world.manager.run(session: begun[0])
        let slot = Self.utc(days: 1, 23, 59, 0)
        let session = try await world.manager.begin(
            jobID: job, in: state, trigger: "scheduled", session: Scheduler.sessionID(job: job, slot: slot))
        #expect(try await world.scheduler.tick(at: Self.utc(days: 1, 23, 59)).isEmpty)
        let last = try await decisions(world).last
        #expect(last?.0 == "RunRequested" && last?.1 == "scheduled")
        #expect(try await world.manager.unfinishedSessions() == [session])
    }

    @Test("a run missed while no scheduler ran still happens once when its backup window is open")
    func missedInsideWindow() async throws {
        let world = try await Self.world(jobs: [("windowed", "daily at 23:00", "22:00-06:00")])
        let begun = try await world.scheduler.tick(at: Self.utc(days: 3, 2, 0))
        try #require(begun.count == 1)
        #expect(try await decisions(world).map(\.1) == ["missed"])
        // Outside the window, a due run is skipped.
        _ = try? await world.manager.run(session: begun[0])
        #expect(try await world.scheduler.tick(at: Self.utc(days: 3, 23, 0)).count == 1)
    }

    @Test("a session begun for a scheduled time has an id from the job and the time: beginning it twice begins once")
    func idempotentBegin() async throws {
        let world = try await Self.world(jobs: [("nightly", "every 6 hours", nil)])
        let state = try await world.catalog.load()
        let job = try state.require(JobDefinition.self, named: "nightly")
        let id = UUID().uuidString.lowercased()
        let a = try await world.manager.begin(jobID: job, in: state, trigger: "scheduled", session: id)
        let b = try await world.manager.begin(jobID: job, in: state, trigger: "scheduled", session: id)
        #expect(a == b)
        #expect(try await world.manager.unfinishedSessions().count == 1)
    }

    @Test("chained jobs start when the job they follow ends, by hand after a session begun by hand; the jobs projection shows the next run")
    func chainsAndNextRun() async throws {
        let world = try await Self.world(jobs: [
            ("first", "daily at 23:59", nil), ("second", "after first", nil), ("third", "after second", nil),
        ])
        let state = try await world.catalog.load()
        let first = try state.require(JobDefinition.self, named: "first")
        let chained = try await world.scheduler.chain(after: first, trigger: .scheduled)
        #expect(chained.count == 1)
        let second = try state.require(JobDefinition.self, named: "second")
        #expect(try await world.scheduler.chain(after: second, trigger: .manual).count == 1)
        let triggers = try await world.database.administratorQuery(
            "SELECT data->>'job_name' || ' ' || (data->>'trigger') FROM tidemark.events WHERE event_type = 'SessionStarted' ORDER BY position"
        )
        let started = try (0..<triggers.rowCount).map { try triggers.decode($0, 0, as: String.self) }
        #expect(started == ["second chained", "third chained-by-hand"])
        try await Projector(store: world.store).catchUp()
        let next = try await world.database.administratorQuery("SELECT next_run_at FROM projection.jobs WHERE name = 'first'")
        #expect(try next.decode(0, 0, as: Date.self) == Self.utc(days: 0, 23, 59, 0))
        _ = try await world.scheduler.tick(at: Self.utc(days: 0, 23, 59))
        try await Projector(store: world.store).catchUp()
        let after = try await world.database.administratorQuery("SELECT next_run_at FROM projection.jobs WHERE name = 'first'")
        #expect(try after.decode(0, 0, as: Date.self) == Self.utc(days: 1, 23, 59, 0))
    }

    @Test("one scheduler leads; when it shuts down another takes over at once, when it dies once its lease expires")
    func leaderElection() async throws {
        let world = try await Self.world(jobs: [])
        let settings = world.database.service
        let scheduler = world.scheduler
        @Sendable func service(_ holder: String) -> Task<Void, any Error> {
            Task {
                var logger = Logger(label: "test")
                logger.logLevel = .critical
                return try await SchedulerService(
                    scheduler: scheduler, settings: settings, interval: .milliseconds(100), leaseSeconds: 1, holder: holder, logger: logger
                ).run()
            }
        }
        var tasks = ["a": service("a"), "b": service("b")]
        defer { for task in tasks.values { task.cancel() } }
        func leader() async throws -> (String, Int64)? {
            let result = try await world.database.administratorQuery(
                "SELECT holder, token FROM tidemark.leases WHERE name = 'scheduler' AND expires_at > clock_timestamp()")
            return result.rowCount == 1 ? (try result.decode(0, 0), try result.decode(0, 1)) : nil
        }
        func waitForLeader(otherThan previous: String?) async throws -> (String, Int64)? {
            for _ in 0..<60 {
                if let now = try await leader(), now.0 != previous { return now }
                try await Task.sleep(for: .milliseconds(100))
            }
            return nil
        }
        let first = try #require(try await waitForLeader(otherThan: nil))
        // A graceful shutdown hands the lease over: the other leads well within the lease time.
        tasks[first.0]?.cancel()
        let second = try #require(try await waitForLeader(otherThan: first.0))
        #expect(second.1 > first.1)
        // A leader whose connection dies (a crash): replaced after the lease expires.
        tasks[first.0] = service(first.0)
        let backend = try await world.database.administratorQuery(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND usename = 'tidemark_app' AND query LIKE '%renew_lease%'"
        )
        for row in 0..<backend.rowCount {
            try await world.database.administratorQuery("SELECT pg_terminate_backend($1)", [try backend.decode(row, 0, as: Int32.self)])
        }
        let third = try #require(try await waitForLeader(otherThan: nil))
        #expect(third.1 >= second.1)
    }
}
