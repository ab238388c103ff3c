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
                datastore: ManagedObjectReference(backing["datastore"]), changeID: backing.value("changeId"))
        }
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
