extension SessionEvent {
    /// A VM's configuration at backup time, recorded in its restore point
    /// (`RestorePointCreated.configuration`) so that the catalog, not the repository, knows
    /// what to build when the VM is restored: hardware, disks with controller, unit, size and
    /// provisioning, NICs with their networks, and where the VM was. Absent in restore points
    /// recorded before restores existed (a restore then needs the VM's disks only).
    public struct VMConfiguration: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case cpus, memoryMiB = "memory_mib", firmware, guestId = "guest_id", instanceUuid = "instance_uuid", disks, nics, controllers
            case datacenterId = "datacenter_id", folderId = "folder_id", folderPath = "folder_path", hostId = "host_id"
            case clusterId = "cluster_id", datastoreId = "datastore_id", datastoreName = "datastore_name"
        }

        public var cpus: Int?
        public var memoryMiB: Int?
        public var firmware: String?
        public var guestId: String?
        public var instanceUuid: String?
        public var disks: [Disk]
        public var nics: [NIC]
        /// Disk controllers (absent in points recorded before they were read).
        public var controllers: [Controller]?
        public var datacenterId: String?
        public var folderId: String?
        /// `/Lab/vm/Production`: the original location, readable without the inventory.
        public var folderPath: String?
        public var hostId: String?
        public var clusterId: String?
        public var datastoreId: String?
        public var datastoreName: String?

        public init(
            cpus: Int?, memoryMiB: Int?, firmware: String?, guestId: String?, instanceUuid: String?, disks: [Disk], nics: [NIC],
            datacenterId: String?, folderId: String?, folderPath: String?, hostId: String?, clusterId: String?, datastoreId: String?,
            datastoreName: String?, controllers: [Controller]? = nil
        ) {
            self.controllers = controllers
            self.cpus = cpus
            self.memoryMiB = memoryMiB
            self.firmware = firmware
            self.guestId = guestId
            self.instanceUuid = instanceUuid
            self.disks = disks
            self.nics = nics
            self.datacenterId = datacenterId
            self.folderId = folderId
            self.folderPath = folderPath
            self.hostId = hostId
            self.clusterId = clusterId
            self.datastoreId = datastoreId
            self.datastoreName = datastoreName
        }

        public struct Disk: Codable, Sendable, Equatable {
            enum CodingKeys: String, CodingKey {
                case key, label, sizeBytes = "size_bytes", controllerKey = "controller_key", unitNumber = "unit_number"
                case thinProvisioned = "thin_provisioned", datastoreId = "datastore_id", file
            }

            public var key: Int
            public var label: String?
            public var sizeBytes: Int64
            public var controllerKey: Int?
            public var unitNumber: Int?
            public var thinProvisioned: Bool?
            public var datastoreId: String?
            public var file: String?

            public init(
                key: Int, label: String?, sizeBytes: Int64, controllerKey: Int?, unitNumber: Int?, thinProvisioned: Bool?,
                datastoreId: String?, file: String?
            ) {
                self.key = key
                self.label = label
                self.sizeBytes = sizeBytes
                self.controllerKey = controllerKey
                self.unitNumber = unitNumber
                self.thinProvisioned = thinProvisioned
                self.datastoreId = datastoreId
                self.file = file
            }
        }

        /// A disk controller: `key` as the disks' `controller_key`, `type` (pvscsi, lsilogic,
        /// lsilogic-sas, buslogic, nvme, sata, ide), `bus_number`.
        public struct Controller: Codable, Sendable, Equatable {
            enum CodingKeys: String, CodingKey {
                case key, type, busNumber = "bus_number"
            }

            public var key: Int
            public var type: String
            public var busNumber: Int?

            public init(key: Int, type: String, busNumber: Int?) {
                self.key = key
                self.type = type
                self.busNumber = busNumber
            }
        }

        public struct NIC: Codable, Sendable, Equatable {
            enum CodingKeys: String, CodingKey {
                case key, label, adapterType = "adapter_type", networkId = "network_id", networkName = "network_name"
                case macAddress = "mac_address"
            }

            public var key: Int
            public var label: String?
            public var adapterType: String?
            public var networkId: String?
            public var networkName: String?
            public var macAddress: String?

            public init(key: Int, label: String?, adapterType: String?, networkId: String?, networkName: String?, macAddress: String?) {
                self.key = key
                self.label = label
                self.adapterType = adapterType
                self.networkId = networkId
                self.networkName = networkName
                self.macAddress = macAddress
            }
        }
    }
}
