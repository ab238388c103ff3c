import Foundation
import NetworkHosts
import RemoteRepository
import Repository
import RepositoryService
import ServerTLS
import TestSupport
import Testing

/// The repository service on a host of its own (a network namespace, reached over its veth),
/// and the backup server's client of it in this process: the pin, the token, the rules across
/// the wire, and a link that goes down and comes back.
@Suite("Repository service on another host", .serialized, .enabled(if: NetworkNamespaces.available, "needs root and ip(8)"))
struct RemoteRepositoryTests {
    @Test(
        "over a veth: a wrong pin or token refused; chunks, a manifest, verify; immutable delete refused; a cut link fails, then works again"
    )
    func acrossHosts() async throws {
        let fixture = try HardenedRepositoryTests.Fixture()
        defer { fixture.cleanUp() }
        let hosts = try NetworkNamespaces(count: 1)
        let host = hosts.hosts[0]
        let path = fixture.folder.appendingPathComponent("offsite").path
        let issued = try TidemarkProcess.run(["repository", "serve", "--path", path, "--issue-token", "backup-1"], in: fixture.folder)
        let token = try #require(issued.output.split(separator: "\n").first { $0.hasPrefix("tmr_") }.map(String.init), "\(issued.output)")
        let service = try RunningTidemark(
            ["repository", "serve", "--path", path, "--listen", "\(host.address):9420", "--immutable-days", "7"], in: fixture.folder,
            wrapper: hosts.wrapper(for: host))
        defer {
            service.signal(SIGTERM)
            _ = try? Program.run("/bin/sh", ["-c", "sleep 1"])
        }
        #expect(try await service.waitFor("repository service at"), "\(service.output)")
        let tls = try TLSIdentity.load(
            certificate: path + "/service/tls/repository.crt", key: path + "/service/tls/repository.key", folder: fixture.folder)
        let url = "https://\(host.address):9420"

        // Another pin, another token: refused before anything is read or written.
        let wrongPin = try RepositoryServiceClient(url: url, token: token, thumbprint: String(repeating: "AB", count: 32))
        let pinError = try #require(throws: RemoteRepositoryError.self) { try wrongPin.status() }
        #expect(pinError.code == .untrustedCertificate && pinError.message.contains(tls.thumbprint.replacingOccurrences(of: ":", with: "")))
        let stranger = try RepositoryServiceClient(url: url, token: ServiceTokens.generate(), thumbprint: tls.thumbprint)
        let tokenError = try #require(throws: RemoteRepositoryError.self) { try stranger.status() }
        #expect(tokenError.code == .refused && tokenError.status == 401, "\(tokenError.message)")

        let client = try RepositoryServiceClient(url: url, token: token, thumbprint: tls.thumbprint, connectTimeout: 3, stallTimeout: 3)
        let status = try await client.run { client throws(RemoteRepositoryError) in try client.status() }
        #expect(status.immutableDays == 7 && status.restorePoints == 0)
        let chunks = try (20..<24).map { try fixture.chunk(UInt8($0)) }
        let ids = try chunks.map { try #require(ChunkID(hex: $0.name)) }
        #expect(try client.missing(ids) == ids)
        for (chunk, id) in zip(chunks, ids) { try client.putChunk(id, file: chunk.file) }
        #expect(try client.missing(ids).isEmpty)
        let manifest = try DiskManifest(
            restorePoint: "vm-1-offsite", disk: "disk-2000", diskSize: Int64(ids.count * 262_144), blockSize: try BlockSize(bytes: 262_144),
            blocks: ids)
        let record = try client.putManifest(manifest)
        #expect(record.immutableUntil.timeIntervalSince(record.createdAt) == 7 * 86_400)
        let verified = try client.verify(point: "vm-1-offsite")
        #expect(verified.chunks == 4 && verified.problems.isEmpty)
        #expect(try client.chunk(ids[0]) == chunks[0].file)
        let refused = try #require(throws: RemoteRepositoryError.self) { try client.deletePoint("vm-1-offsite") }
        #expect(refused.status == 403 && refused.message.contains("immutable until"), "\(refused.message)")
        #expect(try client.points().map(\.restorePoint) == ["vm-1-offsite"])

        // The link goes down: the call fails with the reason; back up, the same client goes on.
        try hosts.setLink(of: host, up: false)
        let cut = try #require(throws: RemoteRepositoryError.self) { try client.status() }
        #expect(cut.code == .unreachable, "\(cut.message)")
        try hosts.setLink(of: host, up: true)
        var back: RepositoryProtocol.Status?
        for _ in 0..<10 where back == nil {
            back = try? client.status()
            if back == nil { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(back?.restorePoints == 1)

        // The service's journal, on its host, holds the refusals with the client's address.
        service.signal(SIGTERM)
        _ = try await service.waitForExit(seconds: 30)
        let entries = try ServiceJournal(path: path + "/service/journal.jsonl").entries()
        let refusals = entries.filter { $0.outcome == "refused" }
        #expect(refusals.map(\.action) == ["request", "point.delete"] && refusals.allSatisfy { $0.client == host.gateway }, "\(refusals)")
    }
}
