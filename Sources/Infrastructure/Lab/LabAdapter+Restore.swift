import BlockingIO
import Foundation

/// The lab as a restore target: VMs created from a recorded configuration, disks written in
/// place, power switched. So the whole restore path runs without a vCenter.
extension LabAdapter: VMRestoring {
    public func createVM(_ spec: NewVirtualMachine) async throws -> VirtualMachine {
        let layout = store.layout
        return try await store.updateOffPool { state in
            let inventory = state.inventory
            if let existing = inventory.virtualMachines.first(where: { $0.name == spec.name }) {
                throw InfrastructureError(.invalidInput, "the lab already has a VM named \(spec.name) (\(existing.id))")
            }
            guard inventory.folders.contains(where: { $0.id == spec.folder }) else {
                throw InfrastructureError(.unknownObject, "the lab has no folder \(spec.folder)")
            }
            guard inventory.hosts.contains(where: { $0.id == spec.host }) else {
                throw InfrastructureError(.unknownObject, "the lab has no host \(spec.host)")
            }
            guard let datastore = inventory.datastores.first(where: { $0.id == spec.datastore }) else {
                throw InfrastructureError(.unknownObject, "the lab has no datastore \(spec.datastore)")
            }
            for nic in spec.hardware.nics where !inventory.networks.contains(where: { $0.id == nic.network }) {
                throw InfrastructureError(.unknownObject, "the lab has no network \(nic.network)")
            }
            let number = (inventory.virtualMachines.compactMap { Int($0.id.dropFirst(3)) }.max() ?? 0) + 1
            let id = "vm-\(number)"
            var disks: [VirtualDisk] = []
            for (index, disk) in spec.disks.enumerated() {
                let path = layout.disk(LabLayout.diskName(vm: id, key: disk.key))
                // A file left by a creation that crashed before the inventory was saved is
                // simply made again: nothing in the lab refers to it.
                let descriptor = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0o644)
                guard descriptor >= 0 else { throw InfrastructureError(.io, "cannot create \(path): \(String(cString: strerror(errno)))") }
                defer { close(descriptor) }
                guard ftruncate(descriptor, off_t(disk.capacity)) == 0 else {
                    throw InfrastructureError(.io, "cannot size \(path) to \(disk.capacity) bytes: \(String(cString: strerror(errno)))")
                }
                disks.append(
                    VirtualDisk(
                        key: disk.key, label: disk.label, capacity: disk.capacity, datastore: datastore.id,
                        file: "[\(datastore.name)] \(spec.name)/\(spec.name)_\(index).vmdk", controllerKey: disk.controllerKey,
                        unitNumber: disk.unitNumber, thinProvisioned: disk.thinProvisioned ?? true))
            }
            var hardware = spec.hardware
            hardware.nics = hardware.nics.map {
                VirtualNIC(
                    key: $0.key, label: $0.label, adapterType: $0.adapterType, network: $0.network,
                    macAddress: $0.macAddress.isEmpty ? Self.newMACAddress() : $0.macAddress)
            }
            let cluster = inventory.hosts.first { $0.id == spec.host }?.cluster ?? spec.cluster
            let machine = VirtualMachine(
                id: id, name: spec.name, instanceUUID: spec.instanceUUID ?? UUID().uuidString.lowercased(), folder: spec.folder,
                host: spec.host, cluster: cluster, datastore: datastore.id, tags: [], poweredOn: false, disks: disks,
                hardware: hardware, annotation: spec.annotation)
            state.inventory.virtualMachines.append(machine)
            return machine
        }
    }

    public func openDiskForWriting(vm: String, diskKey: Int) async throws -> any BlockSink {
        let layout = store.layout
        let disk = try await store.readOffPool { state -> VirtualDisk in
            let machine = try Self.machine(vm, in: state)
            guard let disk = machine.disks.first(where: { $0.key == diskKey }) else {
                throw InfrastructureError(.unknownObject, "VM \(machine.name) has no disk \(diskKey)")
            }
            // A snapshot reads old blocks from its copy-on-write file, which only `mutate`
            // fills: writing under a live snapshot would change what the snapshot reads.
            if !(state.snapshots[vm] ?? []).isEmpty {
                throw InfrastructureError(
                    .invalidInput, "VM \(machine.name) has snapshots: a restore into it would change what they read; remove them first")
            }
            return disk
        }
        let store = store
        return try await BlockingIOPool.shared.run { () throws -> LabDiskSink in
            try LabDiskSink(store: store, path: layout.disk(LabLayout.diskName(vm: vm, key: diskKey)), vm: vm, disk: disk)
        }
    }

    public func powerOn(vm: String) async throws {
        try await setPower(vm: vm, on: true)
    }

    public func powerOff(vm: String) async throws {
        try await setPower(vm: vm, on: false)
    }

    private func setPower(vm: String, on: Bool) async throws {
        try await store.updateOffPool { state in
            guard let index = state.inventory.virtualMachines.firstIndex(where: { $0.id == vm }) else {
                throw InfrastructureError(.unknownObject, "the lab has no VM \(vm)")
            }
            state.inventory.virtualMachines[index].poweredOn = on
        }
    }

    /// The lab's datastore is its folder's file system.
    public func freeSpace(datastore: String) async throws -> Int64? {
        let folder = store.layout.disksFolder
        return await BlockingIOPool.shared.run { () -> Int64? in
            var info = statvfs()
            guard statvfs(folder, &info) == 0 else { return nil }
            return Int64(info.f_bavail) * Int64(info.f_frsize)
        }
    }

    /// Every block written with a change epoch after `changeID` (the restore point's snapshot).
    public func writtenSince(vm: String, diskKey: Int, changeID: String) async throws -> [DiskArea]? {
        guard let since = Int(changeID) else { return nil }
        return try await store.readOffPool { state in
            let machine = try Self.machine(vm, in: state)
            guard let disk = machine.disks.first(where: { $0.key == diskKey }) else {
                throw InfrastructureError(.unknownObject, "VM \(machine.name) has no disk \(diskKey)")
            }
            var blocks = Set<Int>()
            for write in state.history(LabLayout.diskName(vm: vm, key: diskKey)).writes where write.epoch > since {
                blocks.formUnion(write.blocks)
            }
            return Self.areas(blocks.sorted(), capacity: disk.capacity)
        }
    }

    /// A locally administered unicast address in VMware's generated range (00:50:56).
    static func newMACAddress() -> String {
        let tail = (0..<3).map { index in UInt8.random(in: 0...(index == 0 ? 0x3f : 0xff)) }
        return (["00", "50", "56"] + tail.map { String(format: "%02x", $0) }).joined(separator: ":")
    }
}
