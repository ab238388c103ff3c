import ArgumentParser
import Catalog
import CatalogStore
import CommandLineSupport
import EventStore
import Foundation
import Infrastructure
import JobManager
import Logging
import Postgres
import WorkflowEvents

struct BenchJobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract:
            "A job of many small lab VMs: the Job Manager's overhead per VM beside the data mover's time, events per VM, and resume time after a kill."
    )
    @OptionGroup var options: GlobalOptions
    @Option(help: "Lab VMs in the job (one 1 MiB disk each).") var vms: Int = 1_000
    @Option(help: "Task slots of the repository and of the proxy.") var slots: Int = 8
    @Flag(help: "Print {\"cases\":[...]} instead of a table.") var json = false

    func validate() throws {
        guard (2...10_000).contains(vms) else { throw ValidationError("--vms must be between 2 and 10000, not \(vms)") }
        guard (1...64).contains(slots) else { throw ValidationError("--slots must be between 1 and 64, not \(slots)") }
    }

    func run() async throws {
        var logger = try options.makeLogger()
        logger.logLevel = max(logger.logLevel, .error)
        let catalogDatabase = try CatalogDatabase(options: options, logger: logger)
        let bench = try await BenchDatabase.create(catalog: catalogDatabase, logger: logger)
        let store = EventStore(pool: PostgresPool(.init(settings: bench.service, maximumConnections: 8), logger: logger), logger: logger)
        return try await withClosing(store) { _ in
            let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
                "tidemark-bench-jobs-\(UUID().uuidString.prefix(8))")
            defer { try? FileManager.default.removeItem(at: folder) }
            let lab = try LabAdapter.create(at: folder.appendingPathComponent("lab").path, vms: vms, disksPerVM: 1, diskSize: 1 << 20)
            let names = try await lab.inventory().virtualMachines.map(\.name).sorted()
            let slots = self.slots
            try await CatalogStore(events: store, logger: logger).execute(metadata: EventMetadata(actor: "bench")) {
                start throws(CatalogError) in
                var plan = CatalogPlan(start)
                try plan.add(ManagedServer(name: "lab", platform: .lab, folder: lab.root))
                try plan.add(
                    RepositoryDefinition(
                        name: "repo", path: folder.appendingPathComponent("repo").path, maxConcurrentTasks: slots,
                        freeSpaceThresholdPercent: 0))
                try plan.add(ProxyDefinition(name: "proxy", maxConcurrentTasks: slots))
                for (job, objects) in [("bench", names), ("resume", Array(names.prefix(20)))] {
                    var settings = JobSettings()
                    settings.name = job
                    settings.server = "lab"
                    settings.repository = "repo"
                    settings.objects = objects.map { "vm:\($0)" }
                    settings.timeZone = "UTC"
                    try plan.add(try settings.definition(base: nil, in: plan.state, defaultTimeZone: "UTC"))
                }
                return plan.changes
            }

            let manager = JobManager(store: store, logger: logger)
            let clock = ContinuousClock()
            let session = try await manager.begin(job: "bench", trigger: .manual)
            let start = clock.now
            let report = try await manager.run(session: session)
            let wall = (clock.now - start).seconds
            guard report.finished.result == .success else { throw ValidationError("the bench session ended \(report.finished.result)") }
            let moverPerVM = report.transferSeconds / Double(vms) * 1_000
            // The session's wall time not explained by data movement at full use of the slots.
            let overheadPerVM = max(0, wall - report.transferSeconds / Double(slots)) / Double(vms) * 1_000

            // Resume: a child `tidemark job start` killed halfway, then started again.
            let (resume, startup) = try await measureResume(bench: bench, store: store)
            BenchReport.print(
                [
                    BenchCase(name: "orchestration overhead per VM", value: overheadPerVM, unit: "ms", reference: moverPerVM),
                    BenchCase(name: "events per VM", value: Double(report.events) / Double(vms), unit: "events", reference: 9),
                    BenchCase(
                        name: "restart to the resumed session's first new event", value: resume * 1_000, unit: "ms",
                        reference: startup * 1_000),
                ],
                json: json,
                notes: [
                    "\(vms) VMs × one 1 MiB disk, \(slots) slots: session \(String(format: "%.2f", wall)) s, data mover \(String(format: "%.2f", report.transferSeconds)) s summed over transfers",
                    "overhead = (session wall − data mover time / slots) / VMs; reference: the data mover's time per VM (summed over transfers)",
                    "events reference: the least a VM can take (snapshot request and outcome, proxy choice, task start, transfer start and end, task end, snapshot removal, restore point)",
                    "resume reference: starting `tidemark session list` (process start, connect, one query) in the same run",
                ])
        }
    }

    /// Kills a 20-VM session after half its events and times the restart until its next event.
    private func measureResume(bench: BenchDatabase, store: EventStore) async throws -> (Double, Double) {
        let binary = RunningProgram.url.path
        let url = bench.service.keywordConnectionString
        func launch(_ arguments: [String], crashAfter: Int? = nil) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments + ["--database-url", url]
            var environment = ProcessInfo.processInfo.environment
            environment["TIDEMARK_CRASH_AFTER_EVENTS"] = crashAfter.map(String.init)
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        let killed = try launch(["job", "start", "resume", "--quiet"], crashAfter: 90)
        killed.waitUntilExit()
        let stream = try StreamName(
            SessionEvent.stream(of: try await JobManager(store: store).unfinishedSessions(job: "resume").first ?? ""))
        let before = try await store.streamVersion(stream)
        let clock = ContinuousClock()
        let start = clock.now
        let resumed = try launch(["job", "start", "resume", "--quiet"])
        var firstEvent = 0.0
        while try await store.streamVersion(stream) == before {
            guard clock.now - start < .seconds(60) else {
                resumed.terminate()
                throw ValidationError("the resumed session wrote nothing within a minute")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        firstEvent = (clock.now - start).seconds
        resumed.waitUntilExit()
        let listStart = clock.now
        let list = try launch(["session", "list"])
        list.waitUntilExit()
        return (firstEvent, (clock.now - listStart).seconds)
    }
}
