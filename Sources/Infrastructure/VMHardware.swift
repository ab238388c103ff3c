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
    /// The disk controllers, by key; nil where they were not read (a lab made before they were
    /// recorded): a restore then gives every disk a paravirtual SCSI controller.
    public var controllers: [VirtualController]?

    public init(
        cpus: Int, memoryMiB: Int, firmware: String, guestID: String, nics: [VirtualNIC], controllers: [VirtualController]? = nil
    ) {
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.firmware = firmware
        self.guestID = guestID
        self.nics = nics
        self.controllers = controllers
    }
}

/// A disk controller, which a guest needs a driver for: restored as the type it was, or the
/// guest may not find its boot disk.
public struct VirtualController: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case pvscsi, lsilogic, lsilogicSAS = "lsilogic-sas", buslogic, nvme, sata, ide
    }

    /// The key disks name as their `controllerKey` (SCSI controller 0 is 1000).
    public let key: Int
    public let kind: Kind
    public let busNumber: Int

    public init(key: Int, kind: Kind, busNumber: Int) {
        self.key = key
        self.kind = kind
        self.busNumber = busNumber
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
