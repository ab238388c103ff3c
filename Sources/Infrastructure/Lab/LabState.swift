/// Everything the lab knows: the inventory (`inventory.json`), and in `lab.json` the
/// snapshots, each disk's change history (for changed-block answers), and the faults injected
/// for tests. Format 1 kept the inventory in `lab.json` too, and is still read.
struct LabState: Sendable {
    static let formatVersion = 2
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

/// `lab.json` as stored: all of the state but the inventory, which a snapshot does not change
/// and which is most of a big lab's bytes (format 2); format 1 files hold it here as well.
///
/// Why two files: every snapshot taken or removed rewrites this file, and with the inventory in
/// it a 400-VM lab spent 40% of a Job Manager's CPU encoding VMs that had not changed.
struct LabStateFile: Codable, Sendable {
    var format: Int
    var inventory: Inventory?
    var nextSnapshotNumber: Int
    var snapshots: [String: [LabSnapshot]]
    var disks: [String: LabDiskHistory]
    var faults: LabFaults

    init(_ state: LabState) {
        format = LabState.formatVersion
        inventory = nil
        nextSnapshotNumber = state.nextSnapshotNumber
        snapshots = state.snapshots
        disks = state.disks
        faults = state.faults
    }

    func state(inventory: Inventory) -> LabState {
        LabState(
            format: LabState.formatVersion, inventory: inventory, nextSnapshotNumber: nextSnapshotNumber, snapshots: snapshots,
            disks: disks, faults: faults)
    }
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
    /// VM id → how many of its next snapshots fail before one succeeds (a passing fault, for
    /// retries). Absent in labs made before it existed.
    public var passingSnapshotFailures: [String: Int]?

    public init() {}
}

/// The file names of a lab folder.
struct LabLayout: Sendable {
    let root: String
    var state: String { root + "/lab.json" }
    var inventory: String { root + "/inventory.json" }
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

/// The `.map` file of a snapshot's copy-on-write: one 4-byte little-endian block index per
/// saved block, in the order the blocks were appended to the `.cow` file.
enum CopyOnWriteMap {
    static func entry(_ block: Int) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: block >> ($0 * 8)) }
    }

    /// The block indexes of whole entries, in slot order.
    static func blocks(_ bytes: [UInt8]) -> [Int] {
        stride(from: 0, to: bytes.count - 3, by: 4).map {
            Int(bytes[$0]) | Int(bytes[$0 + 1]) << 8 | Int(bytes[$0 + 2]) << 16 | Int(bytes[$0 + 3]) << 24
        }
    }
}
