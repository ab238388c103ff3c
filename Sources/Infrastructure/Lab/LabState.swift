/// Everything the lab knows, kept in `lab.json`: the inventory, the snapshots, each disk's
/// change history (for changed-block answers), and the faults injected for tests.
struct LabState: Codable, Sendable {
    static let formatVersion = 1
    /// The unit of copy-on-write and change tracking.
    static let blockSize = 64 << 10

    var format = LabState.formatVersion
    var inventory: Inventory
    var nextSnapshotNumber = 1
    /// Per VM id, oldest first.
    var snapshots: [String: [LabSnapshot]] = [:]
    /// Per disk name (`<vm>-<key>`).
    var disks: [String: LabDiskHistory] = [:]
    var faults = LabFaults()

    func history(_ disk: String) -> LabDiskHistory { disks[disk] ?? LabDiskHistory() }
}

struct LabSnapshot: Codable, Sendable {
    let info: SnapshotInfo
    /// The change epoch it was taken at (its change id).
    let epoch: Int
}

/// A disk's writes, by change epoch. The epoch is the number of snapshots taken of the VM
/// before the write: a write after the snapshot with change id `a` and before the one with
/// `b` carries an epoch in `a+1...b`.
struct LabDiskHistory: Codable, Sendable {
    var epoch = 0
    var writes: [LabWrite] = []
}

struct LabWrite: Codable, Sendable {
    let epoch: Int
    /// Lab blocks written, sorted.
    let blocks: [Int]
}

/// Failures the lab produces on purpose, so tests can see a Job Manager deal with them.
public struct LabFaults: Codable, Sendable, Equatable {
    /// VM ids whose next snapshots fail.
    public var snapshotFailure: Set<String> = []
    /// VM ids whose quiesced snapshots fail to quiesce.
    public var quiesceFailure: Set<String> = []

    public init() {}
}

/// The file names of a lab folder.
struct LabLayout: Sendable {
    let root: String
    var state: String { root + "/lab.json" }
    var lock: String { root + "/lab.lock" }
    var disksFolder: String { root + "/disks" }
    var snapshotsFolder: String { root + "/snapshots" }

    func disk(_ name: String) -> String { "\(disksFolder)/\(name).img" }
    func snapshotFolder(_ id: String) -> String { "\(snapshotsFolder)/\(id)" }
    /// Original contents of the blocks overwritten since the snapshot, one after another.
    func copyOnWrite(_ snapshot: String, _ disk: String) -> String { "\(snapshotFolder(snapshot))/\(disk).cow" }
    /// The block index of each saved block, 4 bytes little-endian each, in the same order.
    func copyOnWriteMap(_ snapshot: String, _ disk: String) -> String { "\(snapshotFolder(snapshot))/\(disk).map" }

    static func diskName(vm: String, key: Int) -> String { "\(vm)-\(key)" }
}
