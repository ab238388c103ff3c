import API
import ArgumentParser
import CommandLineSupport
import Foundation
import JobManager
import Logging
import Notifications
import PlatformAdapters
import Projections
import Server
import ServerTLS
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
    @Option(
        help: ArgumentHelp(
            "Where the HTTPS API listens (HOST:PORT; port 0 takes a free one), or 'none' for no API.", valueName: "address"))
    var listen = "127.0.0.1:9419"
    @Option(
        name: .customLong("tls-certificate"),
        help: ArgumentHelp(
            "The API's certificate chain (PEM); default: a self-signed one made in the data folder's tls/.", valueName: "file"))
    var tlsCertificate: String?
    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The private key of --tls-certificate (PEM).", valueName: "file"))
    var tlsKey: String?
    @Option(
        name: .customLong("refused-tokens-per-minute"),
        help: "Refused API tokens from one address within a minute before it gets 429 for the rest of the minute.")
    var refusedTokensPerMinute = 10

    /// Waits between delivery attempts; `TIDEMARK_NOTIFY_BACKOFF_SECONDS` (tests) shortens them.
    var notificationBackoff: [Duration] {
        guard let seconds = ProcessInfo.processInfo.environment["TIDEMARK_NOTIFY_BACKOFF_SECONDS"].flatMap(Double.init), seconds >= 0 else {
            return [.seconds(1), .seconds(4), .seconds(15)]
        }
        return Array(repeating: .milliseconds(Int(seconds * 1_000)), count: 3)
    }

    /// How often due daily summaries are looked for (TIDEMARK_NOTIFY_SUMMARY_SECONDS: tests).
    var summaryInterval: Duration {
        guard let seconds = ProcessInfo.processInfo.environment["TIDEMARK_NOTIFY_SUMMARY_SECONDS"].flatMap(Double.init), seconds >= 0.1
        else { return .seconds(60) }
        return .milliseconds(Int(seconds * 1_000))
    }

    func validate() throws {
        if listen != "none" {
            do { _ = try APIServer.Address(listen) } catch { throw ValidationError("\(error)") }
        }
        guard refusedTokensPerMinute >= 1 else { throw ValidationError("--refused-tokens-per-minute is at least 1") }
        if (tlsCertificate == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-certificate and --tls-key go together: give both, or neither for a self-signed pair")
        }
    }

    func run() async throws {
        let logger = try options.makeLogger(label: "tidemark.server")
        // Before anything records a metric (the event store's appends do).
        let metrics = APIServer.bootstrapMetrics()
        let database = try CatalogDatabase(options: options, logger: logger)
        let store = try await database.openEventStore(maximumConnections: 12)
        let manager = JobManager(
            store: store, settings: JobManagerSettings.fromEnvironment(dataDirectory: database.dataDirectory),
            adapters: PlatformAdapters.standard, logger: logger)
        let scheduler = Scheduler(store: store, manager: manager, logger: logger)
        let restores = RestoreManager(store: store, settings: manager.settings, adapters: manager.adapters, logger: logger)
        var api: [any Service] = []
        if listen != "none" {
            let tls = try TLSIdentity.load(
                certificate: tlsCertificate, key: tlsKey, folder: database.dataDirectory.appendingPathComponent("tls"))
            if tls.generated { print("made a self-signed TLS certificate: \(tls.certificatePath)") }
            let thumbprint = tls.thumbprint
            api.append(
                try APIServer.make(
                    store: store, manager: manager, restores: restores, dataDirectory: database.dataDirectory.path,
                    address: try APIServer.Address(listen), tls: tls,
                    refusalsPerMinute: refusedTokensPerMinute, credentials: manager.settings.secrets?.credentials, metrics: metrics,
                    logger: logger,
                    onListening: { url in
                        print("API listening on \(url) (certificate SHA-256 thumbprint \(thumbprint))")
                        fflush(nil)
                    }))
        }
        let group = ServiceGroup(
            services: api + [
                SchedulerService(scheduler: scheduler, settings: store.pool.configuration.settings, logger: logger),
                SessionRunnerService(manager: manager, scheduler: scheduler, maximumSessions: maxSessions, logger: logger),
                RestoreRunnerService(manager: restores, logger: logger),
                PublishRunnerService(manager: PublishManager(store: store, settings: manager.settings, logger: logger), logger: logger),
                ProjectorService(projector: Projector(store: store, logger: logger)),
                HealthCheckService(store: store, settings: manager.settings, logger: logger),
                NotificationService(
                    store: store, secrets: manager.settings.secrets, logger: logger, backoff: notificationBackoff,
                    summaryInterval: summaryInterval),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
        print("tidemark server running (scheduler, Job Managers, restores, projector) until SIGTERM or Ctrl-C; -v logs what it does")
        fflush(nil)  // seen at once even when standard output is a pipe or a journal
        try await group.run()
        await store.pool.close()
        print("tidemark server stopped")
    }
}
