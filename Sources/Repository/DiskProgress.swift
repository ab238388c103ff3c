/// How far a disk's transfer got: the blocks done so far, in order from the start.
///
/// Saved at every checkpoint; a resumed transfer of the same snapshot continues after
/// `blocks`, so the finished restore point is the one an uninterrupted transfer makes.
public struct DiskProgress: Codable, Sendable, Equatable {
    public let restorePoint: String
    public let disk: String
    public let diskSize: Int64
    public let blockSize: BlockSize
    /// What was read: a resume must read the same snapshot of the same disk.
    public let source: String
    /// The first `blocks.count` blocks of the disk.
    public var blocks: [ChunkID?]
    /// Bytes read from the source so far.
    public var bytesRead: Int64
    /// Bytes written to the repository so far (after dedup and compression).
    public var bytesTransferred: Int64
    public var newChunks: Int

    /// The offset up to which the disk is done.
    public var offset: Int64 { min(diskSize, Int64(blocks.count) * Int64(blockSize.bytes)) }

    public init(restorePoint: String, disk: String, diskSize: Int64, blockSize: BlockSize, source: String) {
        self.restorePoint = restorePoint
        self.disk = disk
        self.diskSize = diskSize
        self.blockSize = blockSize
        self.source = source
        self.blocks = []
        self.bytesRead = 0
        self.bytesTransferred = 0
        self.newChunks = 0
    }
}
