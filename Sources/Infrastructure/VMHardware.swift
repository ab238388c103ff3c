/// A VM's virtual hardware apart from its disks: what a backup records in the restore point
/// (as event data, so the catalog knows it without the repository) and what a restore builds
/// the VM from again.
public struct VMHardware: Codable, Sendable, Equatable {
    public var cpus: Int
    public var memoryMiB: Int
    /// `bios` or `efi`.
    public var firmware: String
    /// The guest operating system's id as vSphere names it (`otherLinux64Guest`).
    public var guestID: String
    public var nics: [VirtualNIC]

    public init(cpus: Int, memoryMiB: Int, firmware: String, guestID: String, nics: [VirtualNIC]) {
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.firmware = firmware
        self.guestID = guestID
        self.nics = nics
    }
}

/// A virtual network adapter and the network it connects to.
public struct VirtualNIC: Codable, Sendable, Equatable {
    public let key: Int
    public let label: String
    /// `vmxnet3`, `e1000e`...
    public let adapterType: String
    /// The network's id in the inventory (`network-7`).
    public let network: String
    /// As the manager assigned it; a restored VM gets a new one unless the MAC is kept.
    public let macAddress: String

    public init(key: Int, label: String, adapterType: String, network: String, macAddress: String) {
        self.key = key
        self.label = label
        self.adapterType = adapterType
        self.network = network
        self.macAddress = macAddress
    }
}
