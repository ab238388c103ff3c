import Foundation
import Logging
import Postgres
import ServiceLifecycle

/// The scheduler as a service: exactly one per database acts, the holder of an advisory
/// lock on a connection of its own. When the leader dies its connection drops, PostgreSQL
/// releases the lock, and another server's next attempt (every `interval`) takes over.
public struct SchedulerService: Service {
    public static let leaderLockKey: (Int32, Int32) = (1_953_064_037, 3)

    let scheduler: Scheduler
    let settings: PostgresConnectionSettings
    let interval: Duration
    let logger: Logger

    public init(scheduler: Scheduler, settings: PostgresConnectionSettings, interval: Duration = .seconds(2), logger: Logger) {
        self.scheduler = scheduler
        self.settings = settings
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.leadWhileElected()
                } catch is CancellationError {
                    return
                } catch {
                    self.logger.error("scheduler failed; trying again", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    /// Becomes leader if nobody is, then ticks until the task is cancelled or the connection fails.
    func leadWhileElected() async throws {
        let connection = try await PostgresConnection.connect(settings, logger: logger)
        defer { Task { await connection.close() } }
        let elected: Bool = try await connection.query(
            "SELECT pg_try_advisory_lock($1, $2)", [Self.leaderLockKey.0, Self.leaderLockKey.1]
        ).decode(0, 0)
        guard elected else { return }
        logger.notice("this server now schedules the jobs")
        while !Task.isCancelled {
            try await scheduler.tick()
            // The lock lives as long as this connection: check it is still there.
            _ = try await connection.query("SELECT 1")
            try await Task.sleep(for: interval)
        }
    }
}
