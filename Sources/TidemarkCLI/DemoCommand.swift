import ArgumentParser
import Catalog
import CatalogStore
import DataMover
import EventStore
import Foundation
import Infrastructure
import Logging
import Projections
import Repository

/// The README's first command: a real backup session on the embedded defaults. It starts
/// the private PostgreSQL cluster, makes a lab of three VMs and a repository in the data
/// folder on first use (later runs first rewrite 2% of the lab's blocks, as a day of guest
/// writes would, and back up incrementally), records every step as an event while a
/// subscription follows them live, then restores a disk and checks it byte for byte.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Back up the lab's VMs into a repository on the embedded defaults, every step an event, and check a restore.")
    @OptionGroup var options: GlobalOptions

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
        let repository = FileManager.default.fileExists(atPath: repositoryURL.appendingPathComponent("repository.json").path)
            ? try BackupRepository.open(at: repositoryURL) : try BackupRepository.create(at: repositoryURL)
        print("repository: \(repository.root.path)")

        let catalog = CatalogStore(events: store, logger: logger)
        let vms = try await lab.inventory().virtualMachines.map(\.name).sorted()
        let job = try await DemoCatalog.ensure(catalog, labFolder: labPath, repositoryPath: repositoryURL.path, vms: vms)
        print("job:        '\(job.name)' (version \(job.version)), proxies \(job.proxies.map(\.name).joined(separator: ", "))")

        let session = try DemoSession(store: store, lab: lab, repository: repository, job: job)
        let head = try await store.headPosition()
        let follower = Task {
            var seen = 0
            for try await event in store.subscribe(after: head, category: "session") where event.stream == session.stream.rawValue {
                seen += 1
                if event.type == "SessionFinished" { break }
            }
            return seen
        }
        let started = ContinuousClock.now
        let (totals, check) = try await session.run()
        let seconds = (ContinuousClock.now - started).seconds
        let followed = try await follower.value
        let recorded = try await store.readStream(session.stream, limit: 10_000)

        print("\nsession \(session.sessionID.uuidString.lowercased()): success")
        for event in recorded where !["TransferCheckpointed"].contains(event.type) {
            print("  " + EventPrinter.textLine(event))
        }
        func megabytes(_ bytes: Int64) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
        print(
            """

            processed \(megabytes(totals.processed)), read \(megabytes(totals.read)), transferred \(megabytes(totals.transferred)) \
            in \(String(format: "%.2f", seconds)) s (\(String(format: "%.0f", Double(totals.processed) / 1e6 / max(seconds, 0.001))) MB/s); \
            bottleneck: \(totals.times.bottleneck)
            restore points: \(totals.restorePoints.joined(separator: ", "))
            \(recorded.count) events recorded on \(session.stream), \(followed) of them followed live
            """)
        try await Projector(store: store, logger: logger).catchUp()
        let summary = try await store.pool.query(
            """
            SELECT j.last_result, (SELECT count(*) FROM reporting.sessions s WHERE s.job_id = j.job_id::text),
                   (SELECT count(*) FROM reporting.restore_points r WHERE r.job_id = j.job_id::text AND r.available)
              FROM reporting.jobs j WHERE j.job_name = $1
            """, [job.name])
        if summary.rowCount == 1 {
            print(
                "projections: job '\(job.name)' last result \(try summary.decode(0, 0, as: String.self)), \(try summary.decode(0, 1, as: Int64.self)) session(s), \(try summary.decode(0, 2, as: Int64.self)) restore point(s) (see docs/sql-cookbook.md)")
        }
        await store.pool.close()

        if let check {
            let target = FileManager.default.temporaryDirectory.appendingPathComponent("tidemark-demo-restore-\(UUID().uuidString.prefix(8)).img")
            defer { try? FileManager.default.removeItem(at: target) }
            let manifest = try repository.manifest(restorePoint: check.restorePoint, disk: check.disk)
            try DiskRestore.restore(manifest, from: repository, to: target.path, overwrite: false)
            let restored = try DemoSession.sha256(of: try ImageFileSource(path: target.path))
            guard restored == check.sha256 else {
                throw ValidationError("the restore of \(check.restorePoint)/\(check.disk) differs from the snapshot it was taken from")
            }
            print("restored \(check.restorePoint)/\(check.disk) and checked it: byte-identical to the snapshot (SHA-256 \(restored.prefix(16))…)")
        }
        guard followed == recorded.count else {
            throw ValidationError("the live subscription saw \(followed) of the session's \(recorded.count) events")
        }
    }
}
