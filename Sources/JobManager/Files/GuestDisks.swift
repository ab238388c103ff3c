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
    /// Where a repository service's token and staging folder are.
    let settings: JobManagerSettings
    let logger: Logger

    public init(store: EventStore, settings: JobManagerSettings, logger: Logger = Logger(label: "tidemark.files")) {
        self.store = store
        self.settings = settings
        self.logger = logger
    }

    /// What one disk holds: its table and each partition's file system, or why it cannot be
    /// read (a damaged table, a chunk that cannot be loaded). Blocking: run off the pool.
    static func describe(_ export: RestorePointExport) throws -> Disk {
        let manifest = export.manifest
        let name = manifest.disk
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
            return Disk(disk: name, size: manifest.diskSize, table: nil, partitions: [], wholeDisk: nil, problem: "\(name): \(error)")
        } catch let error as RepositoryError {
            return Disk(
                disk: name, size: manifest.diskSize, table: nil, partitions: [], wholeDisk: nil, problem: "\(name): \(error.message)")
        }
    }

    /// The point chosen, and its disks (or the one asked for) as the guest sees them.
    public func disks(vm: String, point choice: RestorePointChoice, disk wanted: String?) async throws -> (RestorePointRecord, [Disk]) {
        let chosenDisks = try await PointDisks.choose(vm: vm, point: choice, disk: wanted, store: store, settings: settings, logger: logger)
        let (record, repository) = (chosenDisks.record, chosenDisks.repository)
        let point = record.point.restorePointId
        let (manifests, lock) = try await PointDisks.manifests(chosenDisks.names, of: point, in: repository)
        let disks = try await BlockingIOPool.shared.run { () throws -> [Disk] in
            defer { lock.release() }
            return try manifests.map { manifest in
                try Self.describe(RestorePointExport(manifest: manifest, repository: repository, cacheBytes: 8 << 20))
            }
        }
        return (record, disks)
    }
}
