import Foundation
import Infrastructure
import Logging
import Synchronization

/// The Job Manager's view of a vCenter: inventory through the PropertyCollector, snapshots as
/// vCenter tasks, disks read through datastore HTTP access (ranges of the snapshot's base disk).
///
/// Production transports (VDDK over NBD(SSL), hot-add, direct SAN) are what proxy selection
/// models; this adapter reads the same bytes over the datastore's HTTP file access, which every
/// vCenter and the simulator offer.
public final class VSphereAdapter: InfrastructureAdapter {
    public let client: VSphereClient
    private let connection = Mutex<Task<Void, any Error>?>(nil)
    /// Datacenter names of the VMs last enumerated: a datastore file's URL names its datacenter.
    private let datacenterOfMachine = Mutex<[String: String]>([:])

    public init(endpoint: VSphereEndpoint, logger: Logger = Logger(label: "tidemark.vsphere")) {
        client = VSphereClient(endpoint: endpoint, logger: logger)
    }

    /// Connects once; a failed connection is tried again by the next call.
    public func connect() async throws(InfrastructureError) {
        let task = connection.withLock { current in
            if let current { return current }
            let task = Task { [client] in try await client.connect() }
            current = task
            return task
        }
        do {
            try await task.value
        } catch {
            connection.withLock { $0 = nil }
            throw error as? InfrastructureError ?? InfrastructureError(.io, "\(error)")
        }
    }

    public func disconnect() async {
        await client.disconnect()
        connection.withLock { $0 = nil }
    }

    public func identity() async throws -> ManagerIdentity? {
        try await connect()
        let about = try await client.about()
        return ManagerIdentity(
            product: about.fullName, api: "\(about.apiType.isEmpty ? "API" : about.apiType + ", API") \(about.apiVersion)",
            certificateThumbprint: about.certificateThumbprint)
    }

    public func inventory() async throws -> Inventory {
        try await connect()
        let inventory = try await client.inventory()
        let folderCenter = Dictionary(inventory.folders.map { ($0.id, $0.datacenter) }, uniquingKeysWith: { a, _ in a })
        let names = Dictionary(inventory.datacenters.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        datacenterOfMachine.withLock { map in
            for machine in inventory.virtualMachines {
                if let dc = folderCenter[machine.folder], let name = names[dc] { map[machine.id] = name }
            }
        }
        return inventory
    }

    public func createSnapshot(vm: String, name: String, description: String, quiesce: Bool) async throws -> SnapshotInfo {
        try await connect()
        let arguments =
            "<name>\(xmlEscaped(name))</name><description>\(xmlEscaped(description))</description>"
            + "<memory>false</memory><quiesce>\(quiesce)</quiesce>"
        let snapshot: ManagedObjectReference
        do {
            let response = try await client.call("CreateSnapshot_Task", this: Self.machine(vm), arguments)
            guard let task = ManagedObjectReference(response["returnval"]) else {
                throw InfrastructureError(.snapshotFailed, "vCenter started no task for the snapshot of \(vm)")
            }
            guard let result = try await client.waitForTask(task, doing: "snapshot of \(vm)") else {
                throw InfrastructureError(.snapshotFailed, "the snapshot task of \(vm) ended without naming the snapshot")
            }
            snapshot = result
        } catch {
            throw Self.snapshotError(error, vm: vm, doing: "creating the snapshot '\(name)' of")
        }
        guard let info = try await snapshots(of: vm).first(where: { $0.id == snapshot.value }) else {
            throw InfrastructureError(
                .snapshotFailed, "vCenter reported the snapshot \(snapshot.value) of \(vm) made, but the VM does not list it")
        }
        return info
    }

    public func removeSnapshot(vm: String, snapshot: String) async throws {
        try await connect()
        do {
            let response = try await client.call(
                "RemoveSnapshot_Task", this: ManagedObjectReference(type: "VirtualMachineSnapshot", value: snapshot),
                "<removeChildren>false</removeChildren><consolidate>true</consolidate>")
            guard let task = ManagedObjectReference(response["returnval"]) else {
                throw InfrastructureError(.snapshotFailed, "vCenter started no task to remove snapshot \(snapshot) of \(vm)")
            }
            _ = try await client.waitForTask(task, doing: "removal of snapshot \(snapshot) of \(vm)")
        } catch {
            throw Self.snapshotError(error, vm: vm, doing: "removing the snapshot \(snapshot) of")
        }
    }

    public func snapshots(of vm: String) async throws -> [SnapshotInfo] {
        try await connect()
        let object = try await client.retrieve(Self.machine(vm), properties: ["snapshot"])
        var trees: [XMLElement] = []
        var pending = object.properties["snapshot"]?.all("rootSnapshotList") ?? []
        while let tree = pending.popLast() {
            trees.append(tree)
            pending += tree.all("childSnapshotList")
        }
        var result: [(created: String, id: Int, info: SnapshotInfo)] = []
        for tree in trees {
            guard let snapshot = ManagedObjectReference(tree["snapshot"]) else { continue }
            let disks = try await snapshotDisks(snapshot)
            let changeIDs = disks.compactMap { disk in disk.changeID.map { "\(disk.key)=\($0)" } }
            result.append(
                (
                    tree.value("createTime") ?? "", Int(tree.value("id") ?? "") ?? 0,
                    SnapshotInfo(
                        id: snapshot.value, name: tree.value("name") ?? "", description: tree.value("description") ?? "",
                        quiesced: tree.value("quiesced") == "true",
                        changeID: changeIDs.isEmpty ? "" : ChangeIDs.prefix + changeIDs.joined(separator: ";"))
                ))
        }
        return result.sorted { ($0.created, $0.id) < ($1.created, $1.id) }.map(\.info)
    }

    public func openDisk(vm: String, snapshot: String, diskKey: Int) async throws -> any BlockSource {
        try await connect()
        let disks = try await snapshotDisks(ManagedObjectReference(type: "VirtualMachineSnapshot", value: snapshot))
        guard let disk = disks.first(where: { $0.key == diskKey }) else {
            throw InfrastructureError(.unknownObject, "snapshot \(snapshot) of \(vm) has no disk \(diskKey); it has \(disks.map(\.key))")
        }
        guard let path = DatastorePath(disk.file) else {
            throw InfrastructureError(
                .diskUnreadable, "disk \(diskKey) of \(vm) has a backing file '\(disk.file)' that is not a datastore path")
        }
        let datacenter = try await datacenterName(of: vm)
        return try await DatastoreDiskSource.open(
            client: client, datacenter: datacenter, descriptor: path, capacity: disk.capacity,
            identity: "vSphere \(client.endpoint.url) \(vm) snapshot \(snapshot) disk \(diskKey) \(disk.file)")
    }

    /// The areas written since `changeID` (the earlier snapshot's, `cbt:KEY=ID;...`); nil when
    /// that snapshot had no change id for the disk (CBT off then). A change id vCenter refuses
    /// (FileFault or InvalidArgument: CBT was reset or turned off since) is `invalidInput`, so
    /// the caller can read the whole disk and say why, instead of failing the disk.
    public func changedAreas(vm: String, snapshot: String, diskKey: Int, since changeID: String) async throws -> [DiskArea]? {
        guard let since = ChangeIDs(changeID)?.ids[diskKey] else { return nil }
        try await connect()
        let snapshotReference = ManagedObjectReference(type: "VirtualMachineSnapshot", value: snapshot)
        guard let disk = try await snapshotDisks(snapshotReference).first(where: { $0.key == diskKey }) else { return nil }
        do throws(InfrastructureError) {
            return try await client.changedAreas(
                vm: Self.machine(vm), snapshot: snapshot, diskKey: diskKey, capacity: disk.capacity, since: since)
        } catch {
            guard let fault = error.fault, ["FileFault", "InvalidArgument"].contains(fault) else { throw error }
            throw InfrastructureError(
                .invalidInput,
                "vCenter refused the change id '\(since)' of disk \(diskKey) of \(vm) (\(error.message)): changed block tracking was reset or turned off since",
                fault: fault)
        }
    }

    static func machine(_ id: String) -> ManagedObjectReference { ManagedObjectReference(type: "VirtualMachine", value: id) }

    private func snapshotDisks(_ snapshot: ManagedObjectReference) async throws(InfrastructureError) -> [VirtualDiskDevice] {
        VirtualDiskDevice.disks(
            in: try await client.retrieve(snapshot, properties: ["config.hardware.device"]).properties["config.hardware.device"])
    }

    /// The datacenter of a VM, from the last inventory or by walking its parents.
    func datacenterName(of vm: String) async throws(InfrastructureError) -> String {
        if let known = datacenterOfMachine.withLock({ $0[vm] }) { return known }
        var current = Self.machine(vm)
        for _ in 0..<64 {
            let object = try await client.retrieve(current, properties: current.type == "Datacenter" ? ["name"] : ["parent"])
            if current.type == "Datacenter", let name = object.text("name") {
                datacenterOfMachine.withLock { $0[vm] = name }
                return name
            }
            guard let parent = object.reference("parent") else { break }
            current = parent
        }
        throw InfrastructureError(.unknownObject, "\(vm) is in no datacenter")
    }

    /// Snapshot faults as the Job Manager decides on them: a missing VM stays `unknownObject`,
    /// a guest that could not quiesce is `quiesceFailed`, anything vCenter refused is `snapshotFailed`.
    static func snapshotError(_ error: any Error, vm: String, doing action: String) -> InfrastructureError {
        guard let error = error as? InfrastructureError else {
            return InfrastructureError(.snapshotFailed, "\(action) \(vm) failed: \(error)")
        }
        switch error.code {
        case .unknownObject:
            return InfrastructureError(.unknownObject, "\(action) \(vm): vCenter no longer has it (\(error.message))", fault: error.fault)
        case .unreachable, .authenticationFailed, .untrustedCertificate, .quiesceFailed, .snapshotFailed:
            return error
        default:
            if let fault = error.fault, fault.contains("Quiesce") {
                return InfrastructureError(.quiesceFailed, "\(action) \(vm): \(error.message)", fault: fault)
            }
            return InfrastructureError(.snapshotFailed, "\(action) \(vm): \(error.message)", fault: error.fault)
        }
    }
}

/// The per-disk changed block tracking ids of a snapshot, as one `SnapshotInfo.changeID`:
/// `cbt:2000=52 a1 .../12;2001=...`. Empty when CBT is off.
struct ChangeIDs {
    static let prefix = "cbt:"
    let ids: [Int: String]

    init?(_ text: String) {
        guard text.hasPrefix(Self.prefix) else { return nil }
        var ids: [Int: String] = [:]
        for pair in text.dropFirst(Self.prefix.count).split(separator: ";") {
            guard let equals = pair.firstIndex(of: "="), let key = Int(pair[..<equals]) else { continue }
            ids[key] = String(pair[pair.index(after: equals)...])
        }
        self.ids = ids
    }
}
