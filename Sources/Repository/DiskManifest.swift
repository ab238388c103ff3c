import Foundation

/// Every block of one disk in one restore point, in order: a chunk id, or nil for zeros.
///
/// Each restore point's manifests name all of its blocks, so a restore point restores on its
/// own whatever happened to the restore points before it; an incremental is one whose
/// manifests reference mostly chunks an earlier backup wrote.
public struct DiskManifest: Codable, Sendable, Equatable {
    public static let formatVersion = 1

    public let formatVersion: Int
    public let restorePoint: String
    public let disk: String
    public let diskSize: Int64
    public let blockSize: BlockSize
    public let blocks: [ChunkID?]
    public let createdAt: Date
    /// The event log's chain head when the manifest was saved, kept outside the database so
    /// that a rewritten log is caught (`tidemark events verify --repository`). Optional:
    /// manifests written before it, and backups made without a database, have none.
    public let logHead: LogHead?

    /// A point of the event log's hash chain: an event's position and its chain hash (hex).
    public struct LogHead: Codable, Sendable, Equatable {
        public let position: Int64
        public let hash: String

        public init(position: Int64, hash: String) {
            self.position = position
            self.hash = hash
        }
    }

    public init(
        restorePoint: String, disk: String, diskSize: Int64, blockSize: BlockSize, blocks: [ChunkID?], createdAt: Date = Date(),
        logHead: LogHead? = nil
    ) throws(RepositoryError) {
        try Self.checkName(restorePoint, what: "restore point id")
        try Self.checkName(disk, what: "disk name")
        self.formatVersion = Self.formatVersion
        self.restorePoint = restorePoint
        self.disk = disk
        self.diskSize = diskSize
        self.blockSize = blockSize
        self.blocks = blocks
        self.createdAt = createdAt
        self.logHead = logHead
        try checkShape()
    }

    /// The number of blocks a disk of `size` bytes has.
    public static func blockCount(diskSize: Int64, blockSize: BlockSize) -> Int {
        Int((diskSize + Int64(blockSize.bytes) - 1) / Int64(blockSize.bytes))
    }

    /// The length of block `index` (the last one may be short).
    public func length(ofBlock index: Int) -> Int {
        let start = Int64(index) * Int64(blockSize.bytes)
        return Int(min(Int64(blockSize.bytes), diskSize - start))
    }

    public func checkShape() throws(RepositoryError) {
        guard formatVersion == Self.formatVersion else {
            throw RepositoryError(
                .damagedManifest,
                "manifest \(restorePoint)/\(disk) has format \(formatVersion); this Tidemark reads format \(Self.formatVersion)")
        }
        // 1 PiB: far above any virtual disk, far below where block arithmetic overflows.
        guard diskSize >= 0, diskSize <= 1 << 50 else {
            throw RepositoryError(.damagedManifest, "manifest \(restorePoint)/\(disk) claims a disk of \(diskSize) bytes")
        }
        guard blocks.count == Self.blockCount(diskSize: diskSize, blockSize: blockSize) else {
            throw RepositoryError(
                .damagedManifest,
                "manifest \(restorePoint)/\(disk) lists \(blocks.count) blocks for a \(diskSize)-byte disk in \(blockSize) blocks (expected \(Self.blockCount(diskSize: diskSize, blockSize: blockSize)))"
            )
        }
    }

    /// Restore point ids and disk names become file names: letters, digits, '.', '_' and '-'.
    public static func checkName(_ name: String, what: String) throws(RepositoryError) {
        let allowed = name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)
        }
        guard allowed, !name.isEmpty, name.count <= 100, !name.hasPrefix(".") else {
            throw RepositoryError(.invalidInput, "\(what) '\(name)' must be 1–100 letters, digits, '.', '_' or '-', not starting with '.'")
        }
    }
}
