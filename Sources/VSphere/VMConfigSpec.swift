import Infrastructure

/// The `VirtualMachineConfigSpec` of a VM a restore creates, as SOAP XML in the schema's
/// element order: name, guest, annotation (the restore's mark), files on the datastore, CPUs,
/// memory, the devices (a controller of its recorded type per controller key, the disks
/// created thin or thick on it at their recorded units and keys, the NICs on their mapped
/// networks — standard or distributed port groups — with a generated or kept MAC), then the
/// firmware.
enum VMConfigSpec {
    /// A NIC's backing: a distributed port group by its switch's UUID and its key (its id), a
    /// standard port group by its name.
    static func backing(_ nic: VirtualNIC, on network: Inventory.Network?) -> String {
        if let network, let switchUUID = network.switchUUID {
            return "<backing xsi:type=\"VirtualEthernetCardDistributedVirtualPortBackingInfo\"><port>"
                + "<switchUuid>\(xmlEscaped(switchUUID))</switchUuid><portgroupKey>\(xmlEscaped(network.id))</portgroupKey></port></backing>"
        }
        return "<backing xsi:type=\"VirtualEthernetCardNetworkBackingInfo\">"
            + "<deviceName>\(xmlEscaped(network?.name ?? nic.network))</deviceName></backing>"
    }

    /// One controller per key the disks name, of its recorded type (paravirtual SCSI when none
    /// was recorded). IDE controllers are not added: every new VM has its two (keys 200, 201).
    /// Bus numbers as recorded, unless two controllers of one class (SCSI, SATA, NVMe) would
    /// share one: then the next free.
    static func controllerDevices(_ spec: NewVirtualMachine) -> [String] {
        let recorded = Dictionary((spec.hardware.controllers ?? []).map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        var used: [String: Set<Int>] = [:]
        var devices: [String] = []
        for key in Set(spec.disks.map { $0.controllerKey ?? 1000 }).sorted() {
            let kind = recorded[key]?.kind ?? .pvscsi
            guard kind != .ide else { continue }
            let busClass = VirtualControllerDevice.busClass(kind)
            var bus = recorded[key]?.busNumber ?? 0
            while used[busClass, default: []].contains(bus) { bus += 1 }
            used[busClass, default: []].insert(bus)
            let scsi = busClass == "scsi" ? "<sharedBus>noSharing</sharedBus>" : ""
            devices.append(
                "<deviceChange><operation>add</operation><device xsi:type=\"\(VirtualControllerDevice.deviceType(kind))\"><key>\(key)</key>"
                    + "<busNumber>\(bus)</busNumber>\(scsi)</device></deviceChange>")
        }
        return devices
    }

    static func xml(_ spec: NewVirtualMachine, datastoreName: String, networks: [String: Inventory.Network]) -> String {
        var devices: [String] = []
        devices.append(contentsOf: controllerDevices(spec))
        for (index, disk) in spec.disks.enumerated() {
            let thin = disk.thinProvisioned ?? true
            devices.append(
                "<deviceChange><operation>add</operation><fileOperation>create</fileOperation>"
                    + "<device xsi:type=\"VirtualDisk\"><key>\(disk.key)</key>"
                    + "<backing xsi:type=\"VirtualDiskFlatVer2BackingInfo\"><fileName>[\(xmlEscaped(datastoreName))]</fileName>"
                    + "<diskMode>persistent</diskMode><thinProvisioned>\(thin)</thinProvisioned></backing>"
                    + "<controllerKey>\(disk.controllerKey ?? 1000)</controllerKey>"
                    + "<unitNumber>\(disk.unitNumber ?? (index < 7 ? index : index + 1))</unitNumber>"
                    + "<capacityInKB>\((disk.capacity + 1023) / 1024)</capacityInKB><capacityInBytes>\(disk.capacity)</capacityInBytes>"
                    + "</device></deviceChange>")
        }
        for nic in spec.hardware.nics {
            let address =
                nic.macAddress.isEmpty
                ? "<addressType>generated</addressType>"
                : "<addressType>manual</addressType><macAddress>\(xmlEscaped(nic.macAddress))</macAddress>"
            devices.append(
                "<deviceChange><operation>add</operation><device xsi:type=\"\(VirtualNICDevice.deviceType(nic.adapterType))\">"
                    + "<key>\(nic.key)</key>" + backing(nic, on: networks[nic.network])
                    + "<connectable><startConnected>true</startConnected><allowGuestControl>true</allowGuestControl><connected>false</connected></connectable>"
                    + address + "</device></deviceChange>")
        }
        return "<config>"
            + "<name>\(xmlEscaped(spec.name))</name>"
            + (spec.instanceUUID.map { "<instanceUuid>\(xmlEscaped($0))</instanceUuid>" } ?? "")
            + "<guestId>\(xmlEscaped(spec.hardware.guestID))</guestId>"
            + "<annotation>\(xmlEscaped(spec.annotation))</annotation>"
            + "<files><vmPathName>[\(xmlEscaped(datastoreName))]</vmPathName></files>"
            + "<numCPUs>\(spec.hardware.cpus)</numCPUs><memoryMB>\(spec.hardware.memoryMiB)</memoryMB>"
            + devices.joined()
            + "<firmware>\(xmlEscaped(spec.hardware.firmware))</firmware>"
            + "</config>"
    }
}
