import Infrastructure

extension VSphereClient {
    /// The VM properties the Job Manager needs, in one paged retrieval.
    static let machineProperties = [
        "name", "parent", "runtime.host", "runtime.powerState", "config.instanceUuid", "config.template", "config.hardware.device",
        "datastore", "config.hardware.numCPU", "config.hardware.memoryMB", "config.firmware", "config.guestId", "config.annotation",
    ]

    /// Reads the whole inventory: containers and hosts in one retrieval, VMs in pages, tags from
    /// the vSphere Automation API when the server offers it.
    public func inventory() async throws(InfrastructureError) -> Inventory {
        let containers = try await retrieveAll(types: [
            ("Datacenter", ["name", "parent", "vmFolder"]),
            ("Folder", ["name", "parent", "childType"]),
            ("ComputeResource", ["name", "parent"]),
            ("HostSystem", ["name", "parent"]),
            ("Datastore", ["name"]),
            ("Network", ["name"]),
            ("DistributedVirtualSwitch", ["uuid", "portgroup"]),
        ])
        let machines = try await retrieveAll(types: [("VirtualMachine", Self.machineProperties)])
        let tags = try await tagsAndAssignments()
        return Self.inventory(containers: containers, machines: machines, tags: tags)
    }

    /// The networks alone, distributed port groups with their switches: what a new VM's NICs
    /// are created on, without reading every VM.
    func networks() async throws(InfrastructureError) -> [Inventory.Network] {
        let containers = try await retrieveAll(types: [("Network", ["name"]), ("DistributedVirtualSwitch", ["uuid", "portgroup"])])
        return Self.inventory(containers: containers, machines: [], tags: TagAssignments()).networks
    }

    static func inventory(containers: [ObjectContent], machines: [ObjectContent], tags: TagAssignments) -> Inventory {
        var parents: [ManagedObjectReference: ManagedObjectReference] = [:]
        for object in containers { if let parent = object.reference("parent") { parents[object.object] = parent } }
        let datacenters = containers.filter { $0.object.type == "Datacenter" }
        let topFolders = Dictionary(
            datacenters.compactMap { dc in dc.reference("vmFolder").map { ($0, dc.object.value) } }, uniquingKeysWith: { a, _ in a })
        /// The datacenter whose VM folder tree holds `folder`, if any.
        func datacenter(ofFolder folder: ManagedObjectReference) -> String? {
            ancestor(of: folder, parents: parents) { topFolders[$0] != nil }.flatMap { topFolders[$0] }
        }
        var inventory = Inventory()
        /// Distributed port groups' switches, by port group id.
        var switchOfPortgroup: [String: String] = [:]
        inventory.datacenters = datacenters.map { Inventory.Datacenter(id: $0.object.value, name: $0.text("name") ?? $0.object.value) }
        for object in containers {
            let id = object.object.value
            let name = object.text("name") ?? id
            switch object.object.type {
            case "Folder":
                guard let dc = datacenter(ofFolder: object.object) else { continue }
                let isTop = topFolders[object.object] != nil
                inventory.folders.append(
                    Inventory.Folder(id: id, name: name, parent: isTop ? nil : parents[object.object]?.value, datacenter: dc))
            case "ClusterComputeResource":
                let dc = ancestor(of: object.object, parents: parents) { $0.type == "Datacenter" }?.value ?? ""
                inventory.clusters.append(Inventory.Cluster(id: id, name: name, datacenter: dc))
            case "HostSystem":
                let parent = parents[object.object]
                inventory.hosts.append(
                    Inventory.Host(id: id, name: name, cluster: parent?.type == "ClusterComputeResource" ? parent!.value : ""))
            case "Datastore":
                inventory.datastores.append(Inventory.Datastore(id: id, name: name))
            case "Network", "DistributedVirtualPortgroup", "OpaqueNetwork":
                inventory.networks.append(Inventory.Network(id: id, name: name))
            case "VmwareDistributedVirtualSwitch", "DistributedVirtualSwitch":
                guard let uuid = object.text("uuid") else { continue }
                for portgroup in object.properties["portgroup"]?.children ?? [] { switchOfPortgroup[portgroup.text] = uuid }
            default:
                continue
            }
        }
        for index in inventory.networks.indices {
            inventory.networks[index].switchUUID = switchOfPortgroup[inventory.networks[index].id]
        }
        inventory.tags = tags.tags
        let clusterOfHost = Dictionary(inventory.hosts.map { ($0.id, $0.cluster) }, uniquingKeysWith: { a, _ in a })
        // A NIC's backing names its network by reference, or (standard port groups) by name.
        var networkIDs: [String: String] = [:]
        for network in inventory.networks {
            networkIDs[network.id] = network.id
            if networkIDs[network.name] == nil { networkIDs[network.name] = network.id }
        }
        inventory.virtualMachines = machines.compactMap { object -> VirtualMachine? in
            guard object.text("config.template") != "true", let folder = object.reference("parent"), folder.type == "Folder" else {
                return nil
            }
            let host = object.reference("runtime.host")?.value ?? ""
            let devices = object.properties["config.hardware.device"]
            let disks = VirtualDiskDevice.disks(in: devices).map {
                VirtualDisk(
                    key: $0.key, label: $0.label, capacity: $0.capacity, datastore: $0.datastore?.value ?? "", file: $0.file,
                    controllerKey: $0.controllerKey, unitNumber: $0.unitNumber, thinProvisioned: $0.thinProvisioned)
            }
            let nics = VirtualNICDevice.nics(in: devices).map { nic in
                VirtualNIC(
                    key: nic.key, label: nic.label, adapterType: nic.adapterType,
                    network: networkIDs[nic.network] ?? nic.networkName.flatMap { networkIDs[$0] } ?? nic.network,
                    macAddress: nic.macAddress)
            }
            let hardware = object.text("config.hardware.numCPU").flatMap(Int.init).map { cpus in
                VMHardware(
                    cpus: cpus, memoryMiB: object.text("config.hardware.memoryMB").flatMap(Int.init) ?? 0,
                    firmware: object.text("config.firmware") ?? "bios", guestID: object.text("config.guestId") ?? "otherGuest64",
                    nics: nics,
                    controllers: VirtualControllerDevice.controllers(in: devices))
            }
            let datastore = object.properties["datastore"]?.children.first?.text ?? disks.first?.datastore ?? ""
            return VirtualMachine(
                id: object.object.value, name: object.text("name") ?? object.object.value,
                instanceUUID: object.text("config.instanceUuid") ?? "", folder: folder.value, host: host,
                cluster: clusterOfHost[host] ?? "", datastore: datastore, tags: tags.byObject[object.object.value] ?? [],
                poweredOn: object.text("runtime.powerState") == "poweredOn", disks: disks, hardware: hardware,
                annotation: object.text("config.annotation"))
        }
        return inventory
    }
}

/// The first of `object` and its ancestors that `matches` (the chain is cut at 256 steps).
private func ancestor(
    of object: ManagedObjectReference, parents: [ManagedObjectReference: ManagedObjectReference],
    where matches: (ManagedObjectReference) -> Bool
) -> ManagedObjectReference? {
    var current: ManagedObjectReference? = object
    for _ in 0..<256 {
        guard let id = current else { return nil }
        if matches(id) { return id }
        current = parents[id]
    }
    return nil
}
