import Crypto
import DataMover
import Foundation
import Infrastructure
import Repository
import Testing

@Suite("The lab: inventory, point-in-time snapshots, changed blocks, injected faults")
struct LabTests {
    static func folder(_ name: String) throws -> URL {
        let root = URL(fileURLWithPath: ProcessInfo.processInfo.environment["TIDEMARK_TEST_SCRATCH"] ?? NSTemporaryDirectory())
        return root.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
    }

    /// Everything a block source reads, start to end.
    static func contents(_ source: any BlockSource) async throws -> [UInt8] {
        try await source.bytes(at: 0, count: Int(source.size))
    }

    @Test("a new lab holds the VMs, disks and inventory it was asked for")
    func create() async throws {
        let folder = try Self.folder("lab-create")
        defer { try? FileManager.default.removeItem(at: folder) }
        let lab = try LabAdapter.create(at: folder.path, vms: 4, disksPerVM: 2, diskSize: 4 << 20)
        let inventory = try await lab.inventory()
        #expect(inventory.virtualMachines.count == 4)
        #expect(
            inventory.virtualMachines.allSatisfy { $0.disks.map(\.key) == [2000, 2001] && $0.disks.allSatisfy { $0.capacity == 4 << 20 } })
        #expect(inventory.virtualMachines.map(\.name) == ["lab-vm-01", "lab-vm-02", "lab-vm-03", "lab-vm-04"])
        #expect(Set(inventory.virtualMachines.map(\.folder)) == ["group-v2", "group-v3"])
        #expect(inventory.hosts.count == 2 && inventory.clusters.count == 1 && inventory.tags.count == 2)
        let again = #expect(throws: InfrastructureError.self) {
            try LabAdapter.create(at: folder.path, vms: 1, disksPerVM: 1, diskSize: 1 << 20)
        }
        #expect(again?.message.contains("not empty") == true)
        #expect(throws: InfrastructureError.self) { try LabAdapter.create(at: folder.path + "-x", vms: 1, disksPerVM: 1, diskSize: 1000) }
    }

    @Test(
        "a snapshot rewrites lab.json only, not the inventory; a lab of the first format (inventory inside lab.json) is read and converted")
    func stateFiles() async throws {
        let folder = try Self.folder("lab-files")
        defer { try? FileManager.default.removeItem(at: folder) }
        let lab = try LabAdapter.create(at: folder.path, vms: 3, disksPerVM: 1, diskSize: 1 << 20)
        let inventoryFile = folder.appendingPathComponent("inventory.json").path
        let stateFile = folder.appendingPathComponent("lab.json").path
        let before = try FileManager.default.attributesOfItem(atPath: inventoryFile)[.systemFileNumber] as? Int
        let snapshot = try await lab.createSnapshot(vm: "vm-1", name: "s", description: "", quiesce: false)
        #expect(try FileManager.default.attributesOfItem(atPath: inventoryFile)[.systemFileNumber] as? Int == before)
        let state = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stateFile))) as? [String: Any])
        #expect(state["inventory"] == nil && state["format"] as? Int == 2)
        // The first format: the inventory inside lab.json, no inventory.json.
        var old = state
        old["format"] = 1
        old["inventory"] = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: inventoryFile)))
        try JSONSerialization.data(withJSONObject: old).write(to: URL(fileURLWithPath: stateFile))
        try FileManager.default.removeItem(atPath: inventoryFile)
        let reopened = try LabAdapter(root: folder.path)
        #expect(try await reopened.inventory().virtualMachines.count == 3)
        try await reopened.removeSnapshot(vm: "vm-1", snapshot: snapshot.id)
        #expect(FileManager.default.fileExists(atPath: inventoryFile))
        let converted = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stateFile))) as? [String: Any])
        #expect(converted["inventory"] == nil && converted["format"] as? Int == 2)
        #expect(try await LabAdapter(root: folder.path).inventory().virtualMachines.count == 3)
        // A lab.json of a format this version does not know is refused with the file named.
        var future = converted
        future["format"] = 99
        try JSONSerialization.data(withJSONObject: future).write(to: URL(fileURLWithPath: stateFile))
        await #expect { try await LabAdapter(root: folder.path).inventory() } throws: {
            ($0 as? InfrastructureError)?.message.contains("of another format") == true
        }
    }

    @Test("a snapshot keeps reading what the disk held when it was taken, whatever is written later")
    func pointInTime() async throws {
        let folder = try Self.folder("lab-snapshot")
        defer { try? FileManager.default.removeItem(at: folder) }
        let lab = try LabAdapter.create(at: folder.path, vms: 1, disksPerVM: 1, diskSize: 4 << 20)
        let live = try ImageFileSource(path: folder.appendingPathComponent("disks/vm-1-2000.img").path)
        let before = try await Self.contents(live)
        let first = try await lab.createSnapshot(vm: "vm-1", name: "tidemark-test-1", description: "test", quiesce: true)
        try lab.mutate(percent: 10)
        let firstView = try await lab.openDisk(vm: "vm-1", snapshot: first.id, diskKey: 2000)
        #expect(try await Self.contents(firstView) == before)
        let after = try await Self.contents(try ImageFileSource(path: folder.appendingPathComponent("disks/vm-1-2000.img").path))
        #expect(after != before)
        let second = try await lab.createSnapshot(vm: "vm-1", name: "tidemark-test-2", description: "test", quiesce: false)
        try lab.mutate(percent: 10)
        #expect(try await Self.contents(try await lab.openDisk(vm: "vm-1", snapshot: second.id, diskKey: 2000)) == after)
        #expect(try await Self.contents(firstView) == before)
        #expect(try await lab.snapshots(of: "vm-1").map(\.name) == ["tidemark-test-1", "tidemark-test-2"])
        try await lab.removeSnapshot(vm: "vm-1", snapshot: first.id)
        #expect(try await lab.snapshots(of: "vm-1").map(\.id) == [second.id])
        let gone = await #expect(throws: InfrastructureError.self) {
            _ = try await lab.openDisk(vm: "vm-1", snapshot: first.id, diskKey: 2000)
        }
        #expect(gone?.code == .unknownObject)
    }

    @Test("changed areas cover exactly the blocks written between two snapshots, and drive an incremental")
    func changedBlockTracking() async throws {
        let folder = try Self.folder("lab-cbt")
        defer { try? FileManager.default.removeItem(at: folder) }
        let lab = try LabAdapter.create(at: folder.path, vms: 1, disksPerVM: 1, diskSize: 8 << 20)
        let repository = try BackupRepository.create(at: folder.appendingPathComponent("repo"))
        let first = try await lab.createSnapshot(vm: "vm-1", name: "a", description: "", quiesce: false)
        let full = try await DiskTransfer(
            repository: repository, restorePoint: "rp-1", disk: "vm-1-2000",
            source: try await lab.openDisk(vm: "vm-1", snapshot: first.id, diskKey: 2000)
        ).run()
        try await lab.removeSnapshot(vm: "vm-1", snapshot: first.id)

        let written = try lab.mutate(percent: 3)["vm-1-2000"] ?? []
        let second = try await lab.createSnapshot(vm: "vm-1", name: "b", description: "", quiesce: false)
        let areas = try #require(try await lab.changedAreas(vm: "vm-1", snapshot: second.id, diskKey: 2000, since: first.changeID))
        let covered = Set(areas.flatMap { area in (Int(area.offset >> 16)..<Int((area.offset + area.length) >> 16)) })
        #expect(covered == Set(written))
        #expect(try await lab.changedAreas(vm: "vm-1", snapshot: second.id, diskKey: 2000, since: second.changeID) == [])

        let source = try await lab.openDisk(vm: "vm-1", snapshot: second.id, diskKey: 2000)
        var incremental = DiskTransfer(repository: repository, restorePoint: "rp-2", disk: "vm-1-2000", source: source)
        let changed = DiskTransfer.blocks(touchedBy: areas, blockSize: .default)
        incremental.changedBlocks = (full.manifest, changed)
        let outcome = try await incremental.run()
        #expect(outcome.progress.bytesRead == Int64(changed.count) << 20)
        let restored = folder.appendingPathComponent("restored.img")
        try DiskRestore.restore(outcome.manifest, from: repository, to: restored.path, overwrite: false)
        #expect(try Data(contentsOf: restored) == Data(try await Self.contents(source)))
    }

    @Test("injected snapshot and quiesce failures are reported with their fault names")
    func injectedFaults() async throws {
        let folder = try Self.folder("lab-faults")
        defer { try? FileManager.default.removeItem(at: folder) }
        let lab = try LabAdapter.create(at: folder.path, vms: 2, disksPerVM: 1, diskSize: 1 << 20)
        var faults = LabFaults()
        faults.snapshotFailure = ["vm-1"]
        faults.quiesceFailure = ["vm-2"]
        try lab.setFaults(faults)
        let snapshotError = await #expect(throws: InfrastructureError.self) {
            _ = try await lab.createSnapshot(vm: "vm-1", name: "x", description: "", quiesce: false)
        }
        #expect(snapshotError?.code == .snapshotFailed)
        #expect(snapshotError?.fault == "SnapshotFault")
        let quiesceError = await #expect(throws: InfrastructureError.self) {
            _ = try await lab.createSnapshot(vm: "vm-2", name: "x", description: "", quiesce: true)
        }
        #expect(quiesceError?.code == .quiesceFailed)
        // Crash-consistent (no quiesce) still works for vm-2, and no half snapshot was left.
        _ = try await lab.createSnapshot(vm: "vm-2", name: "y", description: "", quiesce: false)
        #expect(try await lab.snapshots(of: "vm-2").map(\.name) == ["y"])
        #expect(try await lab.snapshots(of: "vm-1").isEmpty)
        let unknown = await #expect(throws: InfrastructureError.self) { _ = try await lab.snapshots(of: "vm-99") }
        #expect(unknown?.code == .unknownObject)
    }
}
