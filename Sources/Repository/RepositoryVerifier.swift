import Foundation

/// Re-reads and re-hashes the chunks of restore points and says which are missing or
/// corrupt, by restore point, disk and offset, so an administrator knows exactly which
/// restore points a damaged chunk takes with it.
public struct RepositoryVerifier: Sendable {
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public let restorePoint: String
        public let disk: String
        public let offset: Int64
        public let chunk: ChunkID?
        public let problem: String

        public var description: String {
            "restore point \(restorePoint), disk \(disk), offset \(offset)\(chunk.map { ", chunk \($0)" } ?? ""): \(problem)"
        }
    }

    public struct Report: Sendable, Equatable {
        public let restorePoints: Int
        public let disks: Int
        public let chunksChecked: Int
        public let problems: [Problem]
        /// Corrupt chunks moved to `quarantine/` (with `quarantine: true`).
        public let quarantined: [ChunkID]
        public var isClean: Bool { problems.isEmpty }
    }

    public let repository: BackupRepository

    public init(repository: BackupRepository) {
        self.repository = repository
    }

    /// Checks the given restore points, or all of them. Each distinct chunk is read once.
    ///
    /// With `quarantine`, a corrupt chunk is moved to `quarantine/`: the next backup that
    /// meets the same block finds it missing and stores it again under the same name, which
    /// heals every restore point that referenced it. That needs the exclusive lock, so no
    /// backup can have just deduplicated against the damaged file.
    public func verify(restorePoints selected: [String]? = nil, quarantine: Bool = false) throws(RepositoryError) -> Report {
        let lock = try repository.lock(quarantine ? .exclusive : .shared, wait: false)
        defer { lock.release() }
        let restorePoints: [String]
        if let selected {
            // A restore point that is not there is bad input, named with those that are.
            let held = Set(try repository.restorePoints())
            if let absent = selected.first(where: { !held.contains($0) }) { throw repository.missingRestorePoint(absent) }
            restorePoints = selected
        } else {
            restorePoints = try repository.restorePoints()
        }
        var verdicts: [ChunkID: ChunkProblem?] = [:]
        var problems: [Problem] = []
        var disks = 0
        for restorePoint in restorePoints {
            for disk in try repository.disks(of: restorePoint) {
                disks += 1
                let manifest: DiskManifest
                do {
                    manifest = try repository.manifest(restorePoint: restorePoint, disk: disk)
                } catch {
                    problems.append(Problem(restorePoint: restorePoint, disk: disk, offset: 0, chunk: nil, problem: error.message))
                    continue
                }
                for (index, chunk) in manifest.blocks.enumerated() {
                    guard let chunk else { continue }
                    let verdict = repository.chunks.verdict(of: chunk, length: manifest.length(ofBlock: index), remembered: &verdicts)
                    if let verdict {
                        problems.append(
                            Problem(
                                restorePoint: restorePoint, disk: disk, offset: Int64(index) * Int64(manifest.blockSize.bytes),
                                chunk: chunk, problem: verdict.description))
                    }
                }
            }
        }
        var quarantined: [ChunkID] = []
        if quarantine {
            let folder = repository.root.appendingPathComponent("quarantine").path
            for (chunk, verdict) in verdicts.sorted(by: { $0.key.hex < $1.key.hex }) {
                guard let verdict, verdict != .missing, verdict != .keyRequired else { continue }
                try DurableFile.makeDirectory(folder)
                guard rename(repository.chunks.path(of: chunk), "\(folder)/\(chunk.hex)") == 0 else {
                    throw RepositoryError(.io, "cannot move the corrupt chunk \(chunk) to \(folder): \(errnoText())")
                }
                quarantined.append(chunk)
            }
            if !quarantined.isEmpty { try DurableFile.syncDirectory(folder) }
        }
        return Report(
            restorePoints: restorePoints.count, disks: disks, chunksChecked: verdicts.count, problems: problems,
            quarantined: quarantined)
    }
}
