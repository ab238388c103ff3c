import Foundation
import NBD
import Repository
import Synchronization

/// A restore point's disk as an NBD export: reads come from the repository's chunks (each
/// loaded, decompressed and checked as a restore loads it) through a cache of recent blocks,
/// so a client reading a block in small pieces loads it once. Read-only: the repository is
/// never written through a publish.
final class RestorePointExport: NBDBackend {
    let manifest: DiskManifest
    let repository: any RepositoryStore
    private let cache: BlockCache
    private let loadedBytes = Atomic<Int64>(0)
    private let storedBytes = Atomic<Int64>(0)

    init(manifest: DiskManifest, repository: any RepositoryStore, cacheBytes: Int = 64 << 20) {
        self.manifest = manifest
        self.repository = repository
        self.cache = BlockCache(capacity: max(4, cacheBytes / max(1, manifest.blockSize.bytes)))
    }

    var size: Int64 { manifest.diskSize }
    var writable: Bool { false }
    var preferredBlockSize: Int { manifest.blockSize.bytes }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let blockBytes = Int64(manifest.blockSize.bytes)
        var done = 0
        while done < buffer.count {
            let position = offset + Int64(done)
            let index = Int(position / blockBytes)
            let within = Int(position - Int64(index) * blockBytes)
            let length = min(buffer.count - done, manifest.length(ofBlock: index) - within)
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + length)])
            if let block = try block(index) {
                block.withUnsafeBytes { target.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[within..<(within + length)])) }
            } else {
                target.initializeMemory(as: UInt8.self, repeating: 0)
            }
            done += length
        }
    }

    func write(at offset: Int64, _ bytes: UnsafeRawBufferPointer) throws {
        throw RepositoryError(.io, "the export \(manifest.disk) is read-only")
    }

    func flush() throws {}

    /// Block `index`, from the cache or loaded (nil: a zero block).
    private func block(_ index: Int) throws(RepositoryError) -> [UInt8]? {
        guard manifest.blocks[index] != nil else { return nil }
        if let cached = cache.get(index) { return cached }
        let loaded = try DiskRestore.block(index, of: manifest, from: repository)
        if let loaded, let chunk = manifest.blocks[index] {
            cache.put(index, loaded)
            loadedBytes.add(Int64(loaded.count), ordering: .relaxed)
            // A folder's chunk file says what it stores; a service's chunks are not seen from here.
            var status = stat()
            if let folder = repository as? BackupRepository, stat(folder.chunks.path(of: chunk), &status) == 0 {
                storedBytes.add(Int64(status.st_size), ordering: .relaxed)
            }
        }
        return loaded
    }

    /// What reading through this export has cost: the blocks loaded (as the guest sees
    /// them) and their chunks' bytes in the repository (compressed, as stored; a folder's only).
    var bytesLoaded: (blocks: Int64, stored: Int64) {
        (loadedBytes.load(ordering: .relaxed), storedBytes.load(ordering: .relaxed))
    }
}

/// The most recently used blocks, by index, up to a count.
final class BlockCache: Sendable {
    private struct State {
        var blocks: [Int: [UInt8]] = [:]
        /// Least recently used first.
        var order: [Int] = []
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    func get(_ index: Int) -> [UInt8]? {
        state.withLock { state in
            guard let block = state.blocks[index] else { return nil }
            if let position = state.order.firstIndex(of: index) { state.order.remove(at: position) }
            state.order.append(index)
            return block
        }
    }

    func put(_ index: Int, _ block: [UInt8]) {
        state.withLock { state in
            if state.blocks.updateValue(block, forKey: index) == nil { state.order.append(index) }
            while state.order.count > capacity { state.blocks[state.order.removeFirst()] = nil }
        }
    }
}
