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
        public var isClean: Bool { problems.isEmpty }
    }

    public let repository: BackupRepository

    public init(repository: BackupRepository) {
        self.repository = repository
    }

    /// Checks the given restore points, or all of them. Each distinct chunk is read once.
    public func verify(restorePoints selected: [String]? = nil) throws(RepositoryError) -> Report {
        let lock = try repository.lock(.shared, wait: false)
        defer { withExtendedLifetime(lock) {} }
        let restorePoints: [String]
        if let selected {
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
                    let verdict: ChunkProblem?
                    if let known = verdicts[chunk] {
                        verdict = known
                    } else {
                        switch repository.chunks.read(chunk) {
                        case .success(let block):
                            verdict = block.count == manifest.length(ofBlock: index) ? nil : .damaged("wrong length")
                        case .failure(let problem):
                            verdict = problem
                        }
                        verdicts[chunk] = verdict
                    }
                    if let verdict {
                        problems.append(
                            Problem(
                                restorePoint: restorePoint, disk: disk, offset: Int64(index) * Int64(manifest.blockSize.bytes),
                                chunk: chunk, problem: verdict.description))
                    }
                }
            }
        }
        return Report(restorePoints: restorePoints.count, disks: disks, chunksChecked: verdicts.count, problems: problems)
    }
}
