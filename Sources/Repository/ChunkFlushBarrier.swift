import CFileSystem
import Foundation
import Synchronization

/// The flush that makes a transfer's chunks durable before its progress or manifest names
/// them: `syncfs(2)` through a descriptor the transfer opened when it began.
///
/// Why a descriptor kept from the start: since Linux 5.8, `syncfs` reports a write-back error
/// of the file system once per open file, to descriptors opened before the error. A descriptor
/// opened afresh at each flush could miss an error that another writer's flush already
/// reported, and then a manifest would name a chunk whose write-back failed. Kept from the
/// transfer's start, it reports any write-back error on the file system since then, and once
/// one is seen every later flush of the transfer fails too: the transfer stops, its progress
/// is not trusted past the last good flush, and a resume writes the blocks again.
public final class ChunkFlushBarrier: Sendable {
    private let descriptor: Int32
    private let directory: String
    private let failure = Mutex<RepositoryError?>(nil)

    init(directory: String) throws(RepositoryError) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw RepositoryError(.io, "could not open the folder \(directory): \(errnoText())")
        }
        self.descriptor = descriptor
        self.directory = directory
    }

    deinit { close(descriptor) }

    /// Flushes the file system holding the chunks; throws if this or any earlier flush of
    /// this barrier met a write-back error.
    public func flush() throws(RepositoryError) {
        if let failed = failure.withLock({ $0 }) { throw failed }
        guard tidemark_syncfs(descriptor) == 0 else {
            let error = RepositoryError(
                .io,
                "could not flush the file system holding \(directory): \(errnoText()); the chunks written since the last checkpoint cannot be trusted, and a resume writes them again"
            )
            failure.withLock { $0 = error }
            throw error
        }
    }
}
