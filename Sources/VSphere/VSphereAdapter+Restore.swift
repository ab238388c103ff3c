import Foundation
import Infrastructure

/// vCenter as a restore target: `CreateVM_Task` in the folder, on the host's resource pool,
/// with the recorded configuration; each disk's flat extent and descriptor uploaded through
/// the datastore's HTTP access (the transport backups read with); `PowerOnVM_Task`,
/// `PowerOffVM_Task`; the datastore's `summary.freeSpace`.
extension VSphereAdapter: VMRestoring {
    public func createVM(_ spec: NewVirtualMachine) async throws -> VirtualMachine {
        try await connect()
        let datastore = try await client.retrieve(
            ManagedObjectReference(type: "Datastore", value: spec.datastore), properties: ["name"])
        guard let datastoreName = datastore.text("name") else {
            throw InfrastructureError(.unknownObject, "\(client.endpoint.url) has no datastore \(spec.datastore)")
        }
        let host = ManagedObjectReference(type: "HostSystem", value: spec.host)
        guard let compute = try await client.retrieve(host, properties: ["parent"]).reference("parent"),
            let pool = try await client.retrieve(compute, properties: ["resourcePool"]).reference("resourcePool")
        else {
            throw InfrastructureError(.unknownObject, "host \(spec.host) has no resource pool to run a VM in")
        }
        let networks = Dictionary(try await client.networks().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let arguments = VMConfigSpec.xml(spec, datastoreName: datastoreName, networks: networks) + pool.xml("pool") + host.xml("host")
        let response: XMLElement
        do {
            response = try await client.call("CreateVM_Task", this: ManagedObjectReference(type: "Folder", value: spec.folder), arguments)
        } catch {
            throw InfrastructureError(error.code, "creating the VM \(spec.name) failed: \(error.message)", fault: error.fault)
        }
        guard let task = ManagedObjectReference(response["returnval"]),
            let created = try await client.waitForTask(task, doing: "creating the VM \(spec.name)")
        else {
            throw InfrastructureError(.io, "vCenter reported the VM \(spec.name) created without naming it")
        }
        guard let machine = try await self.inventory().virtualMachine(created.value) else {
            throw InfrastructureError(.unknownObject, "vCenter created \(created.value) for \(spec.name) but does not list it")
        }
        return machine
    }

    public func openDiskForWriting(vm: String, diskKey: Int) async throws -> any BlockSink {
        try await connect()
        let devices = try await client.retrieve(Self.machine(vm), properties: ["config.hardware.device"]).properties[
            "config.hardware.device"]
        guard let disk = VirtualDiskDevice.disks(in: devices).first(where: { $0.key == diskKey }) else {
            throw InfrastructureError(.unknownObject, "VM \(vm) has no disk \(diskKey)")
        }
        guard let path = DatastorePath(disk.file) else {
            throw InfrastructureError(.diskUnreadable, "disk \(diskKey) of \(vm) is backed by \(disk.file), not a datastore file")
        }
        let datacenter = try await datacenterName(of: vm)
        return DatastoreUploadSink(client: client, datacenter: datacenter, descriptor: path, size: disk.capacity)
    }

    public func powerOn(vm: String) async throws {
        try await power("PowerOnVM_Task", vm: vm, doing: "powering on \(vm)")
    }

    public func powerOff(vm: String) async throws {
        try await power("PowerOffVM_Task", vm: vm, doing: "powering off \(vm)")
    }

    private func power(_ method: String, vm: String, doing what: String) async throws {
        try await connect()
        let response = try await client.call(method, this: Self.machine(vm), "")
        guard let task = ManagedObjectReference(response["returnval"]) else {
            throw InfrastructureError(.io, "vCenter started no task for \(what)")
        }
        _ = try await client.waitForTask(task, doing: what)
    }

    /// Nil: over datastore HTTP access a disk is uploaded whole, so what changed does not
    /// shorten the restore (quick rollback needs a transport that writes ranges, VDDK's).
    public func writtenSince(vm: String, diskKey: Int, changeID: String) async throws -> [DiskArea]? { nil }

    public func freeSpace(datastore: String) async throws -> Int64? {
        try await connect()
        let summary = try await client.retrieve(
            ManagedObjectReference(type: "Datastore", value: datastore), properties: ["summary.freeSpace"])
        return summary.text("summary.freeSpace").flatMap(Int64.init)
    }
}
