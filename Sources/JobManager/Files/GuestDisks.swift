import BlockingIO
import EventStore
import Foundation
import Logging
import Repository
import WorkflowEvents

/// The guest's view of a restore point's disks, read straight from the chunks (nothing is
/// restored or mounted): each disk's partition table and what each partition holds.
public struct GuestDisks: Sendable {
    public struct Disk: Sendable {
        public let disk: String
        public let size: Int64
        /// Nil: the disk has no partition table (a whole-disk file system, or data).
        public let table: PartitionTable?
        public let partitions: [(partition: PartitionTable.Partition, found: FileSystemProbe.Found)]
        /// What the whole disk holds when it has no table.
        public let wholeDisk: FileSystemProbe.Found?
        /// Why the disk could not be read (a damaged table, a corrupt chunk): the other disks
        /// are still shown.
        public var problem: String? = nil
    }

    public let store: EventStore
    let logger: Logger

    public init(store: EventStore, logger: Logger = Logger(label: "tidemark.files")) {
        self.store = store
        self.logger = logger
    }

    /// The point chosen, and its disks (or the one asked for) as the guest sees them.
    public func disks(vm: String, point choice: RestorePointChoice, disk wanted: String?) async throws -> (RestorePointRecord, [Disk]) {
        let restores = RestoreManager(store: store, logger: logger)
        let catalog = try await restores.catalog.load()
        let record = try await RestorePointCatalog(store: store).choose(vm: vm, choice)
        let planner = RestorePlanner(manager: restores)
        let (_, definition) = try planner.repository(of: [record], in: catalog)
        let repository = try await planner.open(definition)
        var names = record.disks.map(\.name)
        if let wanted {
            let name = wanted.hasPrefix("disk-") ? wanted : "disk-\(wanted)"
            guard names.contains(name) else {
                throw RestoreError(
                    .invalidRequest,
                    "\(record.point.vmName ?? vm)'s restore point \(record.point.restorePointId) has no disk \(wanted): its disks are \(names.joined(separator: ", "))"
                )
            }
            names = [name]
        }
        let point = record.point.restorePointId
        let chosen = names
        let disks = try await BlockingIOPool.shared.run { () throws -> [Disk] in
            let lock = try repository.lock(.shared, wait: false)
            defer { withExtendedLifetime(lock) {} }
            return try chosen.map { name in
                let manifest = try repository.manifest(restorePoint: point, disk: name)
                let export = RestorePointExport(manifest: manifest, repository: repository, cacheBytes: 8 << 20)
                func read(_ offset: Int64, _ count: Int) throws -> [UInt8] {
                    let length = max(0, min(Int64(count), manifest.diskSize - offset))
                    var bytes = [UInt8](repeating: 0, count: Int(length))
                    try bytes.withUnsafeMutableBytes { try export.read(at: offset, into: $0) }
                    return bytes
                }
                do {
                    let table = try PartitionTable.read(size: manifest.diskSize, read)
                    let partitions = try (table?.partitions ?? []).map { partition in
                        (partition, FileSystemProbe.probe(try read(partition.offset, Int(min(partition.length, 68 << 10)))))
                    }
                    return Disk(
                        disk: name, size: manifest.diskSize, table: table, partitions: partitions,
                        wholeDisk: table == nil ? FileSystemProbe.probe(try read(0, 68 << 10)) : nil)
                } catch let error as PartitionError {
                    return Disk(
                        disk: name, size: manifest.diskSize, table: nil, partitions: [], wholeDisk: nil, problem: "\(name): \(error)")
                } catch let error as RepositoryError {
                    return Disk(
                        disk: name, size: manifest.diskSize, table: nil, partitions: [], wholeDisk: nil,
                        problem: "\(name): \(error.message)")
                }
            }
        }
        return (record, disks)
    }
}
