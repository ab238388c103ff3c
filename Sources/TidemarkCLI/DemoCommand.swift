import ArgumentParser
import Catalog
import CatalogStore
import CommandLineSupport
import Crypto
import DataMover
import EventStore
import Foundation
import Infrastructure
import JobManager
import Logging
import PlatformAdapters
import Projections
import Repository

/// The README's first command: real backup sessions on the embedded defaults. It starts
/// the private PostgreSQL cluster, makes a lab of three VMs, a repository, two proxies and a
/// job on first use, runs a session of the job (full the first time; a later run rewrites 2%
/// of the lab's blocks first, so its first session is incremental too), rewrites 2% of the
/// lab's blocks as a day of guest writes would, runs an incremental session, every step an
/// event followed live (one line per step; every event with --events), then restores a disk
/// and checks it byte for byte.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Back up the lab's VMs into a repository on the embedded defaults, every step an event, and check a restore.")
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Print every event of the sessions as it is recorded, instead of one line per step.") var events = false

    func run() async throws {
        let logger = try options.makeLogger()
        let database = try CatalogDatabase(options: options, logger: logger)
        let data = database.dataDirectory
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        if let cluster = database.privateCluster {
            print("catalog:    private PostgreSQL cluster in \(cluster.dataDirectory.path)")
        } else {
            print("catalog:    configured PostgreSQL database")
        }
        let store = try await database.openEventStore()

        let labPath = data.appendingPathComponent("lab").path
        let lab: LabAdapter
        if FileManager.default.fileExists(atPath: labPath + "/lab.json") {
            lab = try LabAdapter(root: labPath)
            let written = try lab.mutate(percent: 2)
            print("lab:        \(labPath) (guests rewrote \(written.values.map(\.count).reduce(0, +)) blocks of 64 KiB since the last run)")
        } else {
            lab = try LabAdapter.create(at: labPath, vms: 3, disksPerVM: 1, diskSize: 64 << 20)
            print("lab:        \(labPath) (new: 3 VMs, one 64 MiB disk each)")
        }
        let repositoryURL = data.appendingPathComponent("repository")
        let repository =
            FileManager.default.fileExists(atPath: repositoryURL.appendingPathComponent("repository.json").path)
            ? try BackupRepository.open(at: repositoryURL) : try BackupRepository.create(at: repositoryURL)
        print("repository: \(repository.root.path)")

        let catalog = CatalogStore(events: store, logger: logger)
        let vms = try await lab.inventory().virtualMachines.map(\.name).sorted()
        let job = try await DemoCatalog.ensure(catalog, labFolder: labPath, repositoryPath: repositoryURL.path, vms: vms)
        print("job:        '\(job.name)' (version \(job.version)), proxies \(job.proxies.map(\.name).joined(separator: ", "))")

        let manager = JobManager(
            store: store, settings: JobManagerSettings.fromEnvironment(dataDirectory: database.dataDirectory),
            adapters: PlatformAdapters.standard, logger: logger)
        let sessions = DemoSession(store: store, manager: manager, job: job, rawEvents: events)
        _ = try await sessions.run(1, of: 2)
        let written = try lab.mutate(percent: 2)
        print("\nlab:        guests rewrote \(written.values.map(\.count).reduce(0, +)) blocks of 64 KiB")
        let report = try await sessions.run(2, of: 2)
        try await Projector(store: store, logger: logger).catchUp()
        let summary = try await store.pool.query(
            """
            SELECT j.last_result, (SELECT count(*) FROM reporting.sessions s WHERE s.job_id = j.job_id::text),
                   (SELECT count(*) FROM reporting.restore_points r WHERE r.job_id = j.job_id::text AND r.available)
              FROM reporting.jobs j WHERE j.job_name = $1
            """, [job.name])
        if summary.rowCount == 1 {
            print(
                "projections: job '\(job.name)' last result \(try summary.decode(0, 0, as: String.self)), \(try summary.decode(0, 1, as: Int64.self)) session(s), \(try summary.decode(0, 2, as: Int64.self)) restore point(s) (see docs/sql-cookbook.md)"
            )
        }
        await store.pool.close()

        print(
            "restore points of job '\(job.name)': \(report.machines.compactMap(\.restorePoint).joined(separator: ", ")) (and those of earlier sessions, see 'tidemark session list')"
        )
        // The restore check: a fresh snapshot of the first VM (the lab has not changed since
        // the second session), hashed, against the restore of its first disk.
        if let first = report.machines.first(where: { $0.restorePoint != nil }), let point = first.restorePoint,
            let machine = try await lab.inventory().virtualMachines.first(where: { $0.id == first.id })
        {
            let disk = "disk-\(machine.disks[0].key)"
            let check = try await lab.createSnapshot(
                vm: machine.id, name: "tidemark-demo-check", description: "restore check", quiesce: false)
            let expected = try await Self.sha256(
                of: try await lab.openDisk(vm: machine.id, snapshot: check.id, diskKey: machine.disks[0].key))
            try await lab.removeSnapshot(vm: machine.id, snapshot: check.id)
            let target = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tidemark-demo-restore-\(UUID().uuidString.prefix(8)).img")
            defer { try? FileManager.default.removeItem(at: target) }
            let manifest = try repository.manifest(restorePoint: point, disk: disk)
            try DiskRestore.restore(manifest, from: repository, to: target.path, overwrite: false)
            let restored = try await Self.sha256(of: try ImageFileSource(path: target.path))
            guard restored == expected else {
                throw CommandFailure("the restore of \(point)/\(disk) differs from the VM's disk")
            }
            print("restored \(point)/\(disk) and checked it: byte-identical to the VM's disk (SHA-256 \(restored.prefix(16))…)")
        }
        if let cluster = database.privateCluster {
            // The cluster outlives the demo (the next run and every other command use it): say so.
            let account = geteuid() == 0 ? " (as the postgres user)" : ""
            print(
                "the catalog's PostgreSQL cluster keeps running in \(cluster.dataDirectory.path)\(account): stop it with 'tidemark db stop --data-dir \(cluster.dataDirectory.path)'"
            )
        }
    }

    static func sha256(of source: any BlockSource) async throws -> String {
        var hasher = SHA256()
        var offset: Int64 = 0
        while offset < source.size {
            let length = Int(min(Int64(1 << 20), source.size - offset))
            hasher.update(data: try await source.bytes(at: offset, count: length))
            offset += Int64(length)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
