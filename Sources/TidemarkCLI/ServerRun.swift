import ArgumentParser
import JobManager
import Logging
import Projections
import Server
import ServiceLifecycle

/// `tidemark server`: the scheduler (one leader among all servers), the Job Managers (every
/// begun, unfinished session is taken by one server) and the projector, as services that
/// stop gracefully on SIGTERM or SIGINT.
struct ServerRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the scheduler, the Job Managers and the projector until SIGTERM or SIGINT.",
        discussion: "Several servers may share one database: one schedules, each runs the sessions it claims first, and sessions a stopped or crashed server leaves unfinished resume on the next that looks.")
    @OptionGroup var options: GlobalOptions
    @Option(name: .customLong("max-sessions"), help: "Sessions this server runs at once.") var maxSessions = 4

    func run() async throws {
        var logger = try options.makeLogger(label: "tidemark.server")
        if options.logLevel == "warning" { logger.logLevel = .info }
        let store = try await CatalogDatabase(options: options, logger: logger).openEventStore(maximumConnections: 12)
        let manager = JobManager(store: store, settings: JobManagerSettings.fromEnvironment(), logger: logger)
        let scheduler = Scheduler(store: store, manager: manager, logger: logger)
        let group = ServiceGroup(
            services: [
                SchedulerService(scheduler: scheduler, settings: store.pool.configuration.settings, logger: logger),
                SessionRunnerService(manager: manager, scheduler: scheduler, maximumSessions: maxSessions, logger: logger),
                ProjectorService(projector: Projector(store: store, logger: logger)),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
        logger.notice("tidemark server started")
        try await group.run()
        await store.pool.close()
        logger.notice("tidemark server stopped")
    }
}
