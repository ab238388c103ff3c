import Catalog
import CatalogStore
import EventStore
import Foundation
import JobManager
import Logging
import Postgres
import Server
import TestSupport
import Testing

/// Issue 12, finding 3: leadership and locks only the service can hold. A reader login could
/// take the advisory locks Tidemark used (and so stop all scheduling, or any catalog command),
/// and a frozen leader kept its lock for ever.
@Suite("Leadership and locks only the service can hold")
struct LeadershipTests {
    @Test("a reader login can take none of the service's locks, and old advisory keys it holds stop nothing")
    func readerCannotSquat() async throws {
        let world = try await SchedulerTests.world(jobs: [("nightly", "every 1 minutes", nil)])
        let reader = try await world.database.readerConnection()
        defer { Task { await reader.close() } }
        // Each of these was, or could have been, a way to stop the service.
        for statement in [
            "SELECT tidemark.acquire_lease('scheduler', 'mallory', 3600)",
            "INSERT INTO tidemark.leases VALUES ('scheduler', 'mallory', 999, now(), now() + interval '1 day')",
            "SELECT tidemark.claim_slot(1, 0)",
            "INSERT INTO tidemark.slot_claims (lock_class, slot, holder_pid) VALUES (1, 0, pg_backend_pid())",
            "LOCK TABLE tidemark.catalog_lock IN EXCLUSIVE MODE",
        ] {
            await #expect(throws: PostgresError.self, "\(statement)") { try await reader.query(statement) }
        }
        // The advisory keys of the scheduler, the catalog and projection maintenance, held by
        // the reader as the attack did: the service goes on regardless.
        for key in [1, 2, 3] { _ = try await reader.query("SELECT pg_advisory_lock(1953064037, $1)", [Int32(key)]) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let service = Task {
            try await SchedulerService(
                scheduler: world.scheduler, settings: world.database.service, interval: .milliseconds(100), leaseSeconds: 2, logger: logger
            ).run()
        }
        defer { service.cancel() }
        var led = false
        for _ in 0..<50 where !led {
            try await Task.sleep(for: .milliseconds(100))
            led =
                try await world.database.administratorQuery("SELECT count(*) FROM tidemark.leases WHERE name = 'scheduler'").decode(
                    0, 0, as: Int64.self) == 1
        }
        #expect(led)
        let catalogChange = Task {
            try await world.catalog.execute(metadata: EventMetadata(actor: "test")) { state throws(CatalogError) in
                try CatalogDecider.add(ProxyDefinition(name: "proxy-9"), id: UUID().uuidString.lowercased(), in: state)
            }
        }
        let done = Task {
            try await Task.sleep(for: .seconds(10))
            catalogChange.cancel()
        }
        #expect(try await catalogChange.value.count == 1)
        done.cancel()
    }

    @Test("a frozen leader is replaced once its lease expires; what it appends after that is refused, nothing is lost or doubled")
    func frozenLeaderIsFenced() async throws {
        let world = try await SchedulerTests.world(jobs: [("nightly", "daily at 23:59", nil)])
        let connection = try await PostgresConnection.connect(world.database.service)
        defer { Task { await connection.close() } }
        // A long lease, so no load can let it lapse early; its expiry is then brought forward
        // by hand, as the clock would after the leader stopped renewing (SIGSTOP).
        let frozen = LeaderLease(name: LeaderLease.scheduler, seconds: 600, holder: "frozen")
        let successor = LeaderLease(name: LeaderLease.scheduler, seconds: 600, holder: "successor")
        let old = try #require(try await frozen.acquire(on: connection))
        #expect(try await successor.acquire(on: connection) == nil)
        try await world.database.administratorQuery(
            "UPDATE tidemark.leases SET expires_at = clock_timestamp() - interval '1 second' WHERE name = 'scheduler'")
        let new = try #require(try await successor.acquire(on: connection))
        #expect(new > old)
        // The old leader wakes up and decides the 23:59 run: refused, nothing recorded.
        // Tomorrow's run: always after the job was made, whatever the time of day.
        let due = SchedulerTests.utc(days: 1, 23, 59)
        await #expect(throws: PostgresError.self) {
            try await world.scheduler.tick(at: due, fence: LeaseFence(name: LeaderLease.scheduler, token: old))
        }
        let sessions = try await world.database.administratorQuery(
            "SELECT count(*) FROM tidemark.events WHERE category IN ('session', 'schedule')")
        #expect(try sessions.decode(0, 0, as: Int64.self) == 0)
        // The successor decides it, once.
        #expect(try await world.scheduler.tick(at: due, fence: LeaseFence(name: LeaderLease.scheduler, token: new)).count == 1)
        #expect(
            try await world.scheduler.tick(at: due.addingTimeInterval(5), fence: LeaseFence(name: LeaderLease.scheduler, token: new))
                .isEmpty)
        #expect(try await frozen.renew(old, on: connection) == false)
        let decided = try await world.database.administratorQuery(
            "SELECT count(*) FILTER (WHERE event_type = 'RunRequested'), count(*) FILTER (WHERE event_type = 'SessionStarted') FROM tidemark.events"
        )
        #expect(try decided.decode(0, 0, as: Int64.self) == 1)
        #expect(try decided.decode(0, 1, as: Int64.self) == 1)
    }
}
