import Catalog
import CatalogStore
import EventStore
import Foundation
import JobManager
import Logging
import ServiceLifecycle

/// Scheduled health checks: every `interval`, each repository with a health-check setting
/// (`tidemark repository update NAME --verify-every 7d --verify-budget 10GiB`) gets one check
/// run if anything is due (`HealthPlan`), within its budget; a check a crashed server left
/// unfinished is resumed first. Several servers may run this: a check appends at the
/// health stream's expected version, so the second server to start one gives way.
public struct HealthCheckService: Service {
    let check: HealthCheck
    let catalog: CatalogStore
    /// Between runs. Defaults to 15 minutes: a budget's worth of reading each time while
    /// restore points are due, nothing otherwise.
    let interval: Duration
    let logger: Logger

    /// `settings`: where a repository service's token and staging folder are (the server's).
    public init(store: EventStore, settings: JobManagerSettings = JobManagerSettings(), interval: Duration = .seconds(900), logger: Logger)
    {
        self.check = HealthCheck(store: store, logger: logger, settings: settings)
        self.catalog = CatalogStore(events: store, logger: logger)
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                _ = await self.tick()
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    /// One round over the repositories that have a health-check setting; the reports of the
    /// checks that ran. Errors are logged, never fatal: the next round tries again.
    public func tick(now: Date = Date()) async -> [String: HealthCheck.Report] {
        let state: CatalogState
        do {
            state = try await catalog.load()
        } catch {
            logger.error("health checks: cannot load the catalog; trying again later", metadata: ["error": "\(error)"])
            return [:]
        }
        var reports: [String: HealthCheck.Report] = [:]
        for (id, repository) in state.repositories.sorted(by: { $0.value.definition.name < $1.value.definition.name })
        where repository.definition.verifyEveryDays != nil {
            guard !Task.isCancelled else { break }
            do {
                if let report = try await check.run(
                    repositoryID: id, definition: repository.definition, trigger: .scheduled, actor: "health-check", now: now)
                {
                    reports[repository.definition.name] = report
                }
            } catch let error as EventStoreError where error.code == .wrongExpectedVersion {
                logger.info(
                    "health check of a repository runs on another server", metadata: ["repository": "\(repository.definition.name)"])
            } catch {
                logger.error(
                    "health check failed; it resumes at the next round",
                    metadata: ["repository": "\(repository.definition.name)", "error": "\(error)"])
            }
        }
        return reports
    }
}
