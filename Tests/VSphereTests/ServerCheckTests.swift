import Foundation
import TestSupport
import Testing

/// `tidemark server check` and `tidemark server inventory` through the binary, against the
/// shared simulator: what an administrator sees before the first job.
@Suite("Seeing a vCenter before the first job: server check and server inventory")
struct ServerCheckTests {
    static let passwordVariable = "TIDEMARK_TEST_VCENTER_PASSWORD"

    /// A catalog database and a scratch folder; servers are added through the binary.
    struct World {
        let database: TestDatabase
        let folder: URL

        static func make() async throws -> World {
            let scratch = ProcessInfo.processInfo.environment["TIDEMARK_TEST_SCRATCH"] ?? NSTemporaryDirectory()
            let folder = URL(fileURLWithPath: scratch).appendingPathComponent("servercheck-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            return World(database: try await TestDatabase.create(), folder: folder)
        }

        @discardableResult
        func tidemark(_ arguments: [String]) throws -> (status: Int32, killed: Bool, output: String) {
            try TidemarkProcess.run(
                arguments + ["--database-url", database.service.keywordConnectionString], in: folder,
                environment: [ServerCheckTests.passwordVariable: Simulator.password])
        }

        func addVCenter(_ name: String, url: String, thumbprint: String?) throws {
            let added = try tidemark(
                ["server", "add", name, "--vcenter", url, "--user", Simulator.user, "--password-env", ServerCheckTests.passwordVariable]
                    + (thumbprint.map { ["--thumbprint", $0] } ?? []))
            #expect(added.status == 0, "\(added.output)")
        }
    }

    @Test("a pinned vCenter: exit 0, its thumbprint, API version and counts of datacenters, hosts and VMs")
    func pinned() async throws {
        let simulator = try Simulator.shared()
        let thumbprint = try await simulator.thumbprint()
        let world = try await World.make()
        try world.addVCenter("vc-lab", url: simulator.url, thumbprint: thumbprint)
        let check = try world.tidemark(["server", "check", "vc-lab"])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("SHA-256 \(thumbprint) (pinned"), "\(check.output)")
        #expect(check.output.range(of: #"API [0-9]+\.[0-9]+"#, options: .regularExpression) != nil, "\(check.output)")
        let manifest = simulator.manifest
        let counts = "\(manifest.datacenters.count) datacenters, \(manifest.hosts.count) hosts, \(manifest.virtualMachines.count) VMs"
        #expect(check.output.contains(counts), "expected '\(counts)' in: \(check.output)")
    }

    @Test("an unpinned self-signed certificate: exit 1, its thumbprint and the update command naming the catalog's server")
    func unpinned() async throws {
        let simulator = try Simulator.shared()
        let thumbprint = try await simulator.thumbprint()
        let world = try await World.make()
        try world.addVCenter("vc-new", url: simulator.url, thumbprint: nil)
        let check = try world.tidemark(["server", "check", "vc-new"])
        #expect(check.status == 1, "\(check.output)")
        #expect(check.output.contains("tidemark server update vc-new --thumbprint \(thumbprint)"), "\(check.output)")
        #expect(!check.output.contains("update NAME"), "\(check.output)")
        #expect(!check.output.contains(Simulator.password))
        // The same message from a job's session: the endpoint carries the catalog's name there too.
        let inventory = try world.tidemark(["server", "inventory", "vc-new"])
        #expect(
            inventory.status == 1 && inventory.output.contains("tidemark server update vc-new --thumbprint \(thumbprint)"),
            "\(inventory.output)")
    }

    @Test("a port nobody listens on: exit 1 with the reason and the address")
    func closedPort() async throws {
        let world = try await World.make()
        try world.addVCenter("vc-gone", url: "https://127.0.0.1:1", thumbprint: nil)
        let check = try world.tidemark(["server", "check", "vc-gone"])
        #expect(check.status == 1, "\(check.output)")
        #expect(check.output.contains("vCenter 'vc-gone'") && check.output.contains("cannot reach https://127.0.0.1:1"), "\(check.output)")
    }

    /// `server inventory --json` as the tests read it.
    struct InventoryJSON: Decodable {
        struct Named: Decodable { let id, name: String }
        struct Folder: Decodable { let id, path: String }
        struct Disk: Decodable {
            let key: Int
            let capacityBytes: Int64
            let file: String
        }
        struct Machine: Decodable {
            let id, name, folder, host: String
            let cluster: String?
            let tags: [String]
            let disks: [Disk]
        }
        let platform: String
        let datacenters, clusters, hosts, tags: [Named]
        let folders: [Folder]
        let virtualMachines: [Machine]
    }

    static func decode(_ output: String) throws -> InventoryJSON {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(InventoryJSON.self, from: Data(output.utf8))
    }

    @Test("inventory --json holds what the simulator made: the same datacenters, clusters, hosts, folder paths, tags and VMs with disks")
    func inventoryJSON() async throws {
        let simulator = try Simulator.shared()
        let world = try await World.make()
        try world.addVCenter("vc-lab", url: simulator.url, thumbprint: try await simulator.thumbprint())
        let run = try world.tidemark(["server", "inventory", "vc-lab", "--json"])
        #expect(run.status == 0, "\(run.output)")
        let listed = try Self.decode(run.output)
        let manifest = simulator.manifest
        #expect(listed.platform == "vcenter")
        #expect(listed.datacenters.map(\.name).sorted() == manifest.datacenters)
        #expect(listed.clusters.map(\.name).sorted() == manifest.clusters)
        #expect(listed.hosts.map(\.name).sorted() == manifest.hosts)
        #expect(listed.folders.map(\.path).sorted() == manifest.folders)
        #expect(listed.tags.map(\.name).sorted() == manifest.tags)
        #expect(listed.virtualMachines.count == manifest.virtualMachines.count)
        for machine in manifest.virtualMachines {
            let found = try #require(listed.virtualMachines.first { $0.id == machine.id }, "\(machine.id) missing")
            #expect(found.name == machine.name && found.folder == machine.folder && found.host == machine.host, "\(found)")
            #expect((found.cluster ?? "") == machine.cluster && found.tags == machine.tags, "\(found)")
            #expect(found.disks.map(\.key) == machine.disks.map(\.key) && found.disks.map(\.capacityBytes) == machine.disks.map(\.capacity))
        }
        let text = try world.tidemark(["server", "inventory", "vc-lab"])
        #expect(
            text.status == 0 && text.output.contains(manifest.virtualMachines[0].id) && text.output.contains(manifest.folders.last ?? "?"),
            "\(text.output)")
    }

    @Test("a lab: check says it is a lab and checks lab.json; inventory lists the lab's VMs")
    func lab() async throws {
        let world = try await World.make()
        let folder = world.folder.appendingPathComponent("lab")
        let created = try TidemarkProcess.run(["lab", "create", folder.path, "--vms", "2", "--disk-size", "64K"], in: world.folder)
        #expect(created.status == 0, "\(created.output)")
        #expect(try world.tidemark(["server", "add", "lab", "--lab", folder.path]).status == 0)
        let check = try world.tidemark(["server", "check", "lab"])
        #expect(check.status == 0 && check.output.contains("a lab") && check.output.contains("lab.json"), "\(check.output)")
        #expect(check.output.contains("2 VMs"), "\(check.output)")
        let listed = try Self.decode(try world.tidemark(["server", "inventory", "lab", "--json"]).output)
        #expect(listed.platform == "lab" && listed.virtualMachines.count == 2)

        try FileManager.default.removeItem(at: folder.appendingPathComponent("lab.json"))
        let broken = try world.tidemark(["server", "check", "lab"])
        #expect(broken.status == 1 && broken.output.contains("no lab.json"), "\(broken.output)")
    }
}
