import BlockingIO
import Catalog
import Foundation
import RemoteRepository
import Repository

extension RepositoryDefinition {
    /// The repository service this definition names, ready for calls: its token read from the
    /// secrets folder, its pin given, its staging folder (saved progress, fences) under
    /// `settings.repositoryStaging/<repository id>`. Nothing is asked of the service yet.
    func openService(id: String, settings: JobManagerSettings, compressionLevel: Int32 = 3) async throws -> ServiceRepository {
        guard let service else { throw JobManagerError(.invalidJob, "repository '\(name)' is a folder, not a repository service") }
        guard let reference = service.tokenReference else {
            throw JobManagerError(
                .invalidJob,
                "repository '\(name)' (the service at \(service.url)) has no token: give one with 'tidemark repository update \(name) --url \(service.url) --thumbprint ... --token-file FILE'"
            )
        }
        guard let staging = settings.repositoryStaging else {
            throw JobManagerError(
                .invalidJob,
                "repository '\(name)' is a repository service, and this process has no staging folder for its transfers' progress")
        }
        let token = try reference.resolve(for: "repository '\(name)'", secrets: settings.secrets).secret
        let budget = settings.repositoryRetryBudget
        return try await BlockingIOPool.shared.run { () throws(RepositoryError) -> ServiceRepository in
            var opened = try ServiceRepository(
                url: service.url, token: token, thumbprint: service.thumbprint,
                staging: URL(fileURLWithPath: staging).appendingPathComponent(id), compressionLevel: compressionLevel)
            opened.retryBudget = budget
            return opened
        }
    }
}
