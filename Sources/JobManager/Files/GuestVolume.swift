import BlockingIO
import EventStore
import Ext4
import Foundation
import Logging
import Repository

/// Which guest file system of a restore point to read: a disk (`2000` or `disk-2000`) and a
/// partition number on it; either may be left out when the point holds one readable file
/// system that fits.
public struct GuestVolumeChoice: Sendable, Equatable {
    public var disk: String?
    public var partition: Int?

    public init(disk: String? = nil, partition: Int? = nil) {
        self.disk = disk
        self.partition = partition
    }
}

/// One guest file system of a restore point, open for reading straight from the chunks. It
/// holds the repository's shared lock while open, so collection waits rather than delete
/// chunks it reads; every call on `fileSystem` blocks (run it off the cooperative pool).
public final class GuestVolume: Sendable {
    public let record: RestorePointRecord
    public let repositoryID: String
    public let repositoryName: String
    /// The manifest's name (`disk-2000`) and its key.
    public let disk: String
    public let diskKey: Int
    public let diskSize: Int64
    /// Nil: a file system on the whole disk.
    public let partition: Int?
    public let type: String
    public let fileSystem: Ext4FileSystem
    let export: RestorePointExport
    let lock: RepositoryHold

    init(
        record: RestorePointRecord, chosen: PointDisks, export: RestorePointExport, partition: Int?, type: String,
        fileSystem: Ext4FileSystem, lock: RepositoryHold
    ) {
        self.record = record
        self.repositoryID = chosen.repositoryID
        self.repositoryName = chosen.definition.name
        self.disk = export.manifest.disk
        self.diskKey = record.disks.first { $0.name == export.manifest.disk }?.key ?? 0
        self.diskSize = export.manifest.diskSize
        self.partition = partition
        self.type = type
        self.fileSystem = fileSystem
        self.export = export
        self.lock = lock
    }

    /// `disk-2000 partition 1 (ext4 'root')`.
    public var name: String {
        "\(disk)\(partition.map { " partition \($0)" } ?? "") (\(type)\(fileSystem.label.map { " '\($0)'" } ?? ""))"
    }

    /// The blocks loaded so far and their chunks' stored bytes.
    public var bytesLoaded: (blocks: Int64, stored: Int64) { export.bytesLoaded }
}

extension GuestDisks {
    /// Opens the guest file system `choice` names in the chosen restore point. Refused, with
    /// what the point holds: a disk or partition that is not there, a file system Tidemark
    /// does not read (named), no readable file system, or several when none was named.
    public func open(vm: String, point: RestorePointChoice, volume choice: GuestVolumeChoice) async throws -> GuestVolume {
        let chosen = try await PointDisks.choose(vm: vm, point: point, disk: choice.disk, store: store, settings: settings, logger: logger)
        let record = chosen.record
        let (manifests, lock) = try await PointDisks.manifests(chosen.names, of: record.point.restorePointId, in: chosen.repository)
        return try await BlockingIOPool.shared.run { () throws -> GuestVolume in
            let exports = manifests.map { RestorePointExport(manifest: $0, repository: chosen.repository, cacheBytes: 16 << 20) }
            let described = try exports.map { try Self.describe($0) }
            let (index, partition, found) = try Self.pick(choice, among: described, point: record.point.restorePointId)
            let export = exports[index]
            let offset = partition?.offset ?? 0
            let length = partition?.length ?? export.manifest.diskSize
            let fileSystem = try Ext4FileSystem(size: length) { at, buffer in try export.read(at: offset + at, into: buffer) }
            return GuestVolume(
                record: record, chosen: chosen, export: export, partition: partition?.number, type: found.type ?? "ext4",
                fileSystem: fileSystem, lock: lock)
        }
    }

    /// The disk (by index), partition (nil: whole disk) and file system `choice` names.
    static func pick(
        _ choice: GuestVolumeChoice, among disks: [Disk], point: String
    ) throws -> (
        Int, PartitionTable.Partition?, FileSystemProbe.Found
    ) {
        var candidates: [(index: Int, partition: PartitionTable.Partition?, found: FileSystemProbe.Found)] = []
        var seen: [String] = []
        for (index, disk) in disks.enumerated() {
            if let problem = disk.problem {
                seen.append(problem)
                continue
            }
            if let whole = disk.wholeDisk {
                candidates.append((index, nil, whole))
                seen.append("\(disk.disk): \(whole.type.map { "a whole-disk \($0) file system" } ?? "no partition table, no file system")")
            }
            for (partition, found) in disk.partitions where choice.partition == nil || choice.partition == partition.number {
                candidates.append((index, partition, found))
                seen.append("\(disk.disk) partition \(partition.number): \(found.type ?? "unknown contents")")
            }
        }
        let what = seen.isEmpty ? "nothing" : seen.joined(separator: "; ")
        if let number = choice.partition, !candidates.contains(where: { $0.partition?.number == number }) {
            throw RestoreError(.invalidRequest, "restore point \(point) has no partition \(number) there: it holds \(what)")
        }
        if let number = choice.partition { candidates.removeAll { $0.partition?.number != number } }
        let readable = candidates.filter { $0.found.readable }
        if readable.isEmpty {
            if let other = candidates.first(where: { $0.found.type != nil }), candidates.count == 1 || choice.partition != nil {
                throw RestoreError(
                    .invalidRequest,
                    "\(disks[other.index].disk)\(other.partition.map { " partition \($0.number)" } ?? "") holds \(other.found.type!): Tidemark reads ext2, ext3 and ext4 file systems only (see the README's 'Guest files' on other file systems)"
                )
            }
            throw RestoreError(.invalidRequest, "restore point \(point) holds no ext2/3/4 file system Tidemark can read: \(what)")
        }
        guard readable.count == 1 else {
            let options = readable.map { candidate in
                "--disk \(disks[candidate.index].disk)\(candidate.partition.map { " --partition \($0.number)" } ?? "")"
            }
            throw RestoreError(
                .invalidRequest,
                "restore point \(point) holds \(readable.count) readable file systems: say which with \(options.joined(separator: " or "))")
        }
        return (readable[0].index, readable[0].partition, readable[0].found)
    }
}

extension GuestDisks {
    /// Every readable (ext2/3/4) file system of the point, opened; with why each disk or file
    /// system that should have been readable was not (a damaged table, a file system libext2fs
    /// refuses). Disks that hold no file system (data disks) are neither.
    public func openAll(vm: String, point: RestorePointChoice) async throws -> (volumes: [GuestVolume], problems: [String]) {
        let chosen = try await PointDisks.choose(vm: vm, point: point, disk: nil, store: store, settings: settings, logger: logger)
        let record = chosen.record
        let (manifests, lock) = try await PointDisks.manifests(
            chosen.names, of: record.point.restorePointId, in: chosen.repository, waitForLock: true)
        return try await BlockingIOPool.shared.run { () throws -> ([GuestVolume], [String]) in
            var volumes: [GuestVolume] = [], problems: [String] = []
            for manifest in manifests {
                let export = RestorePointExport(manifest: manifest, repository: chosen.repository, cacheBytes: 16 << 20)
                let disk = try Self.describe(export)
                if let problem = disk.problem { problems.append(problem) }
                var candidates = disk.partitions.map { (partition: Optional($0.partition), found: $0.found) }
                if let whole = disk.wholeDisk { candidates.append((nil, whole)) }
                for (partition, found) in candidates where found.readable {
                    let offset = partition?.offset ?? 0
                    do {
                        let fileSystem = try Ext4FileSystem(size: partition?.length ?? manifest.diskSize) { at, buffer in
                            try export.read(at: offset + at, into: buffer)
                        }
                        volumes.append(
                            GuestVolume(
                                record: record, chosen: chosen, export: export, partition: partition?.number, type: found.type ?? "ext4",
                                fileSystem: fileSystem, lock: lock))
                    } catch let error where !(error is CancellationError) {
                        problems.append("\(manifest.disk)\(partition.map { " partition \($0.number)" } ?? ""): \(error)")
                    }
                }
            }
            return (volumes, problems)
        }
    }
}
