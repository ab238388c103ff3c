import Infrastructure

extension VSphereClient {
    /// The VM properties the Job Manager needs, in one paged retrieval.
    static let machineProperties = [
        "name", "parent", "runtime.host", "runtime.powerState", "config.instanceUuid", "config.template", "config.hardware.device",
        "datastore",
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
        ])
        let machines = try await retrieveAll(types: [("VirtualMachine", Self.machineProperties)])
        let tags = try await tagsAndAssignments()
        return Self.inventory(containers: containers, machines: machines, tags: tags)
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
            default:
                continue
            }
        }
        inventory.tags = tags.tags
        let clusterOfHost = Dictionary(inventory.hosts.map { ($0.id, $0.cluster) }, uniquingKeysWith: { a, _ in a })
        inventory.virtualMachines = machines.compactMap { object -> VirtualMachine? in
            guard object.text("config.template") != "true", let folder = object.reference("parent"), folder.type == "Folder" else {
                return nil
            }
            let host = object.reference("runtime.host")?.value ?? ""
            let disks = VirtualDiskDevice.disks(in: object.properties["config.hardware.device"]).map {
                VirtualDisk(key: $0.key, label: $0.label, capacity: $0.capacity, datastore: $0.datastore?.value ?? "", file: $0.file)
            }
            let datastore = object.properties["datastore"]?.children.first?.text ?? disks.first?.datastore ?? ""
            return VirtualMachine(
                id: object.object.value, name: object.text("name") ?? object.object.value,
                instanceUUID: object.text("config.instanceUuid") ?? "", folder: folder.value, host: host,
                cluster: clusterOfHost[host] ?? "", datastore: datastore, tags: tags.byObject[object.object.value] ?? [],
                poweredOn: object.text("runtime.powerState") == "poweredOn", disks: disks)
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
