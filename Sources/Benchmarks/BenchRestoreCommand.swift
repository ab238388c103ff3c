import ArgumentParser
import BlockingIO
import Catalog
import CatalogStore
import CommandLineSupport
import EventStore
import Foundation
import Infrastructure
import JobManager
import Logging
import PlatformAdapters
import Postgres
import PrivateCluster
import Repository
import VSphere

/// `tidemark bench restore`: restores as sessions, each beside a reference measured in the
/// same run — a disk restored to a file against `cat` of the same bytes from the page cache
/// (and the catalog-free `restore file`), a VM's disk uploaded to the vCenter simulator
/// against curl's `PUT` of the same bytes to the same datastore, and a quick rollback of a disk
/// with 2% of its blocks changed against a full restore of it.
struct BenchRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract:
            "Restore sessions: disk to a file beside cat, upload to the vCenter simulator beside curl PUT, quick rollback beside a full restore."
    )
    @OptionGroup var options: GlobalOptions
    @Option(help: "The disk's size, in MiB.") var diskMib: Int = 1024
    @Option(help: "Percent of the disk changed before the rollback.") var changed: Double = 2
    @Option(help: "The simulator: Tools/vcsim/vcsim or a built tidemark-vcsim (found by itself in a source folder).") var vcsim: String?
    @Flag(help: "Leave out the vCenter simulator case.") var noVcenter = false
    @Option(help: "Where the lab, the repositories and the restored files go (a temporary folder under it; default: the system's).")
    var folder: String?
    @Flag(help: "Print {\"cases\":[...]} instead of a table.") var json = false

    func validate() throws {
        guard (64...8_192).contains(diskMib) else { throw ValidationError("--disk-mib must be between 64 and 8192, not \(diskMib)") }
        guard changed > 0, changed <= 50 else { throw ValidationError("--changed must be above 0 and at most 50 percent, not \(changed)") }
    }

    static let passwordVariable = "TIDEMARK_BENCH_VCENTER_PASSWORD"

    func run() async throws {
        var logger = try options.makeLogger()
        logger.logLevel = max(logger.logLevel, .error)
        let catalogDatabase = try CatalogDatabase(options: options, logger: logger)
        let bench = try await BenchDatabase.create(catalog: catalogDatabase, logger: logger)
        let store = EventStore(pool: PostgresPool(.init(settings: bench.service, maximumConnections: 8), logger: logger), logger: logger)
        let folder = URL(fileURLWithPath: self.folder ?? NSTemporaryDirectory()).appendingPathComponent(
            "tidemark-bench-restore-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var launcher: BenchSimulator.Launcher?
        var simulator: BenchSimulator.Running?
        if !noVcenter {
            launcher = try BenchSimulator.find(given: vcsim, executable: RunningProgram.url)
            simulator = try BenchSimulator.start(
                launcher!, in: folder.appendingPathComponent("vcsim"),
                ["-dc", "1", "-cluster", "1", "-host", "1", "-vm", "1", "-disk-kib", "1024"])
        }
        defer { if let launcher, let simulator { BenchSimulator.stop(launcher, simulator) } }
        let vcenterURL = simulator?.url
        setenv(Self.passwordVariable, "tidemark-test", 1)
        try await withClosing(store) { store in
            let size = Int64(diskMib) << 20
            let lab = try LabAdapter.create(at: folder.appendingPathComponent("lab").path, vms: 1, disksPerVM: 1, diskSize: size)
            let thumbprint: String? = if let vcenterURL { try await Self.thumbprint(vcenterURL) } else { nil }
            try await CatalogStore(events: store).execute(metadata: EventMetadata(actor: "bench")) { start throws(CatalogError) in
                var plan = CatalogPlan(start)
                try plan.add(ManagedServer(name: "lab", platform: .lab, folder: lab.root))
                if let vcenterURL {
                    try plan.add(
                        ManagedServer(
                            name: "vcsim", platform: .vcenter, url: vcenterURL, user: "tidemark",
                            passwordReference: try SecretReference(source: .environment, name: Self.passwordVariable),
                            thumbprint: thumbprint))
                }
                try plan.add(ProxyDefinition(name: "proxy", maxConcurrentTasks: 2))
                // Two jobs of the same VM: 1 MiB blocks (the default) for the restores, 256 KiB
                // (the smallest) for the rollback, which rewrites whole blocks where the lab
                // changed 64 KiB ones.
                for (job, block) in [("bench", "1M"), ("bench-small", "256K")] {
                    try plan.add(
                        RepositoryDefinition(
                            name: "repo-\(job)", path: folder.appendingPathComponent("repository-\(job)").path, maxConcurrentTasks: 2,
                            freeSpaceThresholdPercent: 0))
                    var settings = JobSettings()
                    settings.name = job
                    settings.server = "lab"
                    settings.repository = "repo-\(job)"
                    settings.objects = ["vm:lab-vm-01"]
                    settings.blockSize = block
                    settings.timeZone = "UTC"
                    try plan.add(try settings.definition(base: nil, in: plan.state, defaultTimeZone: "UTC"))
                }
                return plan.changes
            }
            let settings = JobManagerSettings(checkpointBytes: 256 << 20)
            let jobs = JobManager(store: store, settings: settings, logger: logger)
            var points: [String: String] = [:]
            for job in ["bench", "bench-small"] {
                let backup = try await jobs.run(session: try await jobs.begin(job: job, trigger: .manual))
                guard backup.finished.result == .success, let point = backup.machines.first?.restorePoint else {
                    throw CommandFailure("the bench backup failed: \(backup.finished.reason ?? "")")
                }
                points[job] = point
            }
            let restores = RestoreManager(store: store, settings: settings, adapters: PlatformAdapters.standard, logger: logger)
            let metadata = EventMetadata(actor: "bench")
            let clock = ContinuousClock()

            // 1. A disk to a file, beside cat of it from the page cache and the catalog-free path.
            let file = folder.appendingPathComponent("restored.img").path
            var started = clock.now
            try await Self.run(
                restores,
                RestoreOrder(
                    vms: ["lab-vm-01"], point: .id(points["bench"]!), destination: .diskFile(disk: "2000", path: file, replace: false),
                    reason: "bench"), metadata)
            let toFile = Double(size) / (clock.now - started).seconds / 1e6
            let cat = try Self.catRate(file, size: size)
            let repository = try BackupRepository.open(at: folder.appendingPathComponent("repository-bench"))
            let point = points["bench"]!
            let manifest = try repository.manifest(restorePoint: point, disk: "disk-2000")
            let plainFile = folder.appendingPathComponent("plain.img").path
            started = clock.now
            try await BlockingIOPool.shared.run { () throws in
                _ = try DiskRestore.restore(manifest, from: repository, to: plainFile, overwrite: true)
            }
            let plain = Double(size) / (clock.now - started).seconds / 1e6
            try? FileManager.default.removeItem(atPath: plainFile)

            // 2. Quick rollback after a change of `changed`% of the lab's blocks, beside a full restore.
            try lab.mutate(percent: changed)
            started = clock.now
            try await Self.run(
                restores,
                RestoreOrder(
                    vms: ["lab-vm-01"], point: .id(points["bench-small"]!),
                    destination: .vm(.init(server: "lab", overwrite: true, powerOff: true)), reason: "bench"), metadata)
            let rollback = (clock.now - started).seconds
            started = clock.now
            try await Self.run(
                restores,
                RestoreOrder(
                    vms: ["lab-vm-01"], point: .id(points["bench-small"]!), destination: .vm(.init(server: "lab", name: "full-copy")),
                    reason: "bench"), metadata)
            let full = (clock.now - started).seconds

            var cases = [
                BenchCase(name: "restore a disk to a file (a restore session)", value: toFile, unit: "MB/s", reference: cat),
                BenchCase(name: "restore file (no session, catalog-free)", value: plain, unit: "MB/s", reference: cat),
                BenchCase(
                    name: "quick rollback, \(Self.number(changed))% of the blocks changed", value: rollback, unit: "s", reference: full),
            ]
            var notes = [
                "disk: \(diskMib) MiB generated as the lab generates (about 40% zeros, 30% text, 25% random); 1 MiB blocks, 256 KiB for the rollback; lab, repositories and files in \(folder.deletingLastPathComponent().path)",
                "to a file: request to end of the session (checks, events, fsync at checkpoints and the end); reference: cat of the restored file to /dev/null, read from the page cache",
                "quick rollback: restore vm --overwrite over the original after 'lab mutate --percent \(Self.number(changed))'; reference: the same point restored as a new VM (every block written)",
            ]
            if let vcenterURL {
                // 3. A VM from the lab point restored into the simulator: its disk's upload beside curl's PUT of the same bytes.
                let id = try await restores.request(
                    RestoreOrder(
                        vms: ["lab-vm-01"], point: .id(points["bench"]!), destination: .vm(.init(server: "vcsim", name: "bench-upload")),
                        reason: "bench"),
                    metadata: metadata)
                let report = try await restores.run(restore: id)
                guard report.finished.result == .success else {
                    throw CommandFailure("the upload restore failed: \(report.finished.reason ?? "")")
                }
                let upload = try await Self.diskSeconds(store, restore: id)
                let curl = try Self.curlPut(file, url: vcenterURL, size: size)
                cases.append(
                    BenchCase(
                        name: "upload a restored disk to the vCenter simulator", value: Double(size) / upload / 1e6, unit: "MB/s",
                        reference: curl))
                notes.append(
                    "upload: from the disk's RestoreDiskStarted to its RestoreDiskFinished (read from the repository, one streamed datastore PUT, the descriptor); reference: curl -T of the restored file to a datastore URL of the same simulator"
                )
            }
            BenchReport.print(cases, json: json, notes: notes)
        }
    }

    static func run(_ manager: RestoreManager, _ order: RestoreOrder, _ metadata: EventMetadata) async throws {
        let report = try await manager.run(restore: try await manager.request(order, metadata: metadata))
        guard report.finished.result == .success else { throw CommandFailure("a bench restore failed: \(report.finished.reason ?? "")") }
    }

    /// Seconds from the first disk's start to its finish, as the log recorded them.
    static func diskSeconds(_ store: EventStore, restore: String) async throws -> Double {
        let events = try await store.readStream(try StreamName("restore-\(restore)"), limit: 1_000)
        guard let start = events.first(where: { $0.type == "RestoreDiskStarted" })?.recordedAt,
            let end = events.first(where: { $0.type == "RestoreDiskFinished" })?.recordedAt
        else { throw CommandFailure("the upload restore recorded no disk") }
        return max(end.timeIntervalSince(start), 0.001)
    }

    static func catRate(_ file: String, size: Int64) throws -> Double {
        _ = try ToolRunner(runAsServerAccount: false).run("/bin/sh", ["-c", "cat '\(file)' > /dev/null"])
        let started = ContinuousClock.now
        let output = try ToolRunner(runAsServerAccount: false).run("/bin/sh", ["-c", "cat '\(file)' > /dev/null"])
        guard output.status == 0 else { throw CommandFailure("cat could not read \(file): \(output.text)") }
        return Double(size) / (ContinuousClock.now - started).seconds / 1e6
    }

    static func curlPut(_ file: String, url: String, size: Int64) throws -> Double {
        guard let curl = executable(named: "curl") else { throw CommandFailure("curl is not installed: apt-get install curl") }
        let base = url.hasSuffix("/sdk") ? String(url.dropLast(4)) : url
        let address = "\(base)/folder/bench-curl/bench-flat.vmdk?dcPath=DC0&dsName=LocalDS_0"
        let output = try ToolRunner(runAsServerAccount: false).run(
            curl, ["-sk", "-T", file, "-o", "/dev/null", "-w", "%{size_upload} %{time_total}", address])
        let fields = output.text.split(separator: " ").compactMap { Double($0) }
        guard output.status == 0, fields.count == 2, Int64(fields[0]) == size, fields[1] > 0 else {
            throw CommandFailure("curl could not upload to \(address): \(output.text)")
        }
        return fields[0] / fields[1] / 1e6
    }

    static func thumbprint(_ url: String) async throws -> String {
        do {
            try await VSphereClient(endpoint: VSphereEndpoint(url: url, user: "tidemark", password: "tidemark-test")).connect()
        } catch {
            if let range = error.message.range(of: "[0-9A-F]{64}", options: .regularExpression) { return String(error.message[range]) }
            throw error
        }
        throw CommandFailure("the simulator's certificate was trusted without a pin")
    }

    static func number(_ value: Double) -> String { value.rounded() == value ? String(Int(value)) : String(value) }
}
