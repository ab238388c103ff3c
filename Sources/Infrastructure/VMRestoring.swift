/// A virtualization manager a restore can write into: create a VM from a recorded
/// configuration, write its disks, switch it on and off.
///
/// Apart from `InfrastructureAdapter` because backing up needs none of it; the restore
/// workflow asks an opened adapter whether it is one (`as? any VMRestoring`).
public protocol VMRestoring: InfrastructureAdapter {
    /// Creates a VM, powered off, with empty disks of the sizes given. `spec.annotation`
    /// marks it as the restore's own: a resumed restore finds it by that mark (`inventory`)
    /// instead of creating a second one.
    func createVM(_ spec: NewVirtualMachine) async throws -> VirtualMachine

    /// A disk of a VM, opened for writing at any offset.
    func openDiskForWriting(vm: String, diskKey: Int) async throws -> any BlockSink

    func powerOn(vm: String) async throws
    func powerOff(vm: String) async throws

    /// Bytes free on a datastore, for the check before anything is created; nil when the
    /// manager does not say.
    func freeSpace(datastore: String) async throws -> Int64?

    /// The areas of a VM's disk written since the point whose change id is given, up to now
    /// (changed block tracking): what a rollback to that point must rewrite. Nil when the
    /// manager cannot tell (every block is compared then).
    func writtenSince(vm: String, diskKey: Int, changeID: String) async throws -> [DiskArea]?
}

/// What a restore asks a manager to create: the recorded configuration mapped to the target.
public struct NewVirtualMachine: Sendable, Equatable {
    public var name: String
    /// Ids in the target's inventory.
    public var folder: String
    public var host: String
    public var cluster: String
    public var datastore: String
    public var hardware: VMHardware
    /// Keys, sizes, controllers and units as recorded; the files are the manager's choice.
    public var disks: [VirtualDisk]
    /// Nil: the manager makes a new one (Veeam's default for a restore to a new location).
    public var instanceUUID: String?
    public var annotation: String

    public init(
        name: String, folder: String, host: String, cluster: String, datastore: String, hardware: VMHardware, disks: [VirtualDisk],
        instanceUUID: String?, annotation: String
    ) {
        self.name = name
        self.folder = folder
        self.host = host
        self.cluster = cluster
        self.datastore = datastore
        self.hardware = hardware
        self.disks = disks
        self.instanceUUID = instanceUUID
        self.annotation = annotation
    }
}

/// Where a restore writes a disk's bytes: a file, a lab disk, a datastore upload.
public protocol BlockSink: Sendable {
    var size: Int64 { get }
    /// Whether what was flushed survives a crash, so a resumed restore continues from its last
    /// checkpoint; false for an upload, which a resumed restore sends again from the start.
    var resumable: Bool { get }
    /// Writes `bytes` at `offset`. A restore writes in increasing offsets (an upload is a
    /// stream), starting again from its last checkpoint after a crash.
    func write(at offset: Int64, _ bytes: [UInt8]) async throws
    /// The range holds zeros: nothing to do for a new sparse disk, written (or punched) for a
    /// disk that held data before.
    func zeros(at offset: Int64, length: Int64) async throws
    /// Reads what the target holds now (quick rollback compares before writing); nil when the
    /// target cannot be read back.
    func read(at offset: Int64, count: Int) async throws -> [UInt8]?
    /// Everything written so far is durable: called before a checkpoint is recorded.
    func flush() async throws
    /// The last call: the disk is whole (a file is moved into place, an upload completed).
    func finish() async throws
    /// Told before writes land in `areas`: a target that tracks changes for incremental
    /// backups (the lab's change history, as a hypervisor's would) records them now, so a
    /// restore that dies before its next flush cannot leave writes the next backup misses.
    /// Recording more than is then written is harmless; less is not.
    func willWrite(_ areas: [DiskArea]) async throws
}

extension BlockSink {
    public var resumable: Bool { true }
    public func willWrite(_ areas: [DiskArea]) async throws {}
}

/// A sink whose writes are file writes that may land in any order, made on the calling
/// thread: a restore then writes each block on the blocking thread that loaded it, all cores
/// at once, instead of handing every block back to be written in order. Only called from
/// threads outside Swift's cooperative pool.
public protocol DirectBlockSink: BlockSink {
    func writeBlocking(at offset: Int64, _ bytes: UnsafeRawBufferPointer) throws
    func zerosBlocking(at offset: Int64, length: Int64) throws
    /// Fills `buffer` with what the target holds at `offset` (a rollback compares before it
    /// writes); false when the target cannot be read back (then everything is written).
    func readBlocking(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Bool
}

extension DirectBlockSink {
    public func readBlocking(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Bool { false }
}
