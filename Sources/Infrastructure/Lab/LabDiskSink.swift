import BlockingIO
import CFileSystem
import Foundation
import Synchronization

/// A lab disk opened for a restore to write: writes go in place, and the blocks written are
/// recorded in the disk's change history (as a guest's writes would be), so the next backup's
/// changed-block answer includes them — before they are written when the restore announces
/// them (`willWrite`), so a restore killed between flushes leaves none unrecorded; blocks
/// written without an announcement are recorded at the next flush.
final class LabDiskSink: DirectBlockSink {
    let size: Int64
    private let store: LabStore
    private let path: String
    private let name: String
    private let descriptor: Int32
    /// Lab blocks written since the last flush and not announced.
    private let written = Mutex(Set<Int>())
    /// Lab blocks announced (recorded before they were written): writing them again records
    /// nothing more.
    private let announced = Mutex(Set<Int>())

    init(store: LabStore, path: String, vm: String, disk: VirtualDisk) throws {
        self.store = store
        self.path = path
        self.size = disk.capacity
        self.name = LabLayout.diskName(vm: vm, key: disk.key)
        descriptor = open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw InfrastructureError(.io, "cannot open \(path) for writing: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(descriptor) }

    func write(at offset: Int64, _ bytes: [UInt8]) async throws {
        try await BlockingIOPool.shared.run { [self] () throws in
            try bytes.withUnsafeBytes { buffer throws in try writeBlocking(at: offset, buffer) }
        }
    }

    func zeros(at offset: Int64, length: Int64) async throws {
        try await BlockingIOPool.shared.run { [self] () throws in try zerosBlocking(at: offset, length: length) }
    }

    func writeBlocking(at offset: Int64, _ bytes: UnsafeRawBufferPointer) throws {
        try check(offset, Int64(bytes.count))
        try writeFully(descriptor, bytes, at: offset, path: path)
        mark(offset, Int64(bytes.count))
    }

    /// Zeros as a hole punched (the blocks read as zeros and take no space).
    func zerosBlocking(at offset: Int64, length: Int64) throws {
        try check(offset, length)
        guard tidemark_punch_hole(descriptor, offset, length) == 0 else {
            throw InfrastructureError(
                .io, "cannot clear \(length) bytes of \(path) at offset \(offset): \(String(cString: strerror(errno)))")
        }
        mark(offset, length)
    }

    func readBlocking(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Bool {
        try check(offset, Int64(buffer.count))
        try readFully(descriptor, path: path, size: size, at: offset, into: buffer)
        return true
    }

    func read(at offset: Int64, count: Int) async throws -> [UInt8]? {
        try check(offset, Int64(count))
        return try await BlockingIOPool.shared.run { [descriptor, path, size] () throws -> [UInt8] in
            var bytes = [UInt8](repeating: 0, count: count)
            try bytes.withUnsafeMutableBytes { buffer throws in try readFully(descriptor, path: path, size: size, at: offset, into: buffer)
            }
            return bytes
        }
    }

    func flush() async throws {
        let blocks = written.withLock { blocks in
            defer { blocks.removeAll() }
            return blocks.sorted()
        }
        let name = name
        do {
            try await BlockingIOPool.shared.run { [descriptor, path] () throws(InfrastructureError) in
                guard fsync(descriptor) == 0 else {
                    throw InfrastructureError(.io, "cannot flush \(path): \(String(cString: strerror(errno)))")
                }
            }
            guard !blocks.isEmpty else { return }
            try await store.updateOffPool { state in
                var history = state.history(name)
                history.writes.append(LabWrite(epoch: history.epoch, blocks: blocks))
                state.disks[name] = history
            }
        } catch {
            // Still to be recorded: the next flush tries again.
            written.withLock { $0.formUnion(blocks) }
            throw error
        }
    }

    func finish() async throws {
        try await flush()
    }

    func willWrite(_ areas: [DiskArea]) async throws {
        var blocks = Set<Int>()
        for area in areas { try check(area.offset, area.length) }
        for area in areas where area.length > 0 { blocks.formUnion(Self.blocks(area.offset, area.length)) }
        let new = announced.withLock { blocks.subtracting($0) }.sorted()
        guard !new.isEmpty else { return }
        let name = name
        try await store.updateOffPool { state in
            var history = state.history(name)
            history.writes.append(LabWrite(epoch: history.epoch, blocks: new))
            state.disks[name] = history
        }
        announced.withLock { $0.formUnion(new) }
    }

    private func check(_ offset: Int64, _ length: Int64) throws {
        guard offset >= 0, length >= 0, offset + length <= size else {
            throw InfrastructureError(.invalidInput, "a write of \(length) bytes at \(offset) is outside the \(size)-byte disk \(path)")
        }
    }

    private func mark(_ offset: Int64, _ length: Int64) {
        guard length > 0 else { return }
        let blocks = Self.blocks(offset, length)
        if announced.withLock({ blocks.allSatisfy($0.contains) }) { return }
        written.withLock { $0.formUnion(blocks) }
    }

    /// The lab blocks (change tracking's unit) a range touches.
    private static func blocks(_ offset: Int64, _ length: Int64) -> ClosedRange<Int> {
        let block = Int64(LabState.blockSize)
        return Int(offset / block)...Int((offset + length - 1) / block)
    }
}
