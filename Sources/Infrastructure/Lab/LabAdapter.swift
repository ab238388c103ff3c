import Foundation

/// The embedded infrastructure: VMs whose disks are raw image files in a folder.
///
/// A lab snapshot is a point-in-time view kept by copy-on-write of the lab's own design
/// (ext4 here has no reflink): before `mutate` overwrites a 64 KiB block, it appends the
/// block's current contents to each live snapshot's copy-on-write file. Each write is also
/// recorded with its change epoch, so the lab answers changed-block queries like a
/// hypervisor with changed block tracking.
public struct LabAdapter: InfrastructureAdapter {
    public let root: String
    let store: LabStore

    public init(root: String) throws {
        self.root = URL(fileURLWithPath: root).standardizedFileURL.path
        self.store = LabStore(layout: LabLayout(root: self.root))
        _ = try store.read { $0.format }
    }

    public func inventory() async throws -> Inventory {
        try await store.readOffPool { $0.inventory }
    }

    /// The lab's datastores by id, read now (blocking: a file read); empty if unreadable.
    public var datastoreIDs: [String] {
        (try? store.read { $0.inventory.datastores.map(\.id) }) ?? []
    }

    public func faults() throws -> LabFaults {
        try store.read { $0.faults }
    }

    public func setFaults(_ faults: LabFaults) throws {
        try store.update { $0.faults = faults }
    }

    public func createSnapshot(vm: String, name: String, description: String, quiesce: Bool) async throws -> SnapshotInfo {
        let layout = store.layout
        // A passing failure is spent (and saved) even though no snapshot is made.
        if try await store.readOffPool({ ($0.faults.passingSnapshotFailures?[vm] ?? 0) > 0 }) {
            let more = try await store.updateOffPool { state -> Int in
                let left = max(0, (state.faults.passingSnapshotFailures?[vm] ?? 0) - 1)
                state.faults.passingSnapshotFailures?[vm] = left
                return left
            }
            throw InfrastructureError(
                .snapshotFailed, "the lab refused to snapshot \(vm) (an injected passing failure, \(more) more to come)",
                fault: "SnapshotFault")
        }
        return try await store.updateOffPool { state in
            let machine = try Self.machine(vm, in: state)
            if state.faults.snapshotFailure.contains(vm) {
                throw InfrastructureError(
                    .snapshotFailed, "the lab refused to snapshot \(machine.name) (an injected snapshot failure)",
                    fault: "SnapshotFault")
            }
            if quiesce && state.faults.quiesceFailure.contains(vm) {
                throw InfrastructureError(
                    .quiesceFailed, "the guest of \(machine.name) could not quiesce its applications (an injected failure)",
                    fault: "ApplicationQuiesceFault")
            }
            let id = "snapshot-\(state.nextSnapshotNumber)"
            state.nextSnapshotNumber += 1
            let folder = layout.snapshotFolder(id)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var epoch = 0
            for disk in machine.disks {
                let name = LabLayout.diskName(vm: vm, key: disk.key)
                for path in [layout.copyOnWrite(id, name), layout.copyOnWriteMap(id, name)] {
                    guard FileManager.default.createFile(atPath: path, contents: nil) else {
                        throw InfrastructureError(.io, "cannot create \(path)")
                    }
                }
                var history = state.history(name)
                epoch = history.epoch
                history.epoch += 1
                state.disks[name] = history
            }
            let info = SnapshotInfo(id: id, name: name, description: description, quiesced: quiesce, changeID: String(epoch))
            state.snapshots[vm, default: []].append(LabSnapshot(info: info, epoch: epoch))
            return info
        }
    }

    public func removeSnapshot(vm: String, snapshot: String) async throws {
        let layout = store.layout
        try await store.updateOffPool { state in
            _ = try Self.machine(vm, in: state)
            guard let index = state.snapshots[vm]?.firstIndex(where: { $0.info.id == snapshot }) else {
                throw InfrastructureError(.unknownObject, "VM \(vm) has no snapshot \(snapshot)")
            }
            state.snapshots[vm]?.remove(at: index)
            try? FileManager.default.removeItem(atPath: layout.snapshotFolder(snapshot))
        }
    }

    public func snapshots(of vm: String) async throws -> [SnapshotInfo] {
        try await store.readOffPool { state in
            _ = try Self.machine(vm, in: state)
            return (state.snapshots[vm] ?? []).map(\.info)
        }
    }

    public func openDisk(vm: String, snapshot: String, diskKey: Int) async throws -> any BlockSource {
        let (disk, _) = try await store.readOffPool { state in try Self.snapshotDisk(vm, snapshot, diskKey, in: state) }
        return try LabSnapshotSource(
            store: store, snapshot: snapshot, disk: LabLayout.diskName(vm: vm, key: diskKey), size: disk.capacity)
    }

    public func changedAreas(vm: String, snapshot: String, diskKey: Int, since changeID: String) async throws -> [DiskArea]? {
        guard let since = Int(changeID) else { return nil }
        return try await store.readOffPool { state in
            let (disk, taken) = try Self.snapshotDisk(vm, snapshot, diskKey, in: state)
            guard since < taken.epoch else { return [] }
            var blocks = Set<Int>()
            for write in state.history(LabLayout.diskName(vm: vm, key: diskKey)).writes
            where write.epoch > since && write.epoch <= taken.epoch {
                blocks.formUnion(write.blocks)
            }
            return Self.areas(blocks.sorted(), capacity: disk.capacity)
        }
    }

    static func machine(_ vm: String, in state: LabState) throws -> VirtualMachine {
        guard let machine = state.inventory.virtualMachine(vm) else {
            throw InfrastructureError(.unknownObject, "the lab has no VM \(vm)")
        }
        return machine
    }

    static func snapshotDisk(
        _ vm: String, _ snapshot: String, _ key: Int, in state: LabState
    ) throws
        -> (VirtualDisk, LabSnapshot)
    {
        let machine = try machine(vm, in: state)
        guard let taken = state.snapshots[vm]?.first(where: { $0.info.id == snapshot }) else {
            throw InfrastructureError(.unknownObject, "VM \(machine.name) has no snapshot \(snapshot)")
        }
        guard let disk = machine.disks.first(where: { $0.key == key }) else {
            throw InfrastructureError(.unknownObject, "VM \(machine.name) has no disk \(key)")
        }
        return (disk, taken)
    }

    /// Consecutive blocks merged into areas.
    static func areas(_ blocks: [Int], capacity: Int64) -> [DiskArea] {
        let size = Int64(LabState.blockSize)
        var areas: [DiskArea] = []
        for block in blocks {
            let start = Int64(block) * size
            let length = min(size, capacity - start)
            if let last = areas.last, last.offset + last.length == start {
                areas[areas.count - 1] = DiskArea(offset: last.offset, length: last.length + length)
            } else {
                areas.append(DiskArea(offset: start, length: length))
            }
        }
        return areas
    }
}
