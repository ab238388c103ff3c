import BlockingIO
import Foundation
import Synchronization

/// One disk as a lab snapshot froze it: a block overwritten since the snapshot is read from
/// the snapshot's copy-on-write file, any other from the live disk. Reads take the lab's
/// shared lock, so a write cannot slip between the lookup and the read.
final class LabSnapshotSource: BlockSource {
    let size: Int64
    let identity: String
    private let store: LabStore
    private let diskPath: String
    private let diskDescriptor: Int32
    private let copyDescriptor: Int32
    private let mapDescriptor: Int32
    /// Block index → slot in the copy-on-write file, and how much of the map it came from.
    private let saved = Mutex<(mapBytes: Int, slots: [Int: Int])>((0, [:]))

    init(store: LabStore, snapshot: String, disk: String, size: Int64) throws {
        let layout = store.layout
        self.store = store
        self.size = size
        self.identity = "lab \(layout.root) snapshot \(snapshot) disk \(disk)"
        self.diskPath = layout.disk(disk)
        let paths: [String] = [layout.disk(disk), layout.copyOnWrite(snapshot, disk), layout.copyOnWriteMap(snapshot, disk)]
        let descriptors: [Int32] = paths.map { path in open(path, O_RDONLY | O_CLOEXEC) }
        guard descriptors.allSatisfy({ $0 >= 0 }) else {
            descriptors.filter { $0 >= 0 }.forEach { close($0) }
            throw InfrastructureError(.diskUnreadable, "cannot open disk \(disk) of snapshot \(snapshot) in the lab \(layout.root)")
        }
        diskDescriptor = descriptors[0]
        copyDescriptor = descriptors[1]
        mapDescriptor = descriptors[2]
    }

    deinit {
        close(diskDescriptor)
        close(copyDescriptor)
        close(mapDescriptor)
    }

    /// On the blocking I/O pool: the lab's lock (`flock`) and the reads block.
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) async throws {
        nonisolated(unsafe) let buffer = buffer
        try await BlockingIOPool.shared.run { [self] () throws in try readNow(at: offset, into: buffer) }
    }

    private func readNow(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard offset >= 0, offset + Int64(buffer.count) <= size else {
            throw InfrastructureError(
                .diskUnreadable, "a read of \(buffer.count) bytes at \(offset) is outside the \(size)-byte disk \(diskPath)")
        }
        try store.withLock(.shared) {
            let slots = try currentSlots()
            let block = Int64(LabState.blockSize)
            var done = 0
            while done < buffer.count {
                let position = offset + Int64(done)
                let index = Int(position / block)
                let inner = position % block
                let length = Int(min(Int64(buffer.count - done), block - inner))
                let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + length)])
                if let slot = slots[index] {
                    try readFully(
                        copyDescriptor, path: "copy-on-write of \(diskPath)", size: size, at: Int64(slot) * block + inner, into: piece)
                } else {
                    try readFully(diskDescriptor, path: diskPath, size: size, at: position, into: piece)
                }
                done += length
            }
        }
    }

    /// The map only grows (a block is saved once per snapshot): read what was appended.
    private func currentSlots() throws -> [Int: Int] {
        var info = stat()
        guard fstat(mapDescriptor, &info) == 0 else {
            throw InfrastructureError(.io, "cannot stat the copy-on-write map of \(diskPath)")
        }
        let mapBytes = Int(info.st_size)
        return try saved.withLock { saved in
            if mapBytes > saved.mapBytes {
                var bytes = [UInt8](repeating: 0, count: mapBytes - saved.mapBytes)
                try bytes.withUnsafeMutableBytes { buffer in
                    try readFully(
                        mapDescriptor, path: "copy-on-write map of \(diskPath)", size: Int64(mapBytes), at: Int64(saved.mapBytes),
                        into: buffer)
                }
                let firstSlot = saved.mapBytes / 4
                for (offset, block) in CopyOnWriteMap.blocks(bytes).enumerated() {
                    saved.slots[block] = firstSlot + offset
                }
                saved.mapBytes = mapBytes
            }
            return saved.slots
        }
    }
}
