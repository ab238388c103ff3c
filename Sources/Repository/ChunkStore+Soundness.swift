import Foundation

/// Whether an existing chunk file can be deduplicated against without reading it whole.
///
/// Deduplication trusts a chunk by its name. Re-hashing every existing chunk on every
/// backup would read (and decompress) as much as a full backup writes, so a backup checks
/// only what costs one `open`, one `fstat` and a 20-byte read: that the file is there, is
/// not quarantined, has a chunk header for a block of this length, and is as long as its
/// header says. That catches a truncated, emptied, zero-filled or torn chunk, and any chunk
/// a health check found corrupt (it moves those to `quarantine/`). Bits flipped inside the
/// payload are the health checks' to find (`RepositoryHealth`); once found, the next
/// backup that meets the block stores it again.
public enum ChunkSoundness: Sendable, Equatable {
    case sound
    case missing
    /// The file is there but cannot be trusted (the reason says why); write the block again.
    case unsound(String)
}

extension ChunkStore {
    /// `<repository>/quarantine`: chunks a health check or `verify --quarantine` set aside.
    public var quarantineDirectory: String { (directory as NSString).deletingLastPathComponent + "/quarantine" }

    public func quarantinePath(of id: ChunkID) -> String { "\(quarantineDirectory)/\(id.hex)" }

    /// The cheap check deduplication relies on (see `ChunkSoundness`). `blockLength`: the
    /// length of the block about to reference it, when known.
    public func soundness(of id: ChunkID, blockLength: Int? = nil) -> ChunkSoundness {
        let descriptor = open(path(of: id), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return errno == ENOENT ? .missing : .unsound("it cannot be opened: \(errnoText())") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return .unsound("it cannot be examined: \(errnoText())") }
        var header = [UInt8](repeating: 0, count: ChunkFile.headerSize)
        let read = header.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress!, ChunkFile.headerSize, 0) }
        guard read == ChunkFile.headerSize else { return .unsound("it is shorter than a chunk header") }
        guard let fields = ChunkFile.header(header) else { return .unsound("it does not start with a chunk header") }
        guard Int64(ChunkFile.headerSize) + Int64(fields.payload) == Int64(info.st_size) else {
            return .unsound(
                "it holds \(Int64(info.st_size) - Int64(ChunkFile.headerSize)) payload bytes, its header says \(fields.payload)")
        }
        if let blockLength, fields.size != blockLength {
            return .unsound("its header is for a \(fields.size)-byte block, not \(blockLength)")
        }
        if fields.encoding.isSealed != encrypted { return .unsound("its encoding does not match the repository's encryption") }
        return .sound
    }

    /// Whether a health check set this chunk's file aside as corrupt.
    public func isQuarantined(_ id: ChunkID) -> Bool {
        access(quarantinePath(of: id), F_OK) == 0
    }
}
