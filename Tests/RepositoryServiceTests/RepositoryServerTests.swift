import Foundation
import Logging
import Repository
import RepositoryService
import ServerTLS
import TestSupport
import Testing

/// The service's protocol over HTTPS, driven by curl as any client would: signed requests
/// only, each signature good once and for one request, and the rules of the repository behind.
@Suite("Repository service over HTTPS: signed requests")
struct RepositoryServerTests {
    struct Reply: Sendable {
        let status: Int
        let body: String
    }

    /// `method path` with `body`, signed with `token` (or sent with `header` as given).
    static func curl(
        _ url: String, _ method: String, _ path: String, body: [UInt8] = [], token: String? = nil, header: String? = nil,
        date: Date = Date(), certificate: String, folder: URL
    ) throws -> (Reply, String?) {
        let bodyFile = folder.appendingPathComponent("body-\(UUID().uuidString.prefix(8))")
        let outFile = folder.appendingPathComponent("out-\(UUID().uuidString.prefix(8))")
        try Data(body).write(to: bodyFile)
        defer { for file in [bodyFile, outFile] { try? FileManager.default.removeItem(at: file) } }
        let authorization = header ?? token.map { RequestSignature.header(token: $0, method: method, path: path, body: body, date: date) }
        var arguments = ["-s", "-o", outFile.path, "-w", "%{http_code}", "--cacert", certificate, "-X", method]
        if let authorization { arguments += ["-H", "Authorization: \(authorization)"] }
        if !body.isEmpty { arguments += ["-H", "Content-Type: application/octet-stream", "--data-binary", "@\(bodyFile.path)"] }
        let run = try Program.run("/usr/bin/curl", arguments + [url + path])
        let text = (try? String(contentsOf: outFile, encoding: .utf8)) ?? ""
        return (Reply(status: Int(run.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, body: text), authorization)
    }

    @Test("unsigned, wrong-token, stale and replayed requests are refused and journaled; signed ones reach the rules")
    func signedRequests() async throws {
        let fixture = try HardenedRepositoryTests.Fixture()
        defer { fixture.cleanUp() }
        let service = try fixture.service(days: 14)
        let token = try service.issueToken(label: "backup-1")
        let served = try await ServedRepository.start(service)
        defer { served.stop() }
        let (url, tls) = (served.url, served.tls)
        let (certificate, folder) = (tls.certificatePath, fixture.folder)
        // Off the cooperative pool: the service in this process answers on it meanwhile.
        func call(
            _ method: String, _ path: String, body: [UInt8] = [], token: String? = token, header: String? = nil, date: Date = Date()
        ) async throws -> (Reply, String?) {
            try await offThePool {
                try Self.curl(
                    url, method, path, body: body, token: token, header: header, date: date, certificate: certificate, folder: folder)
            }
        }

        let (a, aFile) = try fixture.chunk(7)
        #expect(try await call("PUT", "/v1/chunks/\(a)", body: aFile, token: nil).0.status == 401)
        #expect(try await call("PUT", "/v1/chunks/\(a)", body: aFile, token: ServiceTokens.generate()).0.status == 401)
        #expect(try await call("PUT", "/v1/chunks/\(a)", body: aFile, date: Date(timeIntervalSinceNow: -900)).0.status == 401)
        // The signature covers the body: another body under a signed header is refused.
        let (_, signed) = try await call("GET", "/v1/status")
        #expect(try await call("PUT", "/v1/chunks/\(a)", body: aFile, header: signed).0.status == 401)
        let (stored, header) = try await call("PUT", "/v1/chunks/\(a)", body: aFile)
        #expect(stored.status == 201, "\(stored.body)")
        let replayed = try await call("PUT", "/v1/chunks/\(a)", body: aFile, header: header).0
        #expect(replayed.status == 401 && replayed.body.contains("replayed"), "\(replayed.body)")
        #expect(try await call("PUT", "/v1/chunks/\(a)", body: aFile).0.status == 200, "held already")

        let (b, _) = try fixture.chunk(8)
        let mismatch = try await call("PUT", "/v1/chunks/\(b)", body: aFile).0
        #expect(mismatch.status == 422 && mismatch.body.contains("does not match its name"), "\(mismatch.body)")
        let missing = try await call("POST", "/v1/chunks/missing", body: Array(#"{"chunks": ["\#(a)", "\#(b)"]}"#.utf8)).0
        #expect(missing.status == 200 && missing.body == #"{"missing":["\#(b)"]}"#, "\(missing.body)")

        let manifest = try fixture.manifest("vm-1-http", chunks: [a])
        let put = try await call("PUT", "/v1/restore-points/vm-1-http/disks/disk-2000", body: manifest).0
        #expect(put.status == 200 && put.body.contains("immutable_until"), "\(put.body)")
        let (deletion, deleteHeader) = try await call("DELETE", "/v1/restore-points/vm-1-http")
        #expect(deletion.status == 403 && deletion.body.contains("immutable until"), "\(deletion.body)")
        // A signature is for its path: the same header on another point's path is refused.
        let elsewhere = try await call("DELETE", "/v1/restore-points/vm-2-other", header: deleteHeader).0
        #expect(elsewhere.status == 401 && elsewhere.body.contains("bad signature"), "\(elsewhere.body)")
        let points = try await call("GET", "/v1/restore-points").0
        #expect(points.status == 200 && points.body.contains("\"restore_point\":\"vm-1-http\""), "\(points.body)")
        let fetched = try await call("GET", "/v1/chunks/\(a)").0
        #expect(fetched.status == 200)
        let verified = try await call("POST", "/v1/restore-points/vm-1-http/verify").0
        #expect(verified.body == #"{"chunk_problems":[],"chunks":1,"problems":[]}"#, "\(verified.body)")
        let status = try await call("GET", "/v1/status").0
        let read = try RepositoryProtocol.decoder().decode(RepositoryProtocol.Status.self, from: Data(status.body.utf8))
        #expect(read.immutableDays == 14 && read.restorePoints == 1 && read.usedBytes == Int64(aFile.count) && read.quotaBytes == nil)
        #expect((read.diskCapacityBytes ?? 0) > 0 && (read.diskFreeBytes ?? -1) >= 0, "the service's file system: \(status.body)")

        let refused = try service.journal.entries().filter { $0.outcome == "refused" }
        #expect(
            refused.map(\.action) == ["request", "request", "request", "request", "request", "chunk.put", "point.delete", "request"],
            "\(refused)")
        #expect(refused.allSatisfy { $0.client == "127.0.0.1" })
        #expect(refused.first { $0.reason?.contains("replayed") == true }?.actor == ServiceTokens.prefix(of: token))
    }
}

/// `tidemark repository serve` on the service's host: a token printed once, a setting that
/// must make sense, a folder that must be the service's own.
@Suite("tidemark repository serve: the host administrator's command")
struct RepositoryServeCommandTests {
    @Test("--issue-token prints one token and keeps its digest; a bad setting or an encrypted repository is refused")
    func command() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("repo").path
        let issued = try TidemarkProcess.run(["repository", "serve", "--path", path, "--issue-token", "backup-1"], in: folder)
        #expect(issued.status == 0, "\(issued.output)")
        let token = try #require(issued.output.split(separator: "\n").first { $0.hasPrefix("tmr_") }.map(String.init))
        let prefix = try #require(ServiceTokens.prefix(of: token), "\(issued.output)")
        let kept = try String(contentsOfFile: path + "/service/tokens.json", encoding: .utf8)
        #expect(kept.contains(prefix) && !kept.contains(token), "the token itself is not kept")

        let bad = try TidemarkProcess.run(
            ["repository", "serve", "--path", path, "--immutable-days", "5000", "--issue-token", "x"], in: folder)
        #expect(bad.status != 0 && bad.output.contains("between 0 and 3650"), "\(bad.output)")
        let encrypted = folder.appendingPathComponent("encrypted").path
        #expect(try TidemarkProcess.run(["repository", "generate-key", folder.appendingPathComponent("key").path], in: folder).status == 0)
        #expect(
            try TidemarkProcess.run(
                ["repository", "create", encrypted, "--key-file", folder.appendingPathComponent("key").path], in: folder
            ).status == 0)
        let refused = try TidemarkProcess.run(["repository", "serve", "--path", encrypted, "--issue-token", "x"], in: folder)
        #expect(refused.status != 0 && refused.output.contains("encrypted repository"), "\(refused.output)")
        let listen = try TidemarkProcess.run(["repository", "serve", "--path", path, "--listen", "nowhere"], in: folder)
        #expect(listen.status != 0 && listen.output.contains("HOST:PORT"), "\(listen.output)")
    }
}
