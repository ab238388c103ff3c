/// What a virtualization manager holds, with stable ids like vSphere's managed object
/// references (`vm-12`, `host-4`): names can change, ids do not.
public struct Inventory: Codable, Sendable, Equatable {
    public var datacenters: [Datacenter] = []
    public var clusters: [Cluster] = []
    public var hosts: [Host] = []
    public var folders: [Folder] = []
    public var datastores: [Datastore] = []
    public var tags: [Tag] = []
    public var virtualMachines: [VirtualMachine] = []
    /// The networks VMs' NICs connect to (port groups). Absent in labs made before restores
    /// existed, which read as none.
    public var networks: [Network] = []

    public init() {}

    enum CodingKeys: String, CodingKey {
        case datacenters, clusters, hosts, folders, datastores, tags, virtualMachines, networks
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        datacenters = try container.decode([Datacenter].self, forKey: .datacenters)
        clusters = try container.decode([Cluster].self, forKey: .clusters)
        hosts = try container.decode([Host].self, forKey: .hosts)
        folders = try container.decode([Folder].self, forKey: .folders)
        datastores = try container.decode([Datastore].self, forKey: .datastores)
        tags = try container.decode([Tag].self, forKey: .tags)
        virtualMachines = try container.decode([VirtualMachine].self, forKey: .virtualMachines)
        networks = try container.decodeIfPresent([Network].self, forKey: .networks) ?? []
    }

    public struct Network: Codable, Sendable, Equatable {
        public let id: String
        public let name: String
        /// A distributed port group's switch (its UUID): a NIC on it names the switch and the
        /// port group's key (its id). Nil for a standard port group, named by its name alone.
        public var switchUUID: String?

        public init(id: String, name: String, switchUUID: String? = nil) {
            self.id = id
            self.name = name
            self.switchUUID = switchUUID
        }
    }

    public func virtualMachine(_ id: String) -> VirtualMachine? {
        virtualMachines.first { $0.id == id }
    }

    public struct Datacenter: Codable, Sendable, Equatable {
        public let id: String
        public let name: String

        public init(id: String, name: String) {
            self.id = id
            self.name = name
        }
    }

    public struct Cluster: Codable, Sendable, Equatable {
        public let id: String
        public let name: String
        public let datacenter: String

        public init(id: String, name: String, datacenter: String) {
            self.id = id
            self.name = name
            self.datacenter = datacenter
        }
    }

    public struct Host: Codable, Sendable, Equatable {
        public let id: String
        public let name: String
        public let cluster: String

        /// `cluster` is empty for a standalone host.
        public init(id: String, name: String, cluster: String) {
            self.id = id
            self.name = name
            self.cluster = cluster
        }
    }

    public struct Folder: Codable, Sendable, Equatable {
        public let id: String
        public let name: String
        /// The parent folder's id; nil for a datacenter's top VM folder.
        public let parent: String?
        public let datacenter: String

        public init(id: String, name: String, parent: String?, datacenter: String) {
            self.id = id
            self.name = name
            self.parent = parent
            self.datacenter = datacenter
        }
    }

    public struct Datastore: Codable, Sendable, Equatable {
        public let id: String
        public let name: String

        public init(id: String, name: String) {
            self.id = id
            self.name = name
        }
    }

    public struct Tag: Codable, Sendable, Equatable {
        public let id: String
        public let name: String
        public let category: String

        public init(id: String, name: String, category: String) {
            self.id = id
            self.name = name
            self.category = category
        }
    }
}

/// A virtual machine and its disks.
public struct VirtualMachine: Codable, Sendable, Equatable {
    public let id: String
    public var name: String
    public let instanceUUID: String
    public let folder: String
    public let host: String
    public let cluster: String
    public let datastore: String
    public var tags: [String]
    public var poweredOn: Bool
    public let disks: [VirtualDisk]
    /// CPUs, memory, firmware, guest and NICs: what a restore needs to build the VM again.
    /// Nil where the manager did not say (older lab inventories).
    public var hardware: VMHardware?
    /// The VM's notes. A restore marks the VMs it creates here (`tidemark-restore:<id>`), so
    /// a resumed restore adopts its VM instead of creating a second one.
    public var annotation: String?

    public init(
        id: String, name: String, instanceUUID: String, folder: String, host: String, cluster: String, datastore: String,
        tags: [String], poweredOn: Bool, disks: [VirtualDisk], hardware: VMHardware? = nil, annotation: String? = nil
    ) {
        self.id = id
        self.name = name
        self.instanceUUID = instanceUUID
        self.folder = folder
        self.host = host
        self.cluster = cluster
        self.datastore = datastore
        self.tags = tags
        self.poweredOn = poweredOn
        self.disks = disks
        self.hardware = hardware
        self.annotation = annotation
    }
}

/// One virtual disk: its key is stable across snapshots (vSphere's device key, 2000 + n).
public struct VirtualDisk: Codable, Sendable, Equatable {
    public let key: Int
    public let label: String
    public let capacity: Int64
    public let datastore: String
    /// The backing file as the manager names it (`[datastore1] vm-12/vm-12_0.vmdk`).
    public let file: String
    /// Where it is attached: the controller's key (SCSI controller 0 is 1000) and the unit
    /// number on it. Nil where the manager did not say.
    public var controllerKey: Int?
    public var unitNumber: Int?
    /// Thin provisioned (allocated as written) or thick. Nil where unknown.
    public var thinProvisioned: Bool?

    public init(
        key: Int, label: String, capacity: Int64, datastore: String, file: String, controllerKey: Int? = nil, unitNumber: Int? = nil,
        thinProvisioned: Bool? = nil
    ) {
        self.key = key
        self.label = label
        self.capacity = capacity
        self.datastore = datastore
        self.file = file
        self.controllerKey = controllerKey
        self.unitNumber = unitNumber
        self.thinProvisioned = thinProvisioned
    }
}

/// A snapshot of a VM. `changeID` marks the point in the disk's change history it was taken
/// at, to ask later which areas changed since (changed block tracking).
public struct SnapshotInfo: Codable, Sendable, Equatable {
    public let id: String
    public let name: String
    public let description: String
    public let quiesced: Bool
    public let changeID: String

    public init(id: String, name: String, description: String, quiesced: Bool, changeID: String) {
        self.id = id
        self.name = name
        self.description = description
        self.quiesced = quiesced
        self.changeID = changeID
    }
}

/// A byte range of a disk.
public struct DiskArea: Codable, Sendable, Equatable {
    public let offset: Int64
    public let length: Int64

    public init(offset: Int64, length: Int64) {
        self.offset = offset
        self.length = length
    }
}
