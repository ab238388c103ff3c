import Catalog
import CatalogStore
import EventStore
import Foundation
import JobManager
import Secrets
import TestSupport
import Testing

/// Issue 12, finding 2: a password reference cannot be aimed at an arbitrary file (a catalog
/// writer made the server send a shadow-like file to a fake vCenter), `--password-env` cannot
/// store the password itself, and credentials live sealed on the host, never in the log.
@Suite("Secrets: password references that cannot be turned against the server")
struct SecretsTests {
    static func folder(_ name: String) throws -> URL {
        let scratch = ProcessInfo.processInfo.environment["TIDEMARK_TEST_SCRATCH"] ?? NSTemporaryDirectory()
        let folder = URL(fileURLWithPath: scratch).appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    static func write(_ text: String, to path: String, mode: Int) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode_t(mode))
    }

    @Test("file: reads only the service's own private files inside the secrets folder")
    func fileReferencesAreConfined() throws {
        let data = try Self.folder("secrets")
        defer { try? FileManager.default.removeItem(at: data) }
        let location = SecretsLocation(dataDirectory: data.path)
        let secrets = data.appendingPathComponent("secrets").path
        mkdir(secrets, 0o700)
        // The attack: a file the server can read, named by whoever writes the catalog.
        let shadow = data.appendingPathComponent("shadow").path
        try Self.write("root:$6$secret-hash:19000:0:99999:7:::", to: shadow, mode: 0o600)
        func read(_ path: String) -> Result<String, any Error> {
            Result { try SecretReference(source: .file, name: path).resolve(for: "test", secrets: location).secret }
        }
        #expect(throws: JobManagerError.self) { _ = try read(shadow).get() }
        #expect("\(read(shadow))".contains("is not in the secrets folder"))
        // A link inside the folder to a file outside it is the same file: refused.
        symlink(shadow, secrets + "/linked")
        #expect("\(read(secrets + "/linked"))".contains("is not in the secrets folder"))
        // Inside, but readable by others: refused.
        try Self.write("pw-open\n", to: secrets + "/open", mode: 0o644)
        #expect("\(read(secrets + "/open"))".contains("chmod 600"))
        try Self.write("pw-ok\n", to: secrets + "/vc1", mode: 0o600)
        #expect(try read(secrets + "/vc1").get() == "pw-ok")
        // Nothing configured: file: and credential: are refused, not read from anywhere.
        #expect(throws: JobManagerError.self) {
            try SecretReference(source: .file, name: secrets + "/vc1").resolve(for: "test", secrets: nil)
        }
    }

    @Test("credentials are sealed under the store's key: never readable in the file, refused under another key")
    func credentialStore() throws {
        let data = try Self.folder("credentials")
        defer { try? FileManager.default.removeItem(at: data) }
        let store = SecretsLocation(dataDirectory: data.path).credentials
        try store.add("vc1", .init(user: "backup@vsphere.local", secret: "correct horse battery staple"))
        #expect(try store.read("vc1") == .init(user: "backup@vsphere.local", secret: "correct horse battery staple"))
        #expect(try store.names() == ["vc1"])
        let sealed = try Data(contentsOf: URL(fileURLWithPath: store.folder + "/vc1.sealed"))
        #expect(!String(decoding: sealed, as: UTF8.self).contains("horse"))
        var info = stat()
        stat(store.folder + "/vc1.sealed", &info)
        #expect(info.st_mode & 0o777 == 0o600)
        // A sealed file copied under another name does not open (the name is authenticated).
        try sealed.write(to: URL(fileURLWithPath: store.folder + "/vc2.sealed"))
        #expect(throws: SecretError.self) { try store.read("vc2") }
        #expect(throws: SecretError.self) { try store.add("../escape", .init(user: nil, secret: "x")) }
        let missing = #expect(throws: SecretError.self) { try store.read("vc9") }
        #expect(missing?.message.contains("known: vc1, vc2") == true)
    }

    @Test("credentials through the command line: the password from standard input, used by name, never in the log")
    func credentialsCommand() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        let data = environment.folder.appendingPathComponent("data").path
        let secret = "Tr0ub4dor&3-never-logged"
        let add = try environment.tidemark(
            ["credentials", "add", "vc1", "--user", "backup@vsphere.local", "--data-dir", data], input: secret + "\n")
        #expect(add.status == 0, "\(add.output)")
        let list = try environment.tidemark(["credentials", "list", "--data-dir", data])
        #expect(list.output.contains("vc1") && list.output.contains("backup@vsphere.local") && !list.output.contains(secret))
        let server = try environment.tidemark([
            "server", "add", "vc1", "--vcenter", "https://127.0.0.1:9", "--credential", "vc1", "--data-dir", data,
        ])
        #expect(server.status == 0, "\(server.output)")
        let logged = try await environment.database.administratorQuery(
            "SELECT count(*) FROM tidemark.events WHERE data::text LIKE '%' || $1 || '%' OR metadata::text LIKE '%' || $1 || '%'", [secret])
        #expect(try logged.decode(0, 0, as: Int64.self) == 0)
        let reference = try await environment.database.administratorQuery(
            "SELECT data->'definition'->>'password_reference' FROM tidemark.events WHERE event_type = 'ServerAdded' AND data->'definition'->>'name' = 'vc1'"
        )
        #expect(try reference.decode(0, 0, as: String.self) == "credential:vc1")
        let reference2 = try SecretReference(parsing: "credential:vc1")
        let resolved = try reference2.resolve(for: "test", secrets: SecretsLocation(dataDirectory: data))
        #expect(resolved.user == "backup@vsphere.local" && resolved.secret == secret)
    }

    @Test("a session whose server names a file outside the secrets folder fails without reading it")
    func sessionRefusesForeignFile() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        let shadow = environment.folder.appendingPathComponent("shadow").path
        try Self.write("root:$6$secret-hash:19000:0:99999:7:::", to: shadow, mode: 0o600)
        // A catalog written before the check: the job's server is a vCenter whose password
        // reference points at the file.
        let catalog = CatalogStore(events: environment.database.eventStore())
        try await catalog.execute(metadata: EventMetadata(actor: "test")) { state throws(CatalogError) in
            try CatalogDecider.update(id: try state.require(ManagedServer.self, named: "lab"), basedOn: nil, in: state) {
                (server: inout ManagedServer) throws(CatalogError) in
                server = ManagedServer(
                    name: "lab", platform: .vcenter, url: "https://127.0.0.1:9", user: "u",
                    passwordReference: try SecretReference(source: .file, name: shadow))
            }
        }
        let run = try environment.tidemark([
            "job", "start", environment.jobName, "--data-dir", environment.folder.appendingPathComponent("data").path,
        ])
        #expect(run.status != 0)
        #expect(run.output.contains("is not in the secrets folder"), "\(run.output)")
        #expect(!run.output.contains("secret-hash"))
    }
}
