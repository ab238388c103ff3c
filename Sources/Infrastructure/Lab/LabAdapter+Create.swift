import Foundation

extension LabAdapter {
    /// Makes a lab in a new or empty folder: one datacenter with a cluster of two hosts, a
    /// "Production" and a "Test" folder, tags `gold` and `silver`, and `vms` VMs of
    /// `disksPerVM` disks of `diskSize` bytes with generated content (all VMs share template
    /// blocks, as clones of one template would). With `guestFileSystems`, each VM's first disk
    /// holds a partition table and an ext4 file system with files (`GuestFileSystemImage`).
    @discardableResult
    public static func create(
        at root: String, vms: Int, disksPerVM: Int, diskSize: Int64, seed: UInt64 = 1, guestFileSystems: Bool = false
    ) throws
        -> LabAdapter
    {
        guard (1...10_000).contains(vms) else { throw InfrastructureError(.invalidInput, "--vms must be from 1 to 10000, not \(vms)") }
        guard (1...16).contains(disksPerVM) else {
            throw InfrastructureError(.invalidInput, "--disks-per-vm must be from 1 to 16, not \(disksPerVM)")
        }
        guard diskSize >= Int64(LabState.blockSize), diskSize % Int64(LabState.blockSize) == 0 else {
            throw InfrastructureError(.invalidInput, "--disk-size must be a multiple of 64 KiB, at least 64K (for example 64M or 1G)")
        }
        if guestFileSystems && diskSize < GuestFileSystemImage.minimumDiskSize {
            throw InfrastructureError(.invalidInput, "--disk-size must be at least 8M for disks with a guest file system")
        }
        let path = URL(fileURLWithPath: root).standardizedFileURL.path
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: path), !entries.isEmpty {
            throw InfrastructureError(.invalidInput, "cannot make a lab in \(path): the folder is not empty")
        }
        let layout = LabLayout(root: path)
        try FileManager.default.createDirectory(atPath: layout.disksFolder, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: layout.snapshotsFolder, withIntermediateDirectories: true)

        var inventory = Inventory()
        inventory.datacenters = [.init(id: "datacenter-1", name: "Lab")]
        inventory.clusters = [.init(id: "domain-c1", name: "Lab Cluster", datacenter: "datacenter-1")]
        inventory.hosts = [
            .init(id: "host-1", name: "esx-01.lab", cluster: "domain-c1"),
            .init(id: "host-2", name: "esx-02.lab", cluster: "domain-c1"),
        ]
        inventory.folders = [
            .init(id: "group-v1", name: "vm", parent: nil, datacenter: "datacenter-1"),
            .init(id: "group-v2", name: "Production", parent: "group-v1", datacenter: "datacenter-1"),
            .init(id: "group-v3", name: "Test", parent: "group-v1", datacenter: "datacenter-1"),
        ]
        inventory.datastores = [.init(id: "datastore-1", name: "lab-datastore")]
        inventory.networks = [.init(id: "network-1", name: "VM Network"), .init(id: "network-2", name: "Isolated")]
        inventory.tags = [
            .init(id: "tag-1", name: "gold", category: "tier"),
            .init(id: "tag-2", name: "silver", category: "tier"),
        ]
        for number in 1...vms {
            let id = "vm-\(number)"
            let name = String(format: "lab-vm-%02d", number)
            var disks: [VirtualDisk] = []
            for index in 0..<disksPerVM {
                let key = 2000 + index
                disks.append(
                    VirtualDisk(
                        key: key, label: "Hard disk \(index + 1)", capacity: diskSize, datastore: "datastore-1",
                        file: "[lab-datastore] \(name)/\(name)_\(index).vmdk", controllerKey: 1000,
                        unitNumber: index < 7 ? index : index + 1,
                        thinProvisioned: true))
                let diskSeed = seed &* 1_000_003 &+ UInt64(number * 31 + index)
                if guestFileSystems && index == 0 {
                    try GuestFileSystemImage.make(
                        at: layout.disk(LabLayout.diskName(vm: id, key: key)), size: diskSize, seed: diskSeed,
                        scratch: layout.snapshotsFolder)
                } else {
                    try DiskImageGenerator.generate(at: layout.disk(LabLayout.diskName(vm: id, key: key)), size: diskSize, seed: diskSeed)
                }
            }
            inventory.virtualMachines.append(
                VirtualMachine(
                    id: id, name: name, instanceUUID: UUID().uuidString.lowercased(),
                    folder: number % 3 == 0 ? "group-v3" : "group-v2", host: number % 2 == 0 ? "host-2" : "host-1",
                    cluster: "domain-c1", datastore: "datastore-1", tags: [number % 2 == 0 ? "tag-2" : "tag-1"],
                    poweredOn: true, disks: disks,
                    hardware: VMHardware(
                        cpus: 2 + number % 3 * 2, memoryMiB: 2048 << (number % 3), firmware: number % 2 == 0 ? "efi" : "bios",
                        guestID: "otherLinux64Guest",
                        nics: [
                            VirtualNIC(
                                key: 4000, label: "Network adapter 1", adapterType: "vmxnet3", network: "network-1",
                                macAddress: String(
                                    format: "00:50:56:%02x:%02x:%02x", (number >> 16) & 0x3f, (number >> 8) & 0xff, number & 0xff))
                        ],
                        // Both kinds a restore must keep apart: a guest boots from the one it has drivers for.
                        controllers: [VirtualController(key: 1000, kind: number % 2 == 0 ? .lsilogicSAS : .pvscsi, busNumber: 0)])))
        }
        let store = LabStore(layout: layout)
        try store.withLock(.exclusive) { try store.save(LabState(inventory: inventory)) }
        return try LabAdapter(root: path)
    }
}
