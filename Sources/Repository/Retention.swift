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

    /// The chain a restore point belongs to: its id without the last `-` part. Jobs name
    /// points `<vm id>-<session>`, so a chain is one VM's restore points (`vm-3-9320d0a5` →
    /// `vm-3`); an id without `-` is a chain of its own.
    public static func chain(of restorePoint: String) -> String {
        guard let dash = restorePoint.lastIndex(of: "-"), dash != restorePoint.startIndex else { return restorePoint }
        return String(restorePoint[..<dash])
    }

    /// A restore point retention would delete, and why.
    public struct RetentionCandidate: Sendable, Equatable {
        public let restorePoint: String
        public let chain: String
        public let createdAt: Date
    }

    /// The restore points the policy does not keep, oldest first, deleting nothing. The
    /// policy applies to each chain (each VM) on its own, as a job's retention does, unless
    /// `wholeRepository`; the newest restore point of a chain is never among them unless
    /// `removingLast` says so: a policy must not leave a VM with nothing to restore by accident.
    /// `prefix` limits it to restore points whose id starts with it.
    public func retentionPlan(
        _ policy: RetentionPolicy, prefix: String = "", wholeRepository: Bool = false, removingLast: Bool = false, now: Date = Date()
    ) throws(RepositoryError) -> [RetentionCandidate] {
        let policy = try policy.validated()
        var dated: [RetentionCandidate] = []
        for id in try restorePoints() where id.hasPrefix(prefix) {
            dated.append(RetentionCandidate(restorePoint: id, chain: Self.chain(of: id), createdAt: try createdAt(restorePoint: id)))
        }
        dated.sort { $0.createdAt == $1.createdAt ? $0.restorePoint < $1.restorePoint : $0.createdAt < $1.createdAt }
        let groups = wholeRepository ? [dated] : Dictionary(grouping: dated, by: \.chain).values.map { $0 }
        var doomed: [RetentionCandidate] = []
        for group in groups {
            switch policy {
            case .restorePoints(let keep): doomed += group.dropLast(keep)
            case .days(let days):
                let cutoff = now.addingTimeInterval(-Double(days) * 86_400)
                doomed += group.filter { $0.createdAt < cutoff }
            }
        }
        if !removingLast {
            let newest = Dictionary(grouping: dated, by: \.chain).compactMapValues(\.last).values.map(\.restorePoint)
            doomed.removeAll { newest.contains($0.restorePoint) }
        }
        return doomed.sorted { $0.createdAt == $1.createdAt ? $0.restorePoint < $1.restorePoint : $0.createdAt < $1.createdAt }
    }

    /// Deletes the restore points `retentionPlan` names (their manifests; chunks are garbage
    /// collection's) and returns their ids, oldest first. Holds the exclusive lock.
    @discardableResult
    public func applyRetention(
        _ policy: RetentionPolicy, prefix: String = "", wholeRepository: Bool = false, removingLast: Bool = false, now: Date = Date()
    ) throws(RepositoryError) -> [String] {
        _ = try policy.validated()
        let lock = try lock(.exclusive, wait: false)
        defer { lock.release() }
        let doomed = try retentionPlan(policy, prefix: prefix, wholeRepository: wholeRepository, removingLast: removingLast, now: now)
        for candidate in doomed { try deleteRestorePoint(candidate.restorePoint) }
        return doomed.map(\.restorePoint)
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
