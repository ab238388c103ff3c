import Foundation
import Infrastructure
import PrivateCluster
import TestSupport
import VSphere

/// govmomi's vCenter simulator (Tools/vcsim), started for a test and stopped after it.
///
/// `shared` is the instance Tools/test starts (TIDEMARK_TEST_VCSIM_DIR) for tests that only
/// read and snapshot their own VMs; tests that delete or rewrite start their own.
struct Simulator: Sendable {
    static let user = "tidemark"
    static let password = "tidemark-test"
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    let directory: URL
    let url: String
    let manifest: Manifest
    let owned: Bool

    struct Manifest: Decodable, Sendable {
        let url: String
        let datacenters: [String]
        let clusters: [String]
        let hosts: [String]
        let folders: [String]
        let tags: [String]
        let virtualMachines: [Machine]

        struct Machine: Decodable, Sendable {
            let id: String
            let name: String
            let datacenter: String
            let folder: String
            let host: String
            let cluster: String
            let tags: [String]
            let disks: [Disk]
        }

        struct Disk: Decodable, Sendable {
            let key: Int
            let capacity: Int64
            let file: String
        }
    }

    static func shared() throws -> Simulator {
        guard let directory = ProcessInfo.processInfo.environment["TIDEMARK_TEST_VCSIM_DIR"] else {
            throw TestSetupError("TIDEMARK_TEST_VCSIM_DIR is not set: run the tests with Tools/test, which starts the vCenter simulator")
        }
        return try Simulator(directory: URL(fileURLWithPath: directory), owned: false)
    }

    /// Starts a simulator of its own in a scratch folder.
    static func start(_ flags: [String]) throws -> Simulator {
        let scratch = ProcessInfo.processInfo.environment["TIDEMARK_TEST_SCRATCH"] ?? NSTemporaryDirectory()
        let directory = URL(fileURLWithPath: scratch).appendingPathComponent("vcsim-\(UUID().uuidString.prefix(8))")
        let status = try run(["start", directory.path] + flags)
        guard status == 0 else {
            let log = (try? String(contentsOf: directory.appendingPathComponent("log"), encoding: .utf8)) ?? ""
            throw TestSetupError("Tools/vcsim/vcsim start exited with \(status): \(log)")
        }
        do {
            return try Simulator(directory: directory, owned: true)
        } catch {
            _ = try? run(["stop", directory.path])
            throw error
        }
    }

    private init(directory: URL, owned: Bool) throws {
        self.directory = directory
        self.owned = owned
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        manifest = try decoder.decode(Manifest.self, from: Data(contentsOf: directory.appendingPathComponent("manifest.json")))
        url = manifest.url
    }

    func stop() {
        if owned {
            _ = try? Self.run(["stop", directory.path])
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// posix_spawn and waitpid (ToolRunner): Foundation's Process keeps waiting on the
    /// simulator the script leaves running.
    @discardableResult
    private static func run(_ arguments: [String]) throws -> Int32 {
        try ToolRunner(runAsServerAccount: false).run(
            "/bin/bash", [repositoryRoot.appendingPathComponent("Tools/vcsim/vcsim").path] + arguments
        ).status
    }

    func endpoint(password: String = Simulator.password, thumbprint: String? = nil, url: String? = nil) -> VSphereEndpoint {
        VSphereEndpoint(url: url ?? self.url, user: Self.user, password: password, thumbprint: thumbprint)
    }

    /// The simulator's certificate thumbprint, as the refusal of an unpinned connection prints it.
    func thumbprint() async throws -> String {
        do {
            _ = try await VSphereAdapter(endpoint: endpoint()).inventory()
        } catch let error as InfrastructureError {
            guard error.code == .untrustedCertificate, let range = error.message.range(of: "[0-9A-F]{64}", options: .regularExpression)
            else {
                throw TestSetupError("expected an untrusted-certificate error with a thumbprint, got \(error)")
            }
            return String(error.message[range])
        }
        throw TestSetupError("the simulator's self-signed certificate was trusted without a pin")
    }

    /// A connected adapter pinned to the simulator's certificate.
    func adapter() async throws -> VSphereAdapter {
        VSphereAdapter(endpoint: endpoint(thumbprint: try await thumbprint()))
    }

    /// The local file behind a datastore path (`[LocalDS_0] vm/disk1-flat.vmdk`) of a datacenter.
    func localFile(datacenter: String, _ datastorePath: String) throws -> URL {
        guard let parsed = DatastorePath(datastorePath) else { throw TestSetupError("'\(datastorePath)' is not a datastore path") }
        let datastore = parsed.datastore, path = parsed.path
        let folders = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        guard let folder = folders.first(where: { $0.hasPrefix("govcsim-\(datacenter)-\(datastore)-") }) else {
            throw TestSetupError("no datastore folder for \(datacenter)/\(datastore) in \(directory.path): \(folders)")
        }
        return directory.appendingPathComponent(folder).appendingPathComponent(path)
    }
}
