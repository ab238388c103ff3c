import Catalog
import CatalogStore
import Crypto
import EventStore
import Foundation
import Infrastructure
import JobManager
import Postgres
import Repository
import TestSupport
import WorkflowEvents

/// A database, a lab (the same content for the same seed), a repository folder and a
/// catalog with a job over every lab VM: one world a session runs in.
struct JobEnvironment {
    let database: TestDatabase
    let folder: URL
    let jobName = "crash-test"
    var labPath: String { folder.appendingPathComponent("lab").path }
    var repositoryPath: String { folder.appendingPathComponent("repository").path }

    static func make(
        vms: Int, diskSize: Int64, disksPerVM: Int = 1, parallel: Bool = true, retention: String = "7 restore points",
        cluster: PostgresConnectionSettings? = nil, guestFiles: Bool = false, twoPersonApproval: Bool = true
    ) async throws -> JobEnvironment {
        let database = try await TestDatabase.create(cluster: cluster)
        let scratch = ProcessInfo.processInfo.environment["TIDEMARK_TEST_SCRATCH"] ?? NSTemporaryDirectory()
        let folder = URL(fileURLWithPath: scratch).appendingPathComponent("job-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let environment = JobEnvironment(database: database, folder: folder)
        let lab = try LabAdapter.create(
            at: environment.labPath, vms: vms, disksPerVM: disksPerVM, diskSize: diskSize, seed: 7, guestFileSystems: guestFiles)
        let names = try await lab.inventory().virtualMachines.map(\.name).sorted()
        let catalog = CatalogStore(events: database.eventStore())
        try await catalog.execute(metadata: EventMetadata(actor: "test")) { start throws(CatalogError) in
            var plan = CatalogPlan(start)
            try plan.add(ManagedServer(name: "lab", platform: .lab, folder: environment.labPath))
            try plan.add(
                RepositoryDefinition(name: "repo", path: environment.repositoryPath, maxConcurrentTasks: 3, freeSpaceThresholdPercent: 0))
            try plan.add(ProxyDefinition(name: "proxy-1", maxConcurrentTasks: 2))
            try plan.add(ProxyDefinition(name: "proxy-2", maxConcurrentTasks: 1))
            var settings = JobSettings()
            settings.name = environment.jobName
            settings.server = "lab"
            settings.repository = "repo"
            settings.objects = names.map { "vm:\($0)" }
            settings.parallelProcessing = parallel
            settings.retention = retention
            settings.retryWaitMinutes = 0
            try plan.add(try settings.definition(base: nil, in: plan.state, defaultTimeZone: "UTC"))
            return plan.changes
        }
        if !twoPersonApproval {
            // Retention's own mechanics, tested with runs a test starts one after another: under
            // two-person approval those runs' points would not count (``CountRetention``).
            try await ApprovalStore(catalog: catalog).setRequired(
                false, reason: "retention tested without the two-person rule", metadata: EventMetadata(actor: "test"))
        }
        return environment
    }

    /// Begins and runs a session of the job in this process (1 MiB checkpoints, no retry wait).
    func runInProcess(trigger: SessionEvent.Trigger = .manual) async throws -> SessionReport {
        let manager = JobManager(store: database.eventStore(), settings: JobManagerSettings(checkpointBytes: 1 << 20, retryWait: .zero))
        let session = try await manager.begin(job: jobName, trigger: trigger)
        return try await manager.run(session: session)
    }

    /// Changes the job's definition through the decider, as `job update` would.
    func updateJob(_ change: @escaping @Sendable (inout JobDefinition) throws(CatalogError) -> Void) async throws {
        let name = jobName
        try await CatalogStore(events: database.eventStore()).execute(metadata: EventMetadata(actor: "test")) {
            state throws(CatalogError) in
            try CatalogDecider.update(id: try state.require(JobDefinition.self, named: name), basedOn: nil, in: state) {
                (job: inout JobDefinition) throws(CatalogError) in try change(&job)
            }
        }
    }

    /// Adds a throttling rule from the site "default" into `repository`, as
    /// `throttle add NAME --to REPOSITORY` would.
    func addThrottlingRule(_ name: String, to repository: String, bytesPerSecond: Int64) async throws {
        try await CatalogStore(events: database.eventStore()).execute(metadata: EventMetadata(actor: "test")) {
            state throws(CatalogError) in
            try CatalogDecider.add(
                ThrottlingRule(
                    name: name, sourceSites: ["default"],
                    targetRepositories: [try state.require(RepositoryDefinition.self, named: repository)],
                    bytesPerSecond: bytesPerSecond),
                id: UUID().uuidString.lowercased(), in: state)
        }
    }

    /// The service role's connection string, for a `tidemark` child process.
    var databaseURL: String {
        database.service.keywordConnectionString
    }

    /// Runs `tidemark job start` in a child process; with `crashAfter`, the child kills itself
    /// (SIGKILL) right after the append that brings the session to that many events.
    /// Returns whether it was killed. The child is waited for on a thread of its own.
    @discardableResult
    func runJob(crashAfter: Int? = nil) async throws -> Bool {
        let run = try await offThePool { [self] in try tidemark(["job", "start", jobName, "--quiet"], crashAfter: crashAfter) }
        if run.killed { return true }
        guard run.status == 0 else { throw TestSetupError("tidemark job start exited with \(run.status):\n\(run.output)") }
        return false
    }

    /// Runs the `tidemark` binary on this world's database; its exit status (or death by a
    /// signal) and everything it printed.
    func tidemark(
        _ arguments: [String], crashAfter: Int? = nil, input: String? = nil, environment extra: [String: String] = [:]
    ) throws -> (status: Int32, killed: Bool, output: String) {
        var environment = ["TIDEMARK_CHECKPOINT_BYTES": "262144", "TIDEMARK_RETRY_WAIT_SECONDS": "0"].merging(extra) { $1 }
        environment["TIDEMARK_CRASH_AFTER_EVENTS"] = crashAfter.map(String.init)
        return try TidemarkProcess.run(arguments + ["--database-url", databaseURL], in: folder, environment: environment, input: input)
    }

    /// Events in the whole log.
    func eventCount() async throws -> Int64 { try await database.eventCount() }

    /// What a session left behind, to compare with another run of the same job.
    struct Outcome: Equatable, CustomStringConvertible {
        var sessions: Int
        var finished: Int
        var result: String
        var processed: Int64
        var read: Int64
        var transferred: Int64
        /// `<VM id>/<disk>` → SHA-256 of that disk restored.
        var restored: [String: String]
        var restorePointsCreated: Int
        var snapshotsLeft: Int
        /// The chunk files of the repository: content-addressed, so the same backups give the same set.
        var chunks: Set<String>

        var description: String {
            "sessions \(sessions), finished \(finished), \(result), processed \(processed), read \(read), transferred \(transferred), restore points \(restorePointsCreated), snapshots left \(snapshotsLeft), \(chunks.count) chunks, restored \(restored)"
        }
    }

    func outcome() async throws -> Outcome {
        let sessions = try await database.administratorQuery(
            "SELECT count(*) FILTER (WHERE event_type = 'SessionStarted'), count(*) FILTER (WHERE event_type = 'SessionFinished'), count(*) FILTER (WHERE event_type = 'RestorePointCreated') FROM tidemark.events WHERE category = 'session'"
        )
        let finished = try await database.administratorQuery(
            "SELECT data->>'result', (data->>'processed_bytes')::bigint, (data->>'read_bytes')::bigint, (data->>'transferred_bytes')::bigint FROM tidemark.events WHERE event_type = 'SessionFinished' ORDER BY position DESC LIMIT 1"
        )
        let points = try await database.administratorQuery(
            "SELECT data->>'vm_id', data->>'restore_point_id' FROM tidemark.events WHERE event_type = 'RestorePointCreated'")
        let repository = try BackupRepository.open(at: URL(fileURLWithPath: repositoryPath))
        var restored: [String: String] = [:]
        for row in 0..<points.rowCount {
            let vm: String = try points.decode(row, 0), point: String = try points.decode(row, 1)
            for disk in try repository.disks(of: point) {
                let manifest = try repository.manifest(restorePoint: point, disk: disk)
                let target = folder.appendingPathComponent("restore-\(point)-\(disk).img").path
                try DiskRestore.restore(manifest, from: repository, to: target, overwrite: true)
                restored["\(vm)/\(disk)"] = try Self.sha256(file: target)
                try? FileManager.default.removeItem(atPath: target)
            }
        }
        let lab = try LabAdapter(root: labPath)
        var left = 0
        for machine in try await lab.inventory().virtualMachines { left += try await lab.snapshots(of: machine.id).count }
        return Outcome(
            sessions: Int(try sessions.decode(0, 0, as: Int64.self)), finished: Int(try sessions.decode(0, 1, as: Int64.self)),
            result: finished.rowCount == 1 ? try finished.decode(0, 0) : "none",
            processed: finished.rowCount == 1 ? try finished.decode(0, 1) : 0, read: finished.rowCount == 1 ? try finished.decode(0, 2) : 0,
            transferred: finished.rowCount == 1 ? try finished.decode(0, 3) : 0, restored: restored,
            restorePointsCreated: Int(try sessions.decode(0, 2, as: Int64.self)), snapshotsLeft: left,
            chunks: Set(
                (FileManager.default.enumerator(atPath: repositoryPath + "/chunks")?.allObjects as? [String] ?? [])
                    .filter { $0.count > 60 && !$0.contains(".") }))
    }

    /// Events of the session so far.
    func sessionEvents() async throws -> Int {
        Int(
            try await database.administratorQuery("SELECT count(*) FROM tidemark.events WHERE category = 'session'").decode(
                0, 0, as: Int64.self))
    }

    static func sha256(file: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    func remove() {
        try? FileManager.default.removeItem(at: folder)
    }
}
