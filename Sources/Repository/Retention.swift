import Foundation

/// Which restore points to keep: the newest N, or those younger than N days.
public enum RetentionPolicy: Sendable, Equatable, CustomStringConvertible {
    case restorePoints(Int)
    case days(Int)

    /// Fewer than this many restore points is refused: one damaged chunk could otherwise
    /// leave nothing to restore.
    public static let minimumRestorePoints = 3

    public func validated() throws(RepositoryError) -> RetentionPolicy {
        switch self {
        case .restorePoints(let count) where count < Self.minimumRestorePoints:
            throw RepositoryError(.invalidInput, "keeping \(count) restore point(s) is below the minimum of \(Self.minimumRestorePoints)")
        case .days(let days) where days < 1:
            throw RepositoryError(.invalidInput, "keeping restore points for \(days) day(s) is below the minimum of 1")
        default:
            return self
        }
    }

    public var description: String {
        switch self {
        case .restorePoints(let count): return "the newest \(count) restore points"
        case .days(let days): return "restore points of the last \(days) days"
        }
    }
}

extension BackupRepository {
    /// When a restore point was made: its oldest manifest's time.
    public func createdAt(restorePoint: String) throws(RepositoryError) -> Date {
        var oldest: Date?
        for disk in try disks(of: restorePoint) {
            let created = try manifest(restorePoint: restorePoint, disk: disk).createdAt
            oldest = min(oldest ?? created, created)
        }
        guard let oldest else { throw RepositoryError(.missingManifest, "restore point \(restorePoint) has no manifest") }
        return oldest
    }

    /// Deletes the restore points the policy does not keep (their manifests; chunks are
    /// garbage collection's) and returns their ids, oldest first. Holds the exclusive lock.
    /// `prefix` limits it to one job's or VM's restore points (ids starting with it), since
    /// one repository serves many jobs, each with its own policy.
    @discardableResult
    public func applyRetention(_ policy: RetentionPolicy, prefix: String = "", now: Date = Date()) throws(RepositoryError)
        -> [String]
    {
        let policy = try policy.validated()
        let lock = try lock(.exclusive, wait: false)
        defer { withExtendedLifetime(lock) {} }
        var dated: [(id: String, created: Date)] = []
        for id in try restorePoints() where id.hasPrefix(prefix) { dated.append((id, try createdAt(restorePoint: id))) }
        dated.sort { $0.created == $1.created ? $0.id < $1.id : $0.created < $1.created }
        let doomed: [String]
        switch policy {
        case .restorePoints(let keep):
            doomed = dated.dropLast(keep).map(\.id)
        case .days(let days):
            let cutoff = now.addingTimeInterval(-Double(days) * 86_400)
            doomed = dated.filter { $0.created < cutoff }.map(\.id)
        }
        for id in doomed { try deleteRestorePoint(id) }
        return doomed
    }

    /// Renames the folder out of sight first (one atomic step), then removes it, so a crash
    /// midway leaves either the whole restore point or none of it.
    public func deleteRestorePoint(_ id: String) throws(RepositoryError) {
        let folder = "\(restorePointsPath)/\(id)"
        let doomed = "\(restorePointsPath)/.deleting-\(id)"
        guard rename(folder, doomed) == 0 else {
            throw RepositoryError(.io, "cannot delete restore point \(id): \(errnoText())")
        }
        try DurableFile.syncDirectory(restorePointsPath)
        try? FileManager.default.removeItem(atPath: doomed)
    }
}
