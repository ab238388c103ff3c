import BlockingIO
import Catalog
import CatalogStore
import Ext4
import Foundation
import Repository
import WorkflowEvents

extension RestorePlanner {
    /// A file restore's selection, checked before anything is recorded: absolute guest paths
    /// without `..` that are there in the point's file system (the missing part named), and a
    /// folder outside every repository that is new or empty (or may be written over).
    func guestFiles(
        _ paths: [String], volume choice: GuestVolumeChoice, folder: String, overwrite: Bool, machine: RestoreEvent.Machine,
        catalog: CatalogState
    ) async throws -> RestoreEvent.GuestFiles {
        guard !paths.isEmpty else {
            throw RestoreError(.invalidRequest, "name what to restore with --path (for example --path /etc/hosts)")
        }
        for path in paths {
            guard path.hasPrefix("/") else {
                throw RestoreError(.invalidRequest, "--path \(path) is not a guest path: give it from the guest's root, as /\(path)")
            }
            guard !path.split(separator: "/").contains("..") else {
                throw RestoreError(
                    .invalidRequest, "--path \(path) climbs with '..': name the file by its own path, which cannot leave the target folder")
            }
        }
        // Each path lands in the folder under its last name: two with one name, or one inside
        // another, would write over each other.
        let cleaned = paths.map { "/" + $0.split(separator: "/").joined(separator: "/") }
        for (index, path) in cleaned.enumerated() {
            for other in cleaned[(index + 1)...] {
                if path == "/" || other == "/" || path == other || other.hasPrefix(path + "/") || path.hasPrefix(other + "/") {
                    throw RestoreError(
                        .invalidRequest, "--path \(path) and --path \(other) overlap: name each file or folder once, not one inside another"
                    )
                }
                if path.split(separator: "/").last == other.split(separator: "/").last {
                    throw RestoreError(
                        .invalidRequest,
                        "--path \(path) and --path \(other) have the same name and would be written over each other: restore them in two runs, to two folders"
                    )
                }
            }
        }
        let known = catalog.repositories.values.compactMap(\.definition.folderURL?.path)
        let absolute = try await BlockingIOPool.shared.run { () throws -> String in
            try Self.checkedFolder(folder, overwrite: overwrite, known: known)
        }
        let volume = try await GuestDisks(store: manager.store, settings: manager.settings, logger: manager.logger).open(
            vm: machine.vmId, point: .id(machine.restorePointId), volume: choice)
        try await BlockingIOPool.shared.run { () throws in
            for path in paths { _ = try volume.fileSystem.locate(path) }
        }
        return RestoreEvent.GuestFiles(
            disk: volume.disk, partition: volume.partition, paths: paths, folder: absolute, overwrite: overwrite,
            host: ProcessInfo.processInfo.hostName)
    }

    /// The folder files are restored into: outside every repository; a folder (or nothing yet,
    /// under a folder this account can write); empty unless `overwrite`.
    static func checkedFolder(_ folder: String, overwrite: Bool, known: [String]) throws -> String {
        let absolute = URL(fileURLWithPath: folder).standardizedFileURL.path
        do {
            try RestoreTarget.checkOutside(absolute, knownRepositories: known)
        } catch {
            throw RestoreError(.invalidRequest, error.message)
        }
        var info = stat()
        if lstat(absolute, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw RestoreError(.invalidRequest, "\(absolute) is not a folder: give a folder to restore the files into (--to)")
            }
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: absolute)) ?? []
            guard contents.isEmpty || overwrite else {
                throw RestoreError(
                    .targetExists,
                    "\(absolute) is not empty (\(contents.count) entries): restore into a new or empty folder, or add --overwrite to write over what is there"
                )
            }
            guard access(absolute, W_OK) == 0 else {
                throw RestoreError(
                    .invalidRequest, "\(absolute) is not writable by this account: choose another folder, or fix its permissions")
            }
            return absolute
        }
        // Made on the way: the nearest folder that exists must be writable.
        var parent = (absolute as NSString).deletingLastPathComponent
        while lstat(parent, &info) != 0, parent != "/" { parent = (parent as NSString).deletingLastPathComponent }
        guard info.st_mode & S_IFMT == S_IFDIR, access(parent, W_OK) == 0 else {
            throw RestoreError(
                .invalidRequest, "\(absolute) cannot be made: \(parent) is not a folder this account can write to")
        }
        return absolute
    }
}
