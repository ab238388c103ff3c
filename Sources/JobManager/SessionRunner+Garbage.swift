import BlockingIO
import Catalog
import Foundation
import Repository

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
        let repository = self.repository
        let removed = try await BlockingIOPool.shared.run { [progressFolders, unrecorded] () throws(RepositoryError) -> [String] in
            for point in progressFolders.sorted() { try repository.dropProgress(restorePoint: point) }
            let existing = Set(try repository.restorePoints())
            let partial = unrecorded.sorted().filter(existing.contains)
            for point in partial { try repository.deleteRestorePoint(point) }
            return partial
        }
        for point in removed { logger.info("partial restore point removed", metadata: ["restore_point": "\(point)"]) }
    }
}
