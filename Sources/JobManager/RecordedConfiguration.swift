import Infrastructure
import WorkflowEvents

/// A VM's configuration as its restore point records it (`RestorePointCreated.configuration`):
/// the inventory's view at backup time, with names beside ids so the record reads on its own.
enum RecordedConfiguration {
    static func of(_ machine: VirtualMachine, disks: [VirtualDisk], in inventory: Inventory) -> SessionEvent.VMConfiguration {
        let networks = Dictionary(inventory.networks.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        let folder = inventory.folders.first { $0.id == machine.folder }
        return SessionEvent.VMConfiguration(
            cpus: machine.hardware?.cpus, memoryMiB: machine.hardware?.memoryMiB, firmware: machine.hardware?.firmware,
            guestId: machine.hardware?.guestID, instanceUuid: machine.instanceUUID,
            disks: disks.map {
                SessionEvent.VMConfiguration.Disk(
                    key: $0.key, label: $0.label, sizeBytes: $0.capacity, controllerKey: $0.controllerKey, unitNumber: $0.unitNumber,
                    thinProvisioned: $0.thinProvisioned, datastoreId: $0.datastore, file: $0.file)
            },
            nics: (machine.hardware?.nics ?? []).map {
                SessionEvent.VMConfiguration.NIC(
                    key: $0.key, label: $0.label, adapterType: $0.adapterType, networkId: $0.network, networkName: networks[$0.network],
                    macAddress: $0.macAddress)
            },
            datacenterId: folder?.datacenter, folderId: machine.folder, folderPath: inventory.folderPath(of: machine.folder),
            hostId: machine.host, clusterId: machine.cluster, datastoreId: machine.datastore,
            datastoreName: inventory.datastores.first { $0.id == machine.datastore }?.name,
            controllers: machine.hardware?.controllers?.map {
                SessionEvent.VMConfiguration.Controller(key: $0.key, type: $0.kind.rawValue, busNumber: $0.busNumber)
            })
    }
}
