import Infrastructure

/// The `VirtualMachineConfigSpec` of a VM a restore creates, as SOAP XML in the schema's
/// element order: name, guest, annotation (the restore's mark), files on the datastore, CPUs,
/// memory, the devices (a paravirtual SCSI controller per recorded controller key, the disks
/// created thin or thick on it at their recorded units and keys, the NICs on their mapped
/// networks with a generated or kept MAC), then the firmware.
enum VMConfigSpec {
    static func xml(_ spec: NewVirtualMachine, datastoreName: String, networkNames: [String: String]) -> String {
        var devices: [String] = []
        let controllers = Array(Set(spec.disks.map { $0.controllerKey ?? 1000 })).sorted()
        for (bus, key) in controllers.enumerated() {
            devices.append(
                "<deviceChange><operation>add</operation><device xsi:type=\"ParaVirtualSCSIController\"><key>\(key)</key>"
                    + "<busNumber>\(bus)</busNumber><sharedBus>noSharing</sharedBus></device></deviceChange>")
        }
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
                    + "<key>\(nic.key)</key><backing xsi:type=\"VirtualEthernetCardNetworkBackingInfo\">"
                    + "<deviceName>\(xmlEscaped(networkNames[nic.network] ?? nic.network))</deviceName></backing>"
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
