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

    public init() {}

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

    public init(
        id: String, name: String, instanceUUID: String, folder: String, host: String, cluster: String, datastore: String,
        tags: [String], poweredOn: Bool, disks: [VirtualDisk]
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

    public init(key: Int, label: String, capacity: Int64, datastore: String, file: String) {
        self.key = key
        self.label = label
        self.capacity = capacity
        self.datastore = datastore
        self.file = file
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
