import BlockingIO
import Catalog
import EventStore
import Logging
import Repository

/// A restore point chosen by VM and point, its repository opened from the catalog, and the
/// disks asked for (one, by key or name, or every disk of the point): what a publish and
/// `tidemark files` read. A disk the point does not have is refused with the ones it has.
struct PointDisks: Sendable {
    let record: RestorePointRecord
    let repositoryID: String
    let definition: RepositoryDefinition
    let repository: any RepositoryStore
    /// Manifest names (`disk-2000`).
    let names: [String]

    /// `settings`: where a repository service's token and staging folder are.
    static func choose(
        vm: String, point: RestorePointChoice, disk: String?, store: EventStore, settings: JobManagerSettings, logger: Logger
    ) async throws -> PointDisks {
        let restores = RestoreManager(store: store, settings: settings, logger: logger)
        let catalog = try await restores.catalog.load()
        let record = try await RestorePointCatalog(store: store).choose(vm: vm, point)
        let planner = RestorePlanner(manager: restores)
        let (repositoryID, definition) = try planner.repository(of: [record], in: catalog)
        let repository = try await planner.openStore(definition, id: repositoryID)
        let all = record.disks.map(\.name)
        var names = all
        if let disk {
            let wanted = disk.hasPrefix("disk-") ? disk : "disk-\(disk)"
            guard all.contains(wanted) else {
                throw RestoreError(
                    .invalidRequest,
                    "\(record.point.vmName ?? vm)'s restore point \(record.point.restorePointId) has no disk \(disk): its disks are \(all.joined(separator: ", "))"
                )
            }
            names = [wanted]
        }
        return PointDisks(record: record, repositoryID: repositoryID, definition: definition, repository: repository, names: names)
    }

    /// The manifests of `names` in `point`, read after the repository's hold is taken (a
    /// folder's shared lock; a service never collects what a manifest names): the caller
    /// keeps it while it reads their chunks, so collection waits. With
    /// `waitForLock`, a collection holding the lock is waited for instead of refused (the
    /// session's index step, which must not give a point up for a collection's minutes).
    static func manifests(
        _ names: [String], of point: String, in repository: any RepositoryStore, waitForLock: Bool = false
    ) async throws -> (
        [DiskManifest], RepositoryHold
    ) {
        try await BlockingIOPool.shared.run { () throws(RepositoryError) in
            let hold = try repository.readHold(wait: waitForLock)
            return (try names.map { name throws(RepositoryError) in try repository.manifest(restorePoint: point, disk: name) }, hold)
        }
    }
}
