import BlockingIO
import Catalog
import CatalogStore
import EventStore
import Foundation
import Infrastructure
import Repository
import WorkflowEvents

/// Turns a `RestoreOrder` into the `RestoreRequested` event, or refuses it with what was
/// wrong and what the choices are. Everything is checked before anything is recorded or
/// created: the restore points (from the log: a point retention removed is gone), the
/// repository and its manifests, the target server's inventory (folder, host, datastore,
/// networks, a VM of that name, free space), the files (never inside a repository).
struct RestorePlanner {
    let manager: RestoreManager

    func plan(_ order: RestoreOrder, restoreID: String) async throws -> RestoreEvent.Requested {
        guard !order.vms.isEmpty else { throw RestoreError(.invalidRequest, "name the VM to restore (--vm NAME)") }
        if let repeated = Dictionary(grouping: order.vms, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw RestoreError(.invalidRequest, "\(repeated) is named twice: restore each VM once")
        }
        let catalog = try await manager.catalog.load()
        let points = RestorePointCatalog(store: manager.store)
        var chosen: [RestorePointRecord] = []
        for vm in order.vms {
            let record = try await points.choose(vm: vm, order.point)
            if chosen.contains(where: { $0.point.vmId == record.point.vmId }) {
                throw RestoreError(.invalidRequest, "\(vm) names a VM already in this restore (\(record.point.vmId)): restore each VM once")
            }
            chosen.append(record)
        }
        let (repositoryID, repository) = try repository(of: chosen, in: catalog)
        let opened = try await openStore(repository, id: repositoryID)
        var machines: [RestoreEvent.Machine] = []
        for record in chosen { machines.append(try await machine(record, repository: opened, name: repository.name)) }

        switch order.destination {
        case .vm(let target):
            if target.name != nil && machines.count > 1 {
                throw RestoreError(.invalidRequest, "--name names one VM: restore several VMs without it (each becomes <name>-restored)")
            }
            // Over the original (--overwrite) the VM keeps its name; a new VM gets <name>-restored.
            for index in machines.indices {
                machines[index].targetName = target.name ?? machines[index].vmName + (target.overwrite ? "" : "-restored")
            }
            let names = machines.compactMap(\.targetName)
            if let twice = Dictionary(grouping: names, by: { $0.lowercased() }).first(where: { $0.value.count > 1 })?.value.first {
                throw RestoreError(.invalidRequest, "two of the VMs would be restored as \(twice): restore them one at a time with --name")
            }
            let resolved = try await resolve(target, for: &machines, in: catalog)
            return RestoreEvent.Requested(
                restoreId: restoreID, what: .vm, reason: order.reason, repositoryId: repositoryID, repositoryName: repository.name,
                vms: machines, target: resolved, replace: nil)
        case .diskFile(let disk, let path, let replace):
            guard machines.count == 1 else { throw RestoreError(.invalidRequest, "a disk restore takes one VM") }
            var file = try Self.disk(disk, of: machines[0])
            file.path = try await checkedFile(path, replace: replace, catalog: catalog)
            if let overlay = order.overlay {
                let (name, size) = (file.disk, file.sizeBytes)
                let checked = try await BlockingIOPool.shared.run { () throws in
                    try RestoreOverlay.check(folder: overlay, disk: name, size: size)
                }
                if let path = file.path, path.hasPrefix(checked + "/") {
                    throw RestoreError(.invalidRequest, "\(path) is inside the overlay's folder \(checked): write the disk elsewhere")
                }
                file.overlay = checked
            }
            machines[0].disks = [file]
            return RestoreEvent.Requested(
                restoreId: restoreID, what: .disk, reason: order.reason, repositoryId: repositoryID, repositoryName: repository.name,
                vms: machines, target: nil, replace: replace, raw: order.raw ? true : nil)
        case .diskToVM(let disk, let target, let targetDisk):
            guard order.overlay == nil else {
                throw RestoreError(.invalidRequest, "a publish's overlay goes with a disk restored to a file (--to FILE)")
            }
            guard machines.count == 1 else { throw RestoreError(.invalidRequest, "a disk restore takes one VM") }
            var chosen = try Self.disk(disk, of: machines[0])
            chosen.targetKey = targetDisk ?? chosen.key
            machines[0].disks = [chosen]
            machines[0].targetName = target.name
            let resolved = try await resolveDiskTarget(target, for: &machines[0], in: catalog)
            return RestoreEvent.Requested(
                restoreId: restoreID, what: .disk, reason: order.reason, repositoryId: repositoryID, repositoryName: repository.name,
                vms: machines, target: resolved, replace: nil)
        case .export(let folder, let replace):
            let usable = await BlockingIOPool.shared.run { () -> Bool in
                var isFolder: ObjCBool = false
                return FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) && isFolder.boolValue
            }
            guard usable else {
                throw RestoreError(.invalidRequest, "\(folder) is not a folder: make it first, or name an existing one with --to-folder")
            }
            var seen = Set<String>()
            for index in machines.indices {
                for diskIndex in machines[index].disks.indices {
                    let disk = machines[index].disks[diskIndex]
                    let path = (folder as NSString).appendingPathComponent("\(Self.fileName(machines[index].vmName))-\(disk.disk).img")
                    guard seen.insert(path).inserted else { throw RestoreError(.invalidRequest, "two disks would be exported to \(path)") }
                    machines[index].disks[diskIndex].path = try await checkedFile(path, replace: replace, catalog: catalog)
                }
            }
            return RestoreEvent.Requested(
                restoreId: restoreID, what: .export, reason: order.reason, repositoryId: repositoryID, repositoryName: repository.name,
                vms: machines, target: nil, replace: replace, raw: order.raw ? true : nil)
        case .guestFiles(let paths, let volume, let folder, let overwrite):
            guard machines.count == 1 else { throw RestoreError(.invalidRequest, "a file restore takes one VM") }
            let selection = try await guestFiles(
                paths, volume: volume, folder: folder, overwrite: overwrite, machine: machines[0], catalog: catalog)
            machines[0].disks = machines[0].disks.filter { $0.disk == selection.disk }
            return RestoreEvent.Requested(
                restoreId: restoreID, what: .files, reason: order.reason, repositoryId: repositoryID, repositoryName: repository.name,
                vms: machines, target: nil, replace: overwrite, guestFiles: selection)
        }
    }

    /// A disk of the point by key (`2000`) or name (`disk-2000`), or the error that lists them.
    static func disk(_ disk: String, of machine: RestoreEvent.Machine) throws -> RestoreEvent.Disk {
        let key = Int(disk.hasPrefix("disk-") ? String(disk.dropFirst(5)) : disk)
        guard let chosen = machine.disks.first(where: { $0.key == key }) else {
            throw RestoreError(
                .invalidRequest,
                "\(machine.vmName)'s restore point \(machine.restorePointId) has no disk \(disk): its disks are \(machine.disks.map(\.disk).joined(separator: ", "))"
            )
        }
        return chosen
    }

    /// The repository the points were written to (recorded in the point; for older points,
    /// their job's), which must still be in the catalog, and one for all of them.
    func repository(of points: [RestorePointRecord], in catalog: CatalogState) throws -> (String, RepositoryDefinition) {
        var ids = Set<String>()
        for record in points {
            guard let id = record.point.repositoryId ?? record.point.jobId.flatMap({ catalog.jobs[$0]?.definition.repository }) else {
                throw RestoreError(
                    .invalidRequest,
                    "restore point \(record.point.restorePointId) names no repository and its job is gone: restore it with 'tidemark restore file --repository PATH'"
                )
            }
            ids.insert(id)
        }
        guard ids.count == 1, let id = ids.first else {
            throw RestoreError(
                .invalidRequest, "the restore points chosen are in different repositories: restore them one repository at a time")
        }
        guard let definition = catalog.repositories[id]?.definition else {
            throw RestoreError(
                .invalidRequest,
                "the repository of these restore points (\(catalog.label(.repository, id))) is no longer in the catalog: add it again with 'tidemark repository add'"
            )
        }
        return (id, definition)
    }

    /// The repository for a restore that reads manifests and chunks only (a VM, a disk, an
    /// export): a repository service is read as a folder is. Guest files and publishes mount a
    /// folder's chunks (`open`).
    func openStore(_ repository: RepositoryDefinition, id: String) async throws -> any RepositoryStore {
        guard repository.isRemote else { return try await open(repository) }
        do {
            return try await repository.openService(id: id, settings: manager.settings)
        } catch let error as RepositoryError {
            throw RestoreError(.invalidRequest, "repository '\(repository.name)' cannot be opened: \(error.message)")
        } catch let error as JobManagerError {
            throw RestoreError(.invalidRequest, error.message)
        }
    }

    func open(_ repository: RepositoryDefinition) async throws -> BackupRepository {
        guard repository.folderURL != nil else { throw RestoreError(.invalidRequest, repository.remoteRefusal("a restore")) }
        do throws(RepositoryError) {
            let opened = try await BlockingIOPool.shared.run { () throws(RepositoryError) in
                try BackupRepository.open(at: URL(fileURLWithPath: repository.path))
            }
            // Opened without a key, an encrypted repository can be pruned but not read.
            guard !opened.isEncrypted else { throw RepositoryError(.keyRequired, "encrypted") }
            return opened
        } catch  where error.code == .keyRequired {
            throw RestoreError(
                .invalidRequest,
                "repository '\(repository.name)' is encrypted and the catalog holds no key for it: restore with 'tidemark restore file --repository \(repository.path) --key-file KEY ...'"
            )
        } catch {
            throw RestoreError(.invalidRequest, "repository '\(repository.name)' cannot be opened: \(error.message)")
        }
    }

    /// A VM of the restore: the point's disks with their sizes, each manifest read to check
    /// that it is still there and whole.
    private func machine(_ record: RestorePointRecord, repository: any RepositoryStore, name: String) async throws -> RestoreEvent.Machine {
        let point = record.point
        var disks: [RestoreEvent.Disk] = []
        for disk in record.disks {
            let manifest: DiskManifest
            do {
                manifest = try await BlockingIOPool.shared.run { () throws(RepositoryError) in
                    try repository.manifest(restorePoint: point.restorePointId, disk: disk.name)
                }
            } catch {
                throw RestoreError(
                    .noSuchRestorePoint,
                    "restore point \(point.restorePointId) of \(point.vmName ?? point.vmId), disk \(disk.name), cannot be read from repository '\(name)': \(error.message)"
                )
            }
            disks.append(RestoreEvent.Disk(disk: disk.name, key: disk.key, sizeBytes: manifest.diskSize))
        }
        return RestoreEvent.Machine(
            vmId: point.vmId, vmName: point.vmName ?? point.vmId, restorePointId: point.restorePointId, pointCreatedAt: record.createdAt,
            jobId: point.jobId, sessionId: record.session, targetName: nil, configuration: point.configuration, disks: disks,
            changeId: point.changeId)
    }

    /// A file a disk is written to: its folder exists, it is outside every repository, and
    /// it does not exist unless it may be replaced (and then it is a regular file).
    private func checkedFile(_ path: String, replace: Bool, catalog: CatalogState) async throws -> String {
        let known = catalog.repositories.values.compactMap(\.definition.folderURL?.path)
        return try await BlockingIOPool.shared.run { () throws -> String in try Self.checkedFile(path, replace: replace, known: known) }
    }

    /// A VM's name as a file name: no folder separators, no leading dot.
    static func fileName(_ name: String) -> String {
        let cleaned = String(name.map { $0 == "/" || $0 == "\\" || $0.isNewline ? "_" : $0 })
        return cleaned.hasPrefix(".") ? "_" + cleaned.dropFirst() : cleaned
    }

    private static func checkedFile(_ path: String, replace: Bool, known: [String]) throws -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        do {
            try RestoreTarget.checkOutside(absolute, knownRepositories: known)
        } catch {
            throw RestoreError(.invalidRequest, error.message)
        }
        var isFolder: ObjCBool = false
        let folder = (absolute as NSString).deletingLastPathComponent
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw RestoreError(.invalidRequest, "the folder \(folder) does not exist: make it first, or write the disk elsewhere")
        }
        guard access(folder, W_OK) == 0 else {
            throw RestoreError(
                .invalidRequest, "the folder \(folder) is not writable by this account: choose another, or fix its permissions")
        }
        var info = stat()
        if lstat(absolute, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFREG else {
                throw RestoreError(.invalidRequest, "\(absolute) is not a regular file (a device, link or folder): give a file path")
            }
            guard replace else {
                throw RestoreError(.targetExists, "\(absolute) exists: choose another file, or pass --force to replace it")
            }
        }
        return absolute
    }
}
