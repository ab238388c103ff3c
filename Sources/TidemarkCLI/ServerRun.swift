import ArgumentParser
import CommandLineSupport
import Foundation
import JobManager
import Logging
import PlatformAdapters
import Projections
import Server
import ServiceLifecycle

/// `tidemark server`: the scheduler (one leader among all servers), the Job Managers (every
/// begun, unfinished session is taken by one server), the projector and the repositories'
/// scheduled health checks, as services that
/// stop gracefully on SIGTERM or SIGINT.
struct ServerRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the scheduler, the Job Managers and the projector until SIGTERM or SIGINT.",
        discussion:
            "Several servers may share one database: one schedules, each runs the sessions it claims first, and sessions a stopped or crashed server leaves unfinished resume on the next that looks."
    )
    @OptionGroup var options: GlobalOptions
    @Option(name: .customLong("max-sessions"), help: "Sessions this server runs at once.") var maxSessions = 4

    func run() async throws {
        let logger = try options.makeLogger(label: "tidemark.server")
        let database = try CatalogDatabase(options: options, logger: logger)
        let store = try await database.openEventStore(maximumConnections: 12)
        let manager = JobManager(
            store: store, settings: JobManagerSettings.fromEnvironment(dataDirectory: database.dataDirectory),
            adapters: PlatformAdapters.standard, logger: logger)
        let scheduler = Scheduler(store: store, manager: manager, logger: logger)
        let group = ServiceGroup(
            services: [
                SchedulerService(scheduler: scheduler, settings: store.pool.configuration.settings, logger: logger),
                SessionRunnerService(manager: manager, scheduler: scheduler, maximumSessions: maxSessions, logger: logger),
                RestoreRunnerService(
                    manager: RestoreManager(store: store, settings: manager.settings, adapters: manager.adapters, logger: logger),
                    logger: logger),
                PublishRunnerService(manager: PublishManager(store: store, logger: logger), logger: logger),
                ProjectorService(projector: Projector(store: store, logger: logger)),
                HealthCheckService(store: store, logger: logger),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
        print("tidemark server running (scheduler, Job Managers, restores, projector) until SIGTERM or Ctrl-C; -v logs what it does")
        fflush(nil)  // seen at once even when standard output is a pipe or a journal
        try await group.run()
        await store.pool.close()
        print("tidemark server stopped")
    }
}
