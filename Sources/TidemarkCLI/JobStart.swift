import ArgumentParser
import Catalog
import CommandLineSupport
import EventStore
import Foundation
import JobManager
import PlatformAdapters
import Postgres
import Server

/// `tidemark job start NAME`: runs a session of the job now, in this process, showing its
/// progress; a session of the job left unfinished (a crash, a killed command) is resumed
/// instead of starting another.
struct JobStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Run a session of the job now and show its progress (an unfinished session of the job is resumed first).",
        discussion:
            "Until 'tidemark server' runs jobs, the session runs in this command; if it is interrupted, the next 'job start' resumes it where the log says it stopped."
    )
    @OptionGroup var options: CatalogOptions
    @Argument(help: "The job's name.") var name: String
    @Flag(help: "Print only the report, not one line per step.") var quiet = false
    @Flag(help: "Wait for the session to end (the default: until 'tidemark server' runs jobs, the session runs in this command).")
    var wait = false

    func run() async throws {
        let logger = try options.global.makeLogger()
        let database = try CatalogDatabase(options: options.global, logger: logger)
        let store = try await database.openEventStore(maximumConnections: 4)
        return try await withClosing(store) { _ in
            let manager = JobManager(
                store: store, settings: JobManagerSettings.fromEnvironment(dataDirectory: database.dataDirectory),
                adapters: PlatformAdapters.standard, logger: logger)
            let session: String
            if let unfinished = try await manager.unfinishedSessions(job: name).first {
                session = unfinished
                print("resuming session \(session) of job '\(name)'")
            } else {
                session = try await manager.begin(job: name, trigger: .manual)
                print("session \(session) of job '\(name)' started")
            }
            let head = try await store.headPosition()
            let follower = quiet ? nil : Task { try await SessionProgressPrinter.follow(store: store, session: session, after: head) }
            let report = try await manager.run(session: session)
            await SessionProgressPrinter.finish(follower)
            SessionReportPrinter.print(report)
            // Jobs chained after this one begin now; a running `tidemark server` runs them.
            for chained in try await Scheduler(store: store, manager: manager, logger: logger).chain(
                after: report.jobID, trigger: report.trigger)
            {
                print("chained: session \(chained) begun (a running 'tidemark server' runs it)")
            }
            await ProjectionCatchUp.afterAppending(store, logger: logger)
            if report.finished.result == .failed { throw ExitCode(2) }
        }
    }
}

extension JobManagerSettings {
    /// Defaults, with `TIDEMARK_CHECKPOINT_BYTES`, `TIDEMARK_RETRY_WAIT_SECONDS` and
    /// `TIDEMARK_REPOSITORY_RETRY_SECONDS` for tests and small labs, `TIDEMARK_CRASH_AFTER_EVENTS`
    /// for the crash-resume tests; secrets (`credentials/`, `secrets/`) and the staging of
    /// transfers to repository services (`repository-staging/`) under the data folder.
    static func fromEnvironment(
        dataDirectory: URL, _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> JobManagerSettings {
        var settings = JobManagerSettings()
        settings.secrets = SecretsLocation(dataDirectory: dataDirectory.path)
        settings.repositoryStaging = dataDirectory.appendingPathComponent("repository-staging").path
        if let seconds = environment["TIDEMARK_REPOSITORY_RETRY_SECONDS"].flatMap(Int.init), seconds >= 0 {
            settings.repositoryRetryBudget = .seconds(seconds)
        }
        if let bytes = environment["TIDEMARK_CHECKPOINT_BYTES"].flatMap(Int64.init), bytes > 0 { settings.checkpointBytes = bytes }
        if let seconds = environment["TIDEMARK_RETRY_WAIT_SECONDS"].flatMap(Int.init), seconds >= 0 {
            settings.retryWait = .seconds(seconds)
        }
        if let events = environment["TIDEMARK_CRASH_AFTER_EVENTS"].flatMap(Int64.init), events > 0 { settings.crashAfterEvents = events }
        return settings
    }
}
