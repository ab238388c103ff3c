import Catalog
import CatalogStore
import Crypto
import EventStore
import Foundation
import Infrastructure
import Repository
import TestSupport
import Testing

@testable import VSphere

@Suite("A Tidemark backup job against the simulator")
struct BackupJobTests {
    static let passwordVariable = "TIDEMARK_TEST_VCENTER_PASSWORD"

    @Test("killed after each step until a snapshot is left, then resumed: every disk restores to the datastore's bytes, no snapshot left")
    func backupJob() async throws {
        let simulator = try Simulator.start([
            "-dc", "1", "-cluster", "1", "-host", "2", "-vm", "3", "-disks", "2", "-disk-kib", "3072", "-folder", "1",
        ])
        defer { simulator.stop() }
        let machines = simulator.manifest.virtualMachines
        // Bytes of the test's own on the first disk, written straight into the datastore's folder.
        var generator = SystemRandomNumberGenerator()
        let placed = Data((0..<(3072 * 1024)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try placed.write(
            to: simulator.localFile(datacenter: "DC0", machines[0].disks[0].file.replacingOccurrences(of: ".vmdk", with: "-flat.vmdk")))

        let world = try await VCenterWorld.make(simulator: simulator, objects: ["folder:/DC0/vm/Folder0"])
        let environment = [Self.passwordVariable: Simulator.password, "TIDEMARK_RETRY_WAIT_SECONDS": "0"]
        let adapter = try await simulator.adapter()
        var orphanSeen = false
        var crashAfter = 1
        while !orphanSeen && crashAfter < 40 {
            let run = try world.tidemark(
                ["job", "start", "vc-job", "--quiet"],
                environment: environment.merging(["TIDEMARK_CRASH_AFTER_EVENTS": "\(crashAfter)"]) { $1 })
            #expect(run.killed, "\(run.output)")
            for machine in machines where try await adapter.snapshots(of: machine.id).contains(where: { $0.name.hasPrefix("tidemark-") }) {
                orphanSeen = true
            }
            crashAfter += 1
        }
        #expect(orphanSeen, "no kill left a tidemark snapshot behind")
        let finished = try world.tidemark(["job", "start", "vc-job", "--quiet"], environment: environment)
        #expect(finished.status == 0, "\(finished.output)")

        for machine in machines {
            #expect(try await adapter.snapshots(of: machine.id).isEmpty, "\(machine.name) kept a snapshot")
        }
        let points = try await world.database.administratorQuery(
            "SELECT data->>'vm_id', data->>'restore_point_id' FROM tidemark.events WHERE event_type = 'RestorePointCreated'")
        #expect(points.rowCount == machines.count)
        let repository = try BackupRepository.open(at: world.repository)
        for row in 0..<points.rowCount {
            let vm: String = try points.decode(row, 0), point: String = try points.decode(row, 1)
            let machine = try #require(machines.first { $0.id == vm })
            for disk in machine.disks {
                let target = world.folder.appendingPathComponent("restore-\(vm)-\(disk.key).img")
                try DiskRestore.restore(
                    try repository.manifest(restorePoint: point, disk: "disk-\(disk.key)"), from: repository, to: target.path,
                    overwrite: true)
                let expected = try Data(
                    contentsOf: simulator.localFile(datacenter: "DC0", disk.file.replacingOccurrences(of: ".vmdk", with: "-flat.vmdk")))
                #expect(SHA256.hash(data: try Data(contentsOf: target)) == SHA256.hash(data: expected), "\(machine.name) disk \(disk.key)")
            }
        }
        #expect(
            try Data(
                contentsOf: simulator.localFile(
                    datacenter: "DC0", machines[0].disks[0].file.replacingOccurrences(of: ".vmdk", with: "-flat.vmdk"))) == placed)
    }

    @Test("a vCenter gone while a session is interrupted: the resumed session fails saying so, the catalog is untouched")
    func vCenterGone() async throws {
        let simulator = try Simulator.start(["-dc", "1", "-cluster", "1", "-host", "1", "-vm", "2", "-disk-kib", "1024"])
        defer { simulator.stop() }
        let world = try await VCenterWorld.make(simulator: simulator, objects: ["datacenter:DC0"])
        let environment = [Self.passwordVariable: Simulator.password, "TIDEMARK_RETRY_WAIT_SECONDS": "0"]
        let killed = try world.tidemark(
            ["job", "start", "vc-job", "--quiet"], environment: environment.merging(["TIDEMARK_CRASH_AFTER_EVENTS": "5"]) { $1 })
        #expect(killed.killed, "\(killed.output)")
        let catalogBefore = try await world.catalogEvents()
        simulator.stop()
        let resumed = try world.tidemark(["job", "start", "vc-job", "--quiet"], environment: environment)
        #expect(resumed.status != 0)
        #expect(resumed.output.contains("cannot reach \(simulator.url.replacingOccurrences(of: "/sdk", with: ""))"), "\(resumed.output)")
        let finished = try await world.database.administratorQuery(
            "SELECT data->>'result' FROM tidemark.events WHERE event_type = 'SessionFinished'")
        #expect(finished.rowCount == 1)
        #expect(try finished.decode(0, 0, as: String.self) == "failed")
        #expect(try await world.catalogEvents() == catalogBefore)
    }

    @Test("a wrong password fails the session with vCenter's reason, and leaves the catalog as it was")
    func wrongPasswordJob() async throws {
        let simulator = try Simulator.shared()
        let world = try await VCenterWorld.make(simulator: simulator, objects: ["cluster:DC0_C0"])
        let catalogBefore = try await world.catalogEvents()
        let run = try world.tidemark(["job", "start", "vc-job", "--quiet"], environment: [Self.passwordVariable: "not-the-password-7"])
        #expect(run.status != 0)
        #expect(run.output.contains("wrong user name or password"), "\(run.output)")
        #expect(!run.output.contains("tidemark-test"))
        #expect(try await world.catalogEvents() == catalogBefore)
        let reason = try await world.database.administratorQuery(
            "SELECT data->>'result', data::text FROM tidemark.events WHERE event_type = 'SessionFinished'")
        #expect(reason.rowCount == 1)
        #expect(try reason.decode(0, 0, as: String.self) == "failed")
        #expect(try reason.decode(0, 1, as: String.self).contains("wrong user name or password"))
        let unset = try world.tidemark(["job", "start", "vc-job", "--quiet"], environment: [Self.passwordVariable: ""])
        #expect(unset.output.contains("\(Self.passwordVariable)") && unset.output.contains("not set"), "\(unset.output)")
    }
}

/// A database and a catalog with the simulator registered as a vCenter (pinned), a repository
/// and the job `vc-job` over the given objects.
struct VCenterWorld {
    let database: TestDatabase
    let folder: URL
    var repository: URL { folder.appendingPathComponent("repository") }

    static func make(simulator: Simulator, objects: [String]) async throws -> VCenterWorld {
        let database = try await TestDatabase.create()
        let scratch = ProcessInfo.processInfo.environment["TIDEMARK_TEST_SCRATCH"] ?? NSTemporaryDirectory()
        let folder = URL(fileURLWithPath: scratch).appendingPathComponent("vcjob-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let world = VCenterWorld(database: database, folder: folder)
        let thumbprint = try await simulator.thumbprint()
        let catalog = CatalogStore(events: database.eventStore())
        try await catalog.execute(metadata: EventMetadata(actor: "test")) { start throws(CatalogError) in
            var plan = CatalogPlan(start)
            try plan.add(
                ManagedServer(
                    name: "vc", platform: .vcenter, url: simulator.url, user: Simulator.user,
                    passwordReference: try SecretReference(source: .environment, name: BackupJobTests.passwordVariable),
                    thumbprint: thumbprint))
            try plan.add(
                RepositoryDefinition(name: "repo", path: world.repository.path, maxConcurrentTasks: 2, freeSpaceThresholdPercent: 0))
            try plan.add(ProxyDefinition(name: "proxy", maxConcurrentTasks: 2))
            var settings = JobSettings()
            settings.name = "vc-job"
            settings.server = "vc"
            settings.repository = "repo"
            settings.objects = objects
            settings.retryWaitMinutes = 0
            try plan.add(try settings.definition(base: nil, in: plan.state, defaultTimeZone: "UTC"))
            return plan.changes
        }
        return world
    }

    func tidemark(_ arguments: [String], environment: [String: String]) throws -> (status: Int32, killed: Bool, output: String) {
        try TidemarkProcess.run(
            arguments + ["--database-url", database.service.keywordConnectionString], in: folder, environment: environment)
    }

    /// Every event outside sessions: the catalog's streams.
    func catalogEvents() async throws -> Int64 {
        try await database.administratorQuery("SELECT count(*) FROM tidemark.events WHERE category <> 'session'").decode(
            0, 0, as: Int64.self)
    }
}
