import CommandLineSupport
import Foundation
import RemoteRepository

/// What `repository add|update` asks a repository service before the catalog names it: its
/// status, through the pinned certificate and with the token, printed for the administrator.
enum RemoteRepositoryCheck {
    static func status(url: String, thumbprint: String, token: String) async throws {
        do {
            let client = try RepositoryServiceClient(url: url, token: token, thumbprint: thumbprint, connectTimeout: 10, stallTimeout: 30)
            let status = try await client.run { client throws(RemoteRepositoryError) in try client.status() }
            let quota = status.quotaBytes.map { "; \(status.usedBytes ?? 0) of its quota of \($0) bytes used" } ?? ""
            print(
                "repository service at \(url): \(status.restorePoints) restore points held; new restore points are immutable for \(status.immutableDays) days\(quota)"
            )
        } catch {
            throw CommandFailure("nothing changed in the catalog: \(error)")
        }
    }
}
