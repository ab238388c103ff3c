import BlockingIO
import Catalog
import Foundation
import Repository
import WorkflowEvents

extension SessionRunner {
    /// What a session leaves behind in the repository once it ends, whatever its result: the
    /// saved progress of its transfers (nothing resumes a finished session, and progress
    /// keeps its chunks alive through every garbage collection) and the manifests of VMs that
    /// got no restore point (a disk that finished beside one that failed). Their chunks are
    /// then referenced by nothing, and the next retention's collection removes them.
    ///
    /// A restore point's whole progress folder goes, not only its progress files: a transfer
    /// killed while saving leaves a temporary file there that nothing else would remove.
    ///
    /// Called before `SessionFinished` is recorded: a crash in between finishes the session
    /// again, and clearing or deleting twice finds nothing to do.
    func collectOwnGarbage(_ state: SessionState) async throws {
        var progressFolders = Set<String>()
        var unrecorded = Set<String>()
        for (task, record) in state.tasks {
            guard let transfer = record.transfer else { continue }
            progressFolders.insert(transfer.restorePointId)
            let vm = String(task.prefix { $0 != "/" })
            if state.restorePoints[vm] == nil { unrecorded.insert(transfer.restorePointId) }
        }
        guard !progressFolders.isEmpty else { return }
        let removed: [String]
        let kept: [(String, Date)]
        do {
            (removed, kept) = try await removeLeftovers(progressFolders: progressFolders, unrecorded: unrecorded)
        } catch let error as RepositoryError where error.code == .unreachable {
            // A repository service out of reach does not keep the session from ending: a partial
            // point stays there (no restore offers it: nothing records it).
            logger.warning("partial restore points not removed: the repository cannot be reached", metadata: ["reason": "\(error.message)"])
            return
        }
        for point in removed { logger.info("partial restore point removed", metadata: ["restore_point": "\(point)"]) }
        // A hardened repository keeps an immutable partial point until it may go (its chunks
        // with it); nothing records it, so no restore offers it, and the retentions on the
        // repository remove it once that date has passed.
        for (point, until) in kept {
            let date = ISO8601DateFormatter().string(from: until)
            try await recorder.record(
                .retentionDeferred,
                SessionEvent.RetentionDeferred(
                    restorePointId: point,
                    reason:
                        "partial restore point of a session that did not record it; kept: immutable on the repository service until \(date)",
                    removableAt: date, repositoryId: repositoryID, partial: true))
        }
    }

    private func removeLeftovers(progressFolders: Set<String>, unrecorded: Set<String>) async throws -> ([String], [(String, Date)]) {
        let repository = self.repository
        return try await BlockingIOPool.shared.run { () throws(RepositoryError) -> ([String], [(String, Date)]) in
            for point in progressFolders.sorted() { try repository.dropProgress(restorePoint: point) }
            guard !unrecorded.isEmpty else { return ([], []) }
            let existing = Set(try repository.restorePoints())
            var removed: [String] = [], kept: [(String, Date)] = []
            for point in unrecorded.sorted() where existing.contains(point) {
                switch try repository.removeRestorePoint(point) {
                case .removed: removed.append(point)
                case .immutable(let until): kept.append((point, until))
                }
            }
            return (removed, kept)
        }
    }
}
