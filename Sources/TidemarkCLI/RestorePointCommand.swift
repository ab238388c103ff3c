import ArgumentParser
import Catalog
import CatalogStore
import CommandLineSupport
import Foundation
import JobManager
import Postgres
import WorkflowEvents

/// `tidemark restore-point list`: what can be restored, by VM name, from the log itself (a
/// point retention removed is gone at once): VM, job, time, disks with keys and sizes,
/// repository, session, whether every disk of the VM is in it.
struct RestorePointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore-point",
        abstract: "List the restore points there are to restore from, by VM and job.",
        subcommands: [RestorePointList.self], defaultSubcommand: RestorePointList.self)
}

struct RestorePointList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List live restore points, newest first.")
    @Option(help: "Only this VM's (name or id).") var vm: String?
    @Option(help: "Only this job's (its name, or a name it had).") var job: String?
    @Flag(help: "One JSON array instead of a table.") var json = false
    @OptionGroup var global: GlobalOptions

    struct Entry: Encodable {
        let restore_point_id: String
        let vm_id: String
        let vm_name: String?
        let job_id: String?
        let job_name: String?
        let created_at: String
        let session_id: String
        let repository_id: String?
        let repository_name: String?
        let size_bytes: Int64?
        let complete: Bool
        let disks: [Disk]
        let configuration: SessionEvent.VMConfiguration?

        struct Disk: Encodable {
            let name: String
            let key: Int
            let size_bytes: Int64?
        }
    }

    func run() async throws {
        let logger = try global.makeLogger()
        let store = try await CatalogDatabase(options: global, logger: logger).openEventStore(maximumConnections: 2)
        try await withClosing(store) { store in
            let catalog = try await CatalogStore(events: store, logger: logger).load()
            let points = RestorePointCatalog(store: store)
            var records = if let vm { try await points.points(ofVM: vm) } else { try await points.all() }
            if let job {
                guard let id = catalog.jobID(nowOrFormerlyNamed: job) else {
                    let names = catalog.jobs.values.map(\.definition.name).sorted()
                    throw ValidationError("there is no job named \(job) (known: \(names.isEmpty ? "none" : names.joined(separator: ", ")))")
                }
                records = records.filter { $0.point.jobId == id }
            }
            if let vm, records.isEmpty && !json {
                let known = Set(try await points.all().compactMap(\.point.vmName)).sorted()
                print("no restore point of \(vm)\(known.isEmpty ? "" : " (VMs with restore points: \(known.joined(separator: ", ")))")")
                return
            }
            let formatter = ISO8601DateFormatter()
            let entries = records.reversed().map { record -> Entry in
                let point = record.point
                let repository = point.repositoryId ?? point.jobId.flatMap { catalog.jobs[$0]?.definition.repository }
                return Entry(
                    restore_point_id: point.restorePointId, vm_id: point.vmId, vm_name: point.vmName, job_id: point.jobId,
                    job_name: point.jobId.map { catalog.name(of: $0) }, created_at: formatter.string(from: record.createdAt),
                    session_id: record.session, repository_id: repository, repository_name: repository.map { catalog.name(of: $0) },
                    size_bytes: point.sizeBytes, complete: record.isComplete,
                    disks: record.disks.map { Entry.Disk(name: $0.name, key: $0.key, size_bytes: $0.sizeBytes) },
                    configuration: point.configuration)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .iso8601
                print(String(decoding: try encoder.encode(entries), as: UTF8.self))
                return
            }
            guard !entries.isEmpty else {
                print("no restore points yet: run a backup with 'tidemark job start NAME'")
                return
            }
            var rows = [["VM", "JOB", "TIME", "DISKS", "REPOSITORY", "SESSION", "COMPLETE", "RESTORE POINT"]]
            for entry in entries {
                let disks = entry.disks.map { "\($0.key) (\($0.size_bytes.map { megabytes($0) + " MB" } ?? "?"))" }.joined(separator: ", ")
                rows.append([
                    entry.vm_name ?? entry.vm_id, entry.job_name ?? "-", entry.created_at, disks, entry.repository_name ?? "-",
                    String(entry.session_id.prefix(8)), entry.complete ? "yes" : "no (disks excluded)", entry.restore_point_id,
                ])
            }
            print(TextTable.render(rows), terminator: "")
        }
    }
}
