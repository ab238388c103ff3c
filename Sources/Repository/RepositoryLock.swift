import Foundation
import Synchronization

/// Who may work on a repository at the same time: any number of backups and restores
/// (shared), or one deleter — retention or garbage collection — alone (exclusive).
///
/// That is how garbage collection never deletes a chunk a running backup has just written
/// or is about to reference: a backup names an existing chunk in its manifest only at the
/// end, and for all that time it holds the shared lock. The lock is an `flock` on
/// `locks/repository.lock`; the kernel releases it when its process dies, so a crashed
/// backup never blocks collection.
///
/// Its holder lets it go with `release()` when its work ends, not when the last reference
/// goes: a reference kept a moment longer by a thread pool's closure would otherwise hold
/// the lock (and the lock file open for writing) after the work was over.
public final class RepositoryLock: Sendable {
    public enum Mode: Sendable {
        case shared
        case exclusive
    }

    /// -1 once released.
    private let descriptor: Mutex<Int32>

    init(repository: BackupRepository, mode: Mode, wait: Bool) throws(RepositoryError) {
        let folder = repository.root.appendingPathComponent("locks").path
        if access(folder, F_OK) != 0 { try DurableFile.makeDirectory(folder) }
        let path = folder + "/repository.lock"
        var descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        if descriptor < 0 && (errno == EROFS || errno == EACCES) {
            // A read-only repository can still be restored from: flock needs no write access.
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
        }
        guard descriptor >= 0 else {
            throw RepositoryError(.notWritable, "cannot open the repository lock \(path): \(errnoText())")
        }
        var operation = mode == .shared ? LOCK_SH : LOCK_EX
        if !wait { operation |= LOCK_NB }
        while flock(descriptor, operation) != 0 {
            if errno == EINTR { continue }
            let code = errno
            close(descriptor)
            if code == EWOULDBLOCK {
                throw RepositoryError(
                    .busy,
                    mode == .exclusive
                        ? "a backup or restore is using the repository \(repository.root.path); retention and garbage collection run when none does"
                        : "retention or garbage collection is running on the repository \(repository.root.path); try again when it ends")
            }
            throw RepositoryError(.io, "cannot lock the repository \(repository.root.path): \(errnoText(code))")
        }
        self.descriptor = Mutex(descriptor)
    }

    /// Lets the lock go; later calls do nothing.
    public func release() {
        descriptor.withLock { descriptor in
            guard descriptor >= 0 else { return }
            flock(descriptor, LOCK_UN)
            close(descriptor)
            descriptor = -1
        }
    }

    deinit { release() }
}

extension BackupRepository {
    /// Takes the repository lock; it is held until `release()` (or until the returned value
    /// goes away).
    public func lock(_ mode: RepositoryLock.Mode, wait: Bool) throws(RepositoryError) -> RepositoryLock {
        try RepositoryLock(repository: self, mode: mode, wait: wait)
    }
}
