import Foundation
import Logging
import Postgres
import ServiceLifecycle

/// The scheduler as a service: exactly one per database acts, the holder of the scheduler's
/// lease (`LeaderLease`). It renews the lease every `interval`; if it stops renewing (it died,
/// or froze) the lease expires after `leaseSeconds` and another server's next attempt takes
/// over with a larger fencing token, which the old leader's late appends fail against.
public struct SchedulerService: Service {
    let scheduler: Scheduler
    let settings: PostgresConnectionSettings
    let interval: Duration
    let lease: LeaderLease
    let logger: Logger

    public init(
        scheduler: Scheduler, settings: PostgresConnectionSettings, interval: Duration = .seconds(2), leaseSeconds: Double = 15,
        holder: String = LeaderLease.defaultHolder(), logger: Logger
    ) {
        self.scheduler = scheduler
        self.settings = settings
        self.interval = interval
        self.lease = LeaderLease(name: LeaderLease.scheduler, seconds: leaseSeconds, holder: holder)
        self.logger = logger
    }

    /// One connection for every attempt, kept while it works: a follower asks for the lease
    /// every `interval` without opening a connection (and a thread) each time.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let connection = try await PostgresConnection.connect(self.settings, logger: self.logger)
                    try await withClosing(connection) { _ in
                        while !Task.isCancelled {
                            try await self.leadWhileElected(on: connection)
                            try await Task.sleep(for: self.interval)
                        }
                    }
                } catch is CancellationError {
                    return
                } catch {
                    self.logger.error("scheduler failed; trying again", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: self.interval)
                }
            }
        }
    }

    /// Becomes leader if the lease is free, then ticks and renews until the task is cancelled
    /// or a renewal fails (the lease expired: step down). Returns at once when another server
    /// holds the lease.
    func leadWhileElected(on connection: PostgresConnection) async throws {
        guard let token = try await lease.acquire(on: connection) else { return }
        logger.notice("this server now schedules the jobs", metadata: ["lease.token": "\(token)"])
        let fence = LeaseFence(name: lease.name, token: token)
        while !Task.isCancelled {
            try await scheduler.tick(fence: fence)
            do {
                try await Task.sleep(for: interval)
            } catch {
                // Shutting down: hand the lease over now rather than after it expires.
                try? await lease.release(token, on: connection)
                throw error
            }
            guard try await lease.renew(token, on: connection) else {
                logger.warning("the scheduler's lease expired before it was renewed; stepping down", metadata: ["lease.token": "\(token)"])
                return
            }
        }
        try? await lease.release(token, on: connection)
    }
}
