import Foundation

/// A kept publish overlay (`tidemark publish --writable --keep-overlay`) written over a disk
/// restored to a file: the migrate after instant access. The overlay is what `OverlayExport`
/// left: `<folder>/<disk>.overlay` (a sparse file of the disk's size) and `<disk>.map` (the
/// 4 KiB sectors it holds, 8 bytes little-endian each). Writing them again is harmless, so a
/// restore killed while writing them writes them all again.
enum RestoreOverlay {
    static let sector = 4_096

    /// The overlay folder, checked: both files there, the overlay as large as the disk, the
    /// map whole. Blocking.
    static func check(folder: String, disk: String, size: Int64?) throws -> String {
        let absolute = URL(fileURLWithPath: folder).standardizedFileURL.path
        let overlay = absolute + "/\(disk).overlay", map = absolute + "/\(disk).map"
        var info = stat()
        guard lstat(overlay, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw RestoreError(
                .invalidRequest,
                "\(overlay) is not there: the publish kept no overlay of \(disk) (was it published --writable --keep-overlay?)")
        }
        if let size, Int64(info.st_size) != size {
            throw RestoreError(
                .invalidRequest, "\(overlay) holds \(info.st_size) bytes, not the disk's \(size): it is another disk's overlay")
        }
        _ = try sectors(map, diskSize: size ?? Int64(info.st_size))
        return absolute
    }

    /// The sectors the map names (no map: none were written), each checked to lie inside the
    /// disk (a damaged map is refused, never multiplied past the end).
    static func sectors(_ map: String, diskSize: Int64) throws -> [Int64] {
        guard FileManager.default.fileExists(atPath: map) else { return [] }
        guard let data = FileManager.default.contents(atPath: map) else { throw RestoreError(.io, "cannot read \(map)") }
        guard data.count % 8 == 0 else {
            throw RestoreError(.invalidRequest, "\(map) is not whole (\(data.count) bytes): the map is damaged")
        }
        let sectors = data.withUnsafeBytes { raw in
            (0..<(raw.count / 8)).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
        }.sorted()
        let count = (diskSize + Int64(sector) - 1) / Int64(sector)
        if let beyond = sectors.first(where: { $0 < 0 || $0 >= count }) {
            throw RestoreError(.invalidRequest, "\(map) names sector \(beyond), outside the disk's \(count): the map is damaged")
        }
        return sectors
    }

    /// Writes the overlay's sectors of `disk` into the restored file at `path` and flushes it;
    /// returns how many sectors and bytes. Blocking.
    static func apply(folder: String, disk: String, to path: String) throws -> (sectors: Int, bytes: Int64) {
        let overlay = folder + "/\(disk).overlay"
        let source = open(overlay, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard source >= 0 else { throw RestoreError(.io, "cannot open \(overlay): \(String(cString: strerror(errno)))") }
        defer { close(source) }
        let target = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
        guard target >= 0 else { throw RestoreError(.io, "cannot open \(path) to write the overlay: \(String(cString: strerror(errno)))") }
        defer { close(target) }
        var size = stat()
        guard fstat(target, &size) == 0 else { throw RestoreError(.io, "cannot look at \(path)") }
        let sectors = try self.sectors(folder + "/\(disk).map", diskSize: Int64(size.st_size))
        var buffer = [UInt8](repeating: 0, count: sector)
        var bytes: Int64 = 0
        for index in sectors {
            let offset = index * Int64(sector)
            let length = Int(min(Int64(sector), Int64(size.st_size) - offset))
            guard length > 0 else { continue }
            let read = buffer.withUnsafeMutableBytes { pread(source, $0.baseAddress, length, off_t(offset)) }
            guard read == length else { throw RestoreError(.io, "cannot read sector \(index) of \(overlay)") }
            let written = buffer.withUnsafeBytes { pwrite(target, $0.baseAddress, length, off_t(offset)) }
            guard written == length else {
                throw RestoreError(.io, "cannot write sector \(index) into \(path): \(String(cString: strerror(errno)))")
            }
            bytes += Int64(length)
        }
        guard fsync(target) == 0 else { throw RestoreError(.io, "cannot flush \(path): \(String(cString: strerror(errno)))") }
        return (sectors.count, bytes)
    }
}
