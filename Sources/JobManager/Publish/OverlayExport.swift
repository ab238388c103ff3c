import Foundation
import NBD
import Synchronization

/// A writable export: the restore point's disk underneath, a client's writes in a
/// copy-on-write overlay beside it — a sparse file of the disk's size and a map of the 4 KiB
/// sectors it holds, in a scratch folder, never in the repository. A write that covers part
/// of a sector first copies the sector from underneath, so the overlay always holds whole
/// sectors. A flush makes the overlay file and its map durable (the map by rename), so an
/// overlay kept (`--keep-overlay`) reads back as the client left it.
final class OverlayExport: NBDBackend {
    static let sector = 4_096

    let base: any NBDBackend
    let file: String
    let mapFile: String
    private let descriptor: Int32
    /// Sectors held by the overlay; one lock for the read-modify-write of partial sectors.
    private let sectors: Mutex<Set<Int64>>
    /// One flush at a time: clients on several connections may flush at once, and the map is
    /// written through one temporary file.
    private let flushing = Mutex(())

    /// Opens (or makes) the overlay `<folder>/<name>.overlay` and its map `<name>.map`.
    init(base: any NBDBackend, folder: String, name: String) throws {
        self.base = base
        file = (folder as NSString).appendingPathComponent("\(name).overlay")
        mapFile = (folder as NSString).appendingPathComponent("\(name).map")
        descriptor = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw NBDError("cannot open the overlay \(file): \(String(cString: strerror(errno)))") }
        guard ftruncate(descriptor, off_t(base.size)) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw NBDError("cannot size the overlay \(file): \(reason)")
        }
        var known = Set<Int64>()
        if let data = FileManager.default.contents(atPath: mapFile) {
            data.withUnsafeBytes { raw in
                for index in 0..<(raw.count / 8) {
                    known.insert(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: index * 8, as: Int64.self)))
                }
            }
        }
        sectors = Mutex(known)
    }

    deinit { close(descriptor) }

    var size: Int64 { base.size }
    var writable: Bool { true }
    var preferredBlockSize: Int { Self.sector }

    /// Sectors the overlay holds (for the figures and the tests).
    var sectorsWritten: Int { sectors.withLock { $0.count } }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let first = offset / Int64(Self.sector)
        let last = (offset + Int64(max(buffer.count, 1)) - 1) / Int64(Self.sector)
        // Only the sectors this read touches are looked up (the set is not copied).
        let held = sectors.withLock { all in Set((first...last).filter { all.contains($0) }) }
        var done = 0
        while done < buffer.count {
            let position = offset + Int64(done)
            let sector = position / Int64(Self.sector)
            let inOverlay = held.contains(sector)
            // A run of sectors from the same side, read at once.
            var end = min(Int64(buffer.count) + offset, (sector + 1) * Int64(Self.sector))
            while end < offset + Int64(buffer.count), held.contains(end / Int64(Self.sector)) == inOverlay {
                end = min(offset + Int64(buffer.count), end + Int64(Self.sector))
            }
            let part = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<Int(end - offset)])
            if inOverlay { try readOverlay(at: position, into: part) } else { try base.read(at: position, into: part) }
            done = Int(end - offset)
        }
    }

    func write(at offset: Int64, _ bytes: UnsafeRawBufferPointer) throws {
        guard !bytes.isEmpty else { return }
        let sectorBytes = Int64(Self.sector)
        let first = offset / sectorBytes
        let last = (offset + Int64(bytes.count) - 1) / sectorBytes
        try sectors.withLock { held in
            // Partial sectors not held yet: their other bytes come from underneath first.
            for sector in Set([first, last]) where !held.contains(sector) {
                let start = sector * sectorBytes
                let end = min(size, start + sectorBytes)
                let covered = offset <= start && offset + Int64(bytes.count) >= end
                guard !covered else { continue }
                var original = [UInt8](repeating: 0, count: Int(end - start))
                try original.withUnsafeMutableBytes { try base.read(at: start, into: $0) }
                try original.withUnsafeBytes { try writeOverlay(at: start, $0) }
            }
            try writeOverlay(at: offset, bytes)
            for sector in first...last { held.insert(sector) }
        }
    }

    func flush() throws {
        try flushing.withLock { _ in try flushNow() }
    }

    /// The map as it is before the overlay's data is forced to disk: every sector it names
    /// was written before the `fsync`, so a kept overlay never claims a sector it lost.
    private func flushNow() throws {
        let held = sectors.withLock { $0 }.sorted()
        guard fsync(descriptor) == 0 else { throw NBDError("cannot flush the overlay \(file): \(String(cString: strerror(errno)))") }
        var data = Data(capacity: held.count * 8)
        for sector in held { withUnsafeBytes(of: sector.littleEndian) { data.append(contentsOf: $0) } }
        let temporary = mapFile + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw NBDError("cannot write the overlay's map \(temporary)")
        }
        let written = open(temporary, O_RDONLY | O_CLOEXEC)
        guard written >= 0, fsync(written) == 0 else {
            if written >= 0 { close(written) }
            throw NBDError("cannot flush the overlay's map \(temporary): \(String(cString: strerror(errno)))")
        }
        close(written)
        guard rename(temporary, mapFile) == 0 else {
            throw NBDError("cannot move the overlay's map into place at \(mapFile): \(String(cString: strerror(errno)))")
        }
        // The rename itself made durable.
        let folder = open((mapFile as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }

    private func readOverlay(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            let result = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { throw NBDError("cannot read the overlay \(file) at \(offset + Int64(done))") }
            done += result
        }
    }

    private func writeOverlay(at offset: Int64, _ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let result = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                throw NBDError("cannot write the overlay \(file) at \(offset + Int64(done)): \(String(cString: strerror(errno)))")
            }
            done += result
        }
    }
}
