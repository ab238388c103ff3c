import ArgumentParser
import Catalog
import CommandLineSupport
import Foundation
import JobManager
import PlatformAdapters
import Postgres
import WorkflowEvents

/// `tidemark job stop NAME`: asks the job's running sessions to stop, wherever they run.
struct JobStop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract:
            "Stop the job's running session: --graceful (the default) lets VMs in progress finish; --immediate stops them now, removes their snapshots and keeps no restore point for them. Nothing is retried."
    )
    @OptionGroup var options: CatalogOptions
    @Argument(help: "The job's name.") var name: String
    @Flag(exclusivity: .exclusive) var mode: ControlEvent.StopRequested.Mode = .graceful

    func run() async throws {
        let logger = try options.global.makeLogger()
        let database = try CatalogDatabase(options: options.global, logger: logger)
        let store = try await database.openEventStore(maximumConnections: 2)
        return try await withClosing(store) { _ in
            // Ending a session nobody runs sweeps its snapshots: its vCenter's adapter and
            // password are needed, as a Job Manager running it would have them.
            let manager = JobManager(
                store: store, settings: JobManagerSettings.fromEnvironment(dataDirectory: database.dataDirectory),
                adapters: PlatformAdapters.standard, logger: logger)
            let sessions = try await manager.unfinishedSessions(job: name)
            guard !sessions.isEmpty else {
                throw CommandFailure("job '\(name)' has no session running: see 'tidemark session list --job \(name)'")
            }
            for session in sessions {
                switch try await manager.stop(session: session, mode: mode, metadata: options.metadata) {
                case .asked:
                    print("asked session \(session) to stop (\(mode.rawValue)): the Job Manager running it stops it")
                case .ended(let report):
                    print("session \(session) stopped: no Job Manager was running it")
                    SessionReportPrinter.print(report)
                }
            }
            await ProjectionCatchUp.afterAppending(store, logger: logger)
        }
    }
}

extension ControlEvent.StopRequested.Mode: EnumerableFlag {}
