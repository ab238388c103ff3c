import Foundation
import Repository

/// An exclusive `flock` on `service/service.lock` for as long as a process has the repository
/// open: the service, or its administrator's `--issue-token` or `--immutable-days` run. Two
/// writers of the journal at once would break its chain, and a token issued beside a running
/// service would not reach it; so the second is refused and told why. The kernel drops the
/// lock when its process dies.
final class ServiceLock: Sendable {
    private let descriptor: Int32

    init(folder: URL) throws(RepositoryServiceError) {
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw RepositoryServiceError(.io, "cannot create \(folder.path): \(error.localizedDescription)")
        }
        let path = folder.appendingPathComponent("service.lock").path
        descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw RepositoryServiceError(.io, "cannot open \(path): \(errnoText())") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw RepositoryServiceError(
                .conflict,
                "another process has the repository service's folder \(folder.deletingLastPathComponent().path) open (a running 'tidemark repository serve'): stop it first; tokens and the setting change while it is stopped, and it takes them up when it starts"
            )
        }
    }

    deinit { close(descriptor) }
}
