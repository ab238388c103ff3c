import Catalog
import Infrastructure

/// Turns a job's object list into the VMs (and disks) to process, in the job's order.
///
/// A selector names an object by id or name (folders also by path, `/DC1/vm/Prod`);
/// containers expand to their VMs sorted by name; a VM selected twice is processed once,
/// where it first appears. Exclusions drop VMs (`vm:`) or single disks (`disk:VM/KEY`); a VM
/// left without disks is dropped.
enum ObjectExpansion {
    struct Selected: Sendable {
        let machine: VirtualMachine
        let disks: [VirtualDisk]
    }

    static func expand(_ job: JobDefinition, in inventory: Inventory) -> [Selected] {
        let folderPaths = paths(of: inventory)
        var seen = Set<String>()
        var ordered: [VirtualMachine] = []
        for selector in job.objects {
            let found = machines(matching: selector, in: inventory, folderPaths: folderPaths)
            for machine in found.sorted(by: { ($0.name, $0.id) < ($1.name, $1.id) }) where seen.insert(machine.id).inserted {
                ordered.append(machine)
            }
        }
        return ordered.compactMap { machine in
            let excluded = job.exclusions.filter { $0.vm == machine.id || $0.vm == machine.name }
            if excluded.contains(where: { $0.diskKey == nil }) { return nil }
            let keys = Set(excluded.compactMap(\.diskKey))
            let disks = machine.disks.filter { !keys.contains($0.key) }
            return disks.isEmpty ? nil : Selected(machine: machine, disks: disks)
        }
    }

    /// The job's selectors that match no VM of the inventory (before exclusions): a session
    /// warns about each, and fails if none matches anything.
    static func unmatched(_ job: JobDefinition, in inventory: Inventory) -> [ObjectSelector] {
        let folderPaths = paths(of: inventory)
        return job.objects.filter { machines(matching: $0, in: inventory, folderPaths: folderPaths).isEmpty }
    }

    /// The VMs one selector names, in inventory order.
    static func machines(matching selector: ObjectSelector, in inventory: Inventory, folderPaths: [String: String]) -> [VirtualMachine] {
        func matches(_ value: String, id: String, name: String?) -> Bool { value == id || value == name }
        let value = selector.value
        let found: [VirtualMachine]
        switch selector.kind {
        case .vm:
            found = inventory.virtualMachines.filter { matches(value, id: $0.id, name: $0.name) }
        case .folder:
            let folders = Set(
                inventory.folders.filter { matches(value, id: $0.id, name: $0.name) || folderPaths[$0.id] == value }.map(\.id))
            // A folder holds the VMs of its subfolders too.
            found = inventory.virtualMachines.filter { machine in
                var current: String? = machine.folder
                var visited = Set<String>()
                while let id = current, visited.insert(id).inserted {
                    if folders.contains(id) { return true }
                    current = inventory.folders.first { $0.id == id }?.parent
                }
                return false
            }
        case .cluster:
            let clusters = Set(inventory.clusters.filter { matches(value, id: $0.id, name: $0.name) }.map(\.id))
            found = inventory.virtualMachines.filter { clusters.contains($0.cluster) }
        case .host:
            let hosts = Set(inventory.hosts.filter { matches(value, id: $0.id, name: $0.name) }.map(\.id))
            found = inventory.virtualMachines.filter { hosts.contains($0.host) }
        case .tag:
            let tags = Set(inventory.tags.filter { matches(value, id: $0.id, name: $0.name) }.map(\.id))
            found = inventory.virtualMachines.filter { !tags.isDisjoint(with: $0.tags) }
        case .datacenter:
            let centers = Set(inventory.datacenters.filter { matches(value, id: $0.id, name: $0.name) }.map(\.id))
            let folders = Set(inventory.folders.filter { centers.contains($0.datacenter) }.map(\.id))
            found = inventory.virtualMachines.filter { folders.contains($0.folder) }
        }
        return found
    }

    /// `/Datacenter/folder/subfolder` for every folder.
    static func paths(of inventory: Inventory) -> [String: String] { inventory.folderPaths() }
}
