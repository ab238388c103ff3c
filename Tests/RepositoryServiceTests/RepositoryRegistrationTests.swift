import Foundation
import Logging
import Repository
import RepositoryService
import ServerTLS
import TestSupport
import Testing

/// `tidemark repository add NAME --url --thumbprint --token-file` on the backup server: the
/// service is asked for its status through the pinned certificate with the token before the
/// catalog names it; a wrong pin, a token it did not issue, a token file outside the secrets
/// folder or a folder and a URL at once change nothing. The token never enters the log.
@Suite("Registering a repository service in the catalog")
struct RepositoryRegistrationTests {
    @Test(
        "a repository service is added after it answered; a wrong pin, token or token file adds nothing, and the token stays out of the log"
    )
    func register() async throws {
        let fixture = try HardenedRepositoryTests.Fixture()
        defer { fixture.cleanUp() }
        let service = try fixture.service(days: 14)
        let token = try service.issueToken(label: "backup-1")
        let served = try await ServedRepository.start(service)
        defer { served.stop() }
        let (url, tls) = (served.url, served.tls)

        let database = try await TestDatabase.create()
        let data = fixture.folder.appendingPathComponent("data")
        let secrets = data.appendingPathComponent("secrets")
        try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        func secret(_ name: String, _ value: String, in folder: URL) throws -> String {
            let path = folder.appendingPathComponent(name).path
            #expect(
                FileManager.default.createFile(atPath: path, contents: Data((value + "\n").utf8), attributes: [.posixPermissions: 0o600]))
            return path
        }
        let tokenFile = try secret("offsite.token", token, in: secrets)
        let strangerFile = try secret("stranger.token", ServiceTokens.generate(), in: secrets)
        let outsideFile = try secret("outside.token", token, in: fixture.folder)
        let (folder, databaseURL) = (fixture.folder, database.service.keywordConnectionString)
        // Off the cooperative pool: the service in this process answers on it meanwhile.
        func tidemark(_ arguments: [String]) async throws -> (status: Int32, output: String) {
            let run = try await offThePool {
                try TidemarkProcess.run(arguments + ["--data-dir", data.path, "--database-url", databaseURL], in: folder)
            }
            return (run.status, run.output)
        }
        let events = try await database.eventCount()

        let wrongPin = try await tidemark([
            "repository", "add", "offsite", "--url", url, "--thumbprint", String(repeating: "AB", count: 32), "--token-file", tokenFile,
        ])
        #expect(wrongPin.status != 0 && wrongPin.output.contains("not the pinned one"), "\(wrongPin.output)")
        let stranger = try await tidemark([
            "repository", "add", "offsite", "--url", url, "--thumbprint", tls.thumbprint, "--token-file", strangerFile,
        ])
        #expect(stranger.status != 0 && stranger.output.contains("(401)"), "\(stranger.output)")
        let outside = try await tidemark([
            "repository", "add", "offsite", "--url", url, "--thumbprint", tls.thumbprint, "--token-file", outsideFile,
        ])
        #expect(outside.status != 0 && outside.output.contains("not in the secrets folder"), "\(outside.output)")
        let both = try await tidemark([
            "repository", "add", "offsite", "--path", "/srv/x", "--url", url, "--thumbprint", tls.thumbprint, "--token-file", tokenFile,
        ])
        #expect(both.status != 0 && both.output.contains("not both"), "\(both.output)")
        let noPin = try await tidemark(["repository", "add", "offsite", "--url", url, "--token-file", tokenFile])
        #expect(noPin.status != 0 && noPin.output.contains("--thumbprint"), "\(noPin.output)")
        #expect(try await database.eventCount() == events, "nothing refused is appended")

        let added = try await tidemark([
            "repository", "add", "offsite", "--url", url, "--thumbprint", tls.thumbprint, "--token-file", tokenFile,
        ])
        #expect(
            added.status == 0 && added.output.contains("0 restore points held") && added.output.contains("immutable for 14 days"),
            "\(added.output)")
        // An address changed alone would be appended unchecked: all three, or none.
        let moved = try await tidemark(["repository", "update", "offsite", "--url", "https://127.0.0.1:1"])
        #expect(moved.status != 0 && moved.output.contains("all of --url, --thumbprint"), "\(moved.output)")
        let shown = try await tidemark(["repository", "show", "offsite"])
        #expect(
            shown.output.contains(url) && shown.output.contains("file:\(tokenFile)") && !shown.output.contains(token), "\(shown.output)")
        let logged = try await database.administratorQuery(
            "SELECT count(*) FROM tidemark.events WHERE data::text LIKE $1 OR metadata::text LIKE $1", ["%\(token.suffix(40))%"])
        #expect(try logged.decode(0, 0, as: Int64.self) == 0, "the token is not in the log")
    }
}
