import Foundation
import Logging
import RepositoryService
import ServerTLS

/// A repository service running in this test's process on a loopback port, with its
/// self-signed certificate; `stop()` ends it.
struct ServedRepository {
    let url: String
    let tls: TLSIdentity
    let running: Task<Void, any Error>

    static func start(_ service: HardenedRepository) async throws -> ServedRepository {
        let tls = try TLSIdentity.load(
            certificate: nil, key: nil, folder: service.root.appendingPathComponent("service/tls"), name: "repository")
        let (listening, announce) = AsyncStream<String>.makeStream()
        let application = try RepositoryServer.make(
            repository: service, host: "127.0.0.1", port: 0, tls: tls, logger: Logger(label: "test"),
            onListening: { url in announce.yield(url) })
        let running = Task { try await application.runService() }
        var next = listening.makeAsyncIterator()
        guard let url = await next.next() else {
            running.cancel()
            throw RepositoryServiceError(.io, "the repository service did not start")
        }
        return ServedRepository(url: url, tls: tls, running: running)
    }

    func stop() { running.cancel() }
}
