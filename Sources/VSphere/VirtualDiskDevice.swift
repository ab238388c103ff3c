import Infrastructure

/// A VM's virtual disks out of `config.hardware.device` (of the VM or of one of its snapshots).
struct VirtualDiskDevice: Sendable {
    let key: Int
    let label: String
    let capacity: Int64
    let file: String
    let datastore: ManagedObjectReference?
    /// The changed block tracking id, when CBT is on for the disk.
    let changeID: String?
    var controllerKey: Int? = nil
    var unitNumber: Int? = nil
    var thinProvisioned: Bool? = nil

    static func disks(in devices: XMLElement?) -> [VirtualDiskDevice] {
        guard let devices else { return [] }
        return devices.children.compactMap { device -> VirtualDiskDevice? in
            guard device.type == "VirtualDisk", let key = device.value("key").flatMap(Int.init),
                let backing = device["backing"], let file = backing.value("fileName")
            else { return nil }
            let capacity =
                device.value("capacityInBytes").flatMap(Int64.init)
                ?? (device.value("capacityInKB").flatMap(Int64.init) ?? 0) * 1024
            return VirtualDiskDevice(
                key: key, label: device.value("deviceInfo", "label") ?? "disk \(key)", capacity: capacity, file: file,
                datastore: ManagedObjectReference(backing["datastore"]), changeID: backing.value("changeId"),
                controllerKey: device.value("controllerKey").flatMap(Int.init), unitNumber: device.value("unitNumber").flatMap(Int.init),
                thinProvisioned: backing.value("thinProvisioned").map { $0 == "true" })
        }
    }
}

/// A VM's disk controllers out of `config.hardware.device`, by their device types.
enum VirtualControllerDevice {
    static let kinds: [String: VirtualController.Kind] = [
        "ParaVirtualSCSIController": .pvscsi, "VirtualLsiLogicController": .lsilogic, "VirtualLsiLogicSASController": .lsilogicSAS,
        "VirtualBusLogicController": .buslogic, "VirtualNVMEController": .nvme, "VirtualAHCIController": .sata,
        "VirtualIDEController": .ide,
    ]

    static func controllers(in devices: XMLElement?) -> [VirtualController] {
        guard let devices else { return [] }
        return devices.children.compactMap { device in
            guard let type = device.type, let kind = kinds[type], let key = device.value("key").flatMap(Int.init) else { return nil }
            return VirtualController(key: key, kind: kind, busNumber: device.value("busNumber").flatMap(Int.init) ?? 0)
        }
    }

    /// `pvscsi` → `ParaVirtualSCSIController`, for a device to create.
    static func deviceType(_ kind: VirtualController.Kind) -> String {
        kinds.first { $0.value == kind }?.key ?? "ParaVirtualSCSIController"
    }

    /// Controllers whose bus numbers are counted together (SCSI buses 0–3 whatever the type).
    static func busClass(_ kind: VirtualController.Kind) -> String {
        switch kind {
        case .pvscsi, .lsilogic, .lsilogicSAS, .buslogic: "scsi"
        case .nvme: "nvme"
        case .sata: "sata"
        case .ide: "ide"
        }
    }
}

/// A VM's network adapters out of `config.hardware.device`: every device whose backing names
/// a network (`VirtualVmxnet3`, `VirtualE1000e`...), with its MAC address.
struct VirtualNICDevice: Sendable {
    let key: Int
    let label: String
    /// `vmxnet3`, `e1000e`: the device type without `Virtual`, lower-cased.
    let adapterType: String
    /// The network's id, or its name when the backing gives only that.
    let network: String
    let networkName: String?
    let macAddress: String

    static func nics(in devices: XMLElement?) -> [VirtualNICDevice] {
        guard let devices else { return [] }
        return devices.children.compactMap { device -> VirtualNICDevice? in
            guard let type = device.type, let key = device.value("key").flatMap(Int.init), let backing = device["backing"],
                backing.type?.hasPrefix("VirtualEthernetCard") == true
            else { return nil }
            let name = backing.value("deviceName")
            let network = ManagedObjectReference(backing["network"])?.value ?? backing.value("port", "portgroupKey") ?? name ?? ""
            return VirtualNICDevice(
                key: key, label: device.value("deviceInfo", "label") ?? "Network adapter", adapterType: Self.adapterType(type),
                network: network, networkName: name, macAddress: device.value("macAddress") ?? "")
        }
    }

    /// `VirtualVmxnet3` → `vmxnet3`.
    static func adapterType(_ type: String) -> String {
        (type.hasPrefix("Virtual") ? String(type.dropFirst("Virtual".count)) : type).lowercased()
    }

    /// `vmxnet3` → `VirtualVmxnet3`, for a device to create; unknown names become vmxnet3.
    static func deviceType(_ adapter: String) -> String {
        let known = [
            "vmxnet3": "VirtualVmxnet3", "vmxnet2": "VirtualVmxnet2", "vmxnet": "VirtualVmxnet", "e1000": "VirtualE1000",
            "e1000e": "VirtualE1000e", "pcnet32": "VirtualPCNet32",
        ]
        return known[adapter.lowercased()] ?? "VirtualVmxnet3"
    }
}

/// `[datastore1] folder/vm.vmdk` split into the datastore's name and the path inside it.
public struct DatastorePath: Sendable, Equatable {
    public let datastore: String
    public let path: String

    public init?(_ text: String) {
        guard text.hasPrefix("["), let close = text.firstIndex(of: "]") else { return nil }
        datastore = String(text[text.index(after: text.startIndex)..<close])
        path = text[text.index(after: close)...].trimmingCharacters(in: .whitespaces)
        guard !datastore.isEmpty, !path.isEmpty else { return nil }
    }
}
