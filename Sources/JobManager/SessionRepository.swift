import BlockingIO
import EventStore
import Foundation
import Repository
import WorkflowEvents

extension SessionPlan {
    /// The job's repository: a repository service (`openService`), or its folder, opened (or
    /// made, on first use only) off the cooperative pool. A folder without repository.json
    /// that earlier sessions wrote to is a volume not mounted, not a place to start afresh:
    /// refused with that question.
    func openRepository(store: EventStore, settings: JobManagerSettings) async throws -> any RepositoryStore {
        let level = Int32(max(job.compressionLevel, 1))
        guard let folder = repository.folderURL else {
            return try await repository.openService(id: repositoryID, settings: settings, compressionLevel: level)
        }
        let exists = await BlockingIOPool.shared.run {
            FileManager.default.fileExists(atPath: folder.appendingPathComponent("repository.json").path)
        }
        if exists {
            return try await BlockingIOPool.shared.run { () throws(RepositoryError) in
                try BackupRepository.open(at: folder, compressionLevel: level)
            }
        }
        let used = try await store.contains(
            SessionEvent.logKind(.repositoryChecked), field: SessionEvent.Field.repositoryId, equals: repositoryID,
            outside: SessionEvent.stream(of: session))
        guard !used else {
            throw JobManagerError(
                .repositoryUnavailable,
                "repository '\(repository.name)' at \(folder.path) has no repository.json, yet earlier sessions wrote to it: is its volume mounted?"
            )
        }
        return try await BlockingIOPool.shared.run { () throws(RepositoryError) in
            try BackupRepository.create(at: folder, compressionLevel: level)
        }
    }
}
