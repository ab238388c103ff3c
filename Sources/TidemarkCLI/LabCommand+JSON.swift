import Foundation
import Infrastructure

/// `lab show --json`: the lab's VMs with their disks and snapshots, and its injected faults.
struct LabView: Encodable {
    struct Machine: Encodable {
        let id, name, folder, host, cluster: String
        let tags: [String]
        let poweredOn: Bool
        let disks: [Disk]
        let snapshots: [Snapshot]
    }

    struct Disk: Encodable {
        let key: Int
        let label: String
        let capacityBytes: Int64
    }

    struct Snapshot: Encodable {
        let id, name, changeId: String
        let quiesced: Bool
    }

    struct Faults: Encodable {
        let snapshotFailure, quiesceFailure: [String]
    }

    let vms: [Machine]
    let faults: Faults

    static func make(_ lab: LabAdapter) async throws -> LabView {
        let inventory = try await lab.inventory()
        let folders = Dictionary(uniqueKeysWithValues: inventory.folders.map { ($0.id, $0.name) })
        let tags = Dictionary(uniqueKeysWithValues: inventory.tags.map { ($0.id, $0.name) })
        var machines: [Machine] = []
        for vm in inventory.virtualMachines {
            machines.append(
                Machine(
                    id: vm.id, name: vm.name, folder: folders[vm.folder] ?? vm.folder, host: vm.host, cluster: vm.cluster,
                    tags: vm.tags.compactMap { tags[$0] }, poweredOn: vm.poweredOn,
                    disks: vm.disks.map { Disk(key: $0.key, label: $0.label, capacityBytes: $0.capacity) },
                    snapshots: try await lab.snapshots(of: vm.id).map {
                        Snapshot(id: $0.id, name: $0.name, changeId: $0.changeID, quiesced: $0.quiesced)
                    }))
        }
        let faults = try lab.faults()
        return LabView(
            vms: machines, faults: Faults(snapshotFailure: faults.snapshotFailure.sorted(), quiesceFailure: faults.quiesceFailure.sorted()))
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
