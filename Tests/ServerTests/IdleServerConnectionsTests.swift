import Foundation
import JobManager
import Logging
import Postgres
import Server
import TestSupport
import Testing

/// Issue 13, finding 7: an idle server polling 20 unfinished sessions that another process
/// runs asks who owns them in one query on its pool; it used to open a connection (and a
/// thread) per session per poll only to find each taken.
@Suite("An idle server's connections")
struct IdleServerConnectionsTests {
    /// Connections established to the database so far (`pg_stat_database.sessions`).
    static func established(_ database: TestDatabase) async throws -> Int64 {
        let result = try await database.administratorQuery(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return try result.decode(0, 0)
    }

    @Test("twenty sessions owned elsewhere, polled ten times a second for three seconds: no connection per session per poll")
    func sessionsOwnedElsewhere() async throws {
        let world = try await SchedulerTests.world(jobs: (0..<20).map { ("job-\($0)", "daily at 23:59", nil) })
        var sessions: [String] = []
        for number in 0..<20 { sessions.append(try await world.manager.begin(job: "job-\(number)", trigger: .manual)) }
        // Another process runs them all: one connection holding each session's claim.
        let elsewhere = try await TaskSlots(settings: world.database.service)
        for session in sessions { #expect(try await elsewhere.own(session: session)) }
        #expect(try await world.manager.sessionsOwnedElsewhere(sessions + ["not-a-session"]) == Set(sessions))

        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let service = SessionRunnerService(
            manager: world.manager, scheduler: world.scheduler, interval: .milliseconds(100), logger: logger)
        // Let the store's pool open what it keeps before counting.
        _ = try await world.manager.unfinishedSessions()
        try await Task.sleep(for: .milliseconds(1_100))
        let before = try await Self.established(world.database)
        let polling = Task { try await service.run() }
        try await Task.sleep(for: .seconds(3))
        polling.cancel()
        _ = try? await polling.value
        // Statistics reach pg_stat_database within a second of a backend's last transaction.
        try await Task.sleep(for: .milliseconds(1_500))
        let opened = try await Self.established(world.database) - before
        // About thirty polls of twenty sessions: 600 connections the old way; the pool's few now.
        #expect(opened < 10, "\(opened) connections opened while polling")
        let stillOpen = try await world.manager.unfinishedSessions()
        #expect(Set(stillOpen) == Set(sessions), "no session was run or ended by the idle server")
        await elsewhere.close()
        await world.store.pool.close()
    }
}
