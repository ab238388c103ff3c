import ArgumentParser
import BlockingIO
import CommandLineSupport
import JobManager
import Postgres

/// Which guest file system a `files` command reads: the VM, and a disk and partition when
/// the restore point holds more than one readable file system.
struct FilesVolumeOptions: ParsableArguments {
    @Option(help: "The VM (its name or id).") var vm: String
    @Option(help: "The disk holding the file system (2000 or disk-2000), when there are several.") var disk: String?
    @Option(help: "The partition's number on that disk (as 'files partitions' shows it).") var partition: Int?

    var choice: GuestVolumeChoice { GuestVolumeChoice(disk: disk, partition: partition) }

    func validate() throws {
        if let partition, partition < 1 { throw ValidationError("--partition \(partition): partitions are numbered from 1") }
    }

    /// Opens the point's file system and runs `body` with it off the cooperative pool.
    func withVolume<Value: Sendable>(
        point: RestorePointChoice, global: GlobalOptions, _ body: @escaping @Sendable (GuestVolume) throws -> Value
    ) async throws -> Value {
        let logger = try global.makeLogger()
        let database = try CatalogDatabase(options: global, logger: logger)
        let store = try await database.openEventStore(maximumConnections: 2)
        let volume = try await withClosing(store) { store in
            try await GuestDisks(store: store, settings: try global.jobManagerSettings(), logger: logger).open(
                vm: vm, point: point, volume: choice)
        }
        return try await BlockingIOPool.shared.run { () throws -> Value in try body(volume) }
    }
}
