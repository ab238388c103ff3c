import Crypto
import Foundation
import Infrastructure
import TestSupport
import Testing

@testable import VSphere

/// A VM backed up from the simulator restored under a new name into another folder and
/// datastore: created with its recorded configuration (CreateVM_Task), its flat extents and
/// descriptors uploaded through datastore HTTP access, switched on (PowerOnVM_Task); the
/// files the datastore then holds equal the originals byte for byte.
@Suite("Restore to the vCenter simulator")
struct RestoreToVCenterTests {
    static let environment = [BackupJobTests.passwordVariable: Simulator.password, "TIDEMARK_RETRY_WAIT_SECONDS": "0"]

    static func flat(_ file: String) -> String { file.replacingOccurrences(of: ".vmdk", with: "-flat.vmdk") }

    @Test("restored under a new name into another folder and datastore, its flat files equal the originals, and it powers on")
    func newLocation() async throws {
        let simulator = try Simulator.start([
            "-dc", "1", "-cluster", "1", "-host", "2", "-vm", "2", "-disks", "2", "-disk-kib", "3072", "-folder", "2", "-datastores", "2",
            "-data-controller", "lsilogic-sas", "-dvportgroups", "2",
        ])
        defer { simulator.stop() }
        let world = try await VCenterWorld.make(simulator: simulator, objects: ["datacenter:DC0"])
        let backup = try world.tidemark(["job", "start", "vc-job", "--quiet"], environment: Self.environment)
        #expect(backup.status == 0, "\(backup.output)")

        let adapter = try await simulator.adapter()
        let before = try await adapter.inventory()
        let source = try #require(before.virtualMachines.sorted { $0.name < $1.name }.first)
        let paths = before.folderPaths()
        let otherFolder = try #require(before.folders.first { $0.id != source.folder && $0.parent != nil }.flatMap { paths[$0.id] })
        let otherDatastore = try #require(before.datastores.first { $0.id != source.datastore })
        let run = try world.tidemark(
            [
                "restore", "vm", source.name, "--to-server", "vc", "--name", "restored-01", "--folder", otherFolder, "--datastore",
                otherDatastore.name, "--network-map", "DC0_DVPG0=DC0_DVPG1", "--power-on", "--reason", "vCenter drill",
            ], environment: Self.environment)
        #expect(run.status == 0, "\(run.output)")

        let after = try await adapter.inventory()
        let restored = try #require(after.virtualMachines.first { $0.name == "restored-01" })
        #expect(paths[restored.folder] == otherFolder)
        #expect(restored.poweredOn)
        #expect(restored.instanceUUID != source.instanceUUID)
        #expect(restored.annotation?.hasPrefix("tidemark-restore:") == true)
        #expect(restored.hardware?.cpus == source.hardware?.cpus && restored.hardware?.memoryMiB == source.hardware?.memoryMiB)
        #expect(restored.disks.count == source.disks.count)
        // Each disk on a controller of the type it was on (one paravirtual, one LSI Logic SAS): a guest boots from the controller it has drivers for.
        func controllerKinds(_ vm: VirtualMachine) -> [VirtualController.Kind?] {
            vm.disks.sorted { $0.key < $1.key }.map { disk in vm.hardware?.controllers?.first { $0.key == disk.controllerKey }?.kind }
        }
        #expect(Set(controllerKinds(source)) == [.pvscsi, .lsilogicSAS])
        #expect(controllerKinds(restored) == controllerKinds(source))
        // The NIC on a distributed port group, mapped to the other one: created by its switch's
        // UUID and the port group's key.
        let portgroups = Dictionary(after.networks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let first = try #require(portgroups["DC0_DVPG0"]), second = try #require(portgroups["DC0_DVPG1"])
        #expect(first.switchUUID != nil && first.switchUUID == second.switchUUID)
        #expect(source.hardware?.nics.map(\.network) == [first.id])
        #expect(restored.hardware?.nics.map(\.network) == [second.id])
        for (original, copy) in zip(source.disks.sorted { $0.key < $1.key }, restored.disks.sorted { $0.key < $1.key }) {
            #expect(copy.file.hasPrefix("[\(otherDatastore.name)]"), "\(copy.file)")
            #expect(copy.capacity == original.capacity)
            let expected = try Data(contentsOf: simulator.localFile(datacenter: "DC0", Self.flat(original.file)))
            let written = try Data(contentsOf: simulator.localFile(datacenter: "DC0", Self.flat(copy.file)))
            #expect(SHA256.hash(data: written) == SHA256.hash(data: expected), "disk \(original.key) → \(copy.file)")
            // The descriptor names the extent, so the copy reads back through the same path a backup reads.
            let descriptor = try String(contentsOf: simulator.localFile(datacenter: "DC0", copy.file), encoding: .utf8)
            #expect(descriptor.contains("VMFS \"\((Self.flat(copy.file) as NSString).lastPathComponent)\""), "\(descriptor)")
        }

        // Bad input against vCenter: nothing created, nothing recorded.
        let restoresBefore = try await world.database.administratorQuery(
            "SELECT count(*) FROM tidemark.events WHERE category = 'restore'"
        ).decode(0, 0, as: Int64.self)
        for (arguments, expected) in [
            (["--name", "restored-01"], "vc already has a VM named restored-01"),
            (["--name", "x", "--datastore", "Nope"], "vc has no datastore Nope: its datastores are LocalDS_0, LocalDS_1"),
            (["--name", "x", "--host", "nohost"], "vc has no host nohost in that datacenter"),
        ] {
            let refused = try world.tidemark(
                ["restore", "vm", source.name, "--to-server", "vc"] + arguments, environment: Self.environment)
            #expect(refused.status != 0 && refused.output.contains(expected), "\(arguments): \(refused.output)")
        }
        #expect(
            try await world.database.administratorQuery("SELECT count(*) FROM tidemark.events WHERE category = 'restore'").decode(
                0, 0, as: Int64.self) == restoresBefore)
        #expect(try await adapter.inventory().virtualMachines.count == after.virtualMachines.count)
    }
}
