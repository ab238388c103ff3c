import ArgumentParser
import CommandLineSupport
import Foundation
import JobManager
import Postgres

/// `tidemark files`: the guest's view of a restore point, read from the repository's chunks.
struct FilesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "files",
        abstract: "A restore point as the guest sees it, read straight from the chunks (nothing restored or mounted).",
        subcommands: [
            FilesPartitionsCommand.self, FilesListCommand.self, FilesRestoreCommand.self, FilesDiffCommand.self, FilesFindCommand.self,
        ])
}

struct FilesPartitionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partitions",
        abstract: "Each disk's partition table (MBR or GPT) and what each partition holds (ext4 is read; others are named).")
    @Option(help: "The VM (its name or id).") var vm: String
    @Option(help: "Only this disk (2000 or disk-2000).") var disk: String?
    @OptionGroup var pointOptions: RestorePointOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let logger = try global.makeLogger()
        let database = try CatalogDatabase(options: global, logger: logger)
        let store = try await database.openEventStore(maximumConnections: 2)
        let (record, disks) = try await withClosing(store) { store in
            try await GuestDisks(store: store, settings: try global.jobManagerSettings(), logger: logger).disks(
                vm: vm, point: pointOptions.choice, disk: disk)
        }
        print(
            "\(record.point.vmName ?? vm) restore point \(record.point.restorePointId) (\(ISO8601DateFormatter().string(from: record.createdAt)))"
        )
        for disk in disks {
            if let problem = disk.problem {
                print("  \(disk.disk) (\(Self.size(disk.size))): not read: \(problem)")
                continue
            }
            guard let table = disk.table else {
                let found =
                    disk.wholeDisk?.type.map { "a whole-disk \($0) file system" } ?? "no partition table and no file system Tidemark knows"
                print("  \(disk.disk) (\(Self.size(disk.size))): \(found)")
                continue
            }
            print("  \(disk.disk) (\(Self.size(disk.size))): \(table.scheme.rawValue), \(table.partitions.count) partition(s)")
            var rows = [["#", "START", "SIZE", "TYPE", "FILE SYSTEM", "LABEL", "FILES"]]
            for (partition, found) in disk.partitions {
                rows.append([
                    "\(partition.number)", Self.size(partition.offset), Self.size(partition.length),
                    partition.name.map { "\(partition.type) (\($0))" } ?? partition.type, found.type ?? "unknown", found.label ?? "-",
                    found.readable ? "readable" : found.type.map { "not read: \($0) is not supported yet" } ?? "not read: unknown",
                ])
            }
            print(TextTable.render(rows).split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        }
    }

    /// Bytes as MiB, the unit partitions are laid out in (KiB below one).
    static func size(_ bytes: Int64) -> String {
        bytes >= 1 << 20 && bytes % (1 << 20) == 0
            ? "\(bytes >> 20) MiB" : bytes >= 1 << 20 ? String(format: "%.1f MiB", Double(bytes) / 1_048_576) : "\(bytes / 1024) KiB"
    }
}
