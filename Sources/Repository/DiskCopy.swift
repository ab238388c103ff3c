import Foundation
import Synchronization

/// One disk of a restore point copied from one repository into another (a backup copy job's
/// step): only the chunks the target does not hold soundly are read and sent, then the
/// manifest is stored under the copy's own restore point id.
///
/// Between two repositories that name chunks alike (neither encrypted) the target is asked
/// once which of the manifest's chunks it lacks; when either is encrypted, names are keyed
/// per repository, so every block is read, named for the target, and sent if it lacks it.
/// A copy interrupted part-way loses nothing: run again, it finds the chunks already sent.
public struct DiskCopy: Sendable {
    public let source: any RepositoryStore
    public let target: any RepositoryStore
    /// Chunks read and sent at once (a service answers each over its own connection).
    public var parallelism = 4
    /// Waits (on the copying thread) before each chunk is sent until the bytes may go: a
    /// throttling rule's share. Nil sends at full speed.
    public var pace: (@Sendable (Int) -> Void)?

    public init(from source: any RepositoryStore, to target: any RepositoryStore) {
        self.source = source
        self.target = target
    }

    /// What a copy read and sent.
    public struct Figures: Sendable, Equatable {
        /// Bytes of the disk's non-zero blocks: what the copy stands for.
        public var bytesCovered: Int64 = 0
        /// Bytes of the blocks read from the source (those the target lacked).
        public var bytesRead: Int64 = 0
        /// Bytes of chunk files sent to the target, as stored (compressed, sealed).
        public var bytesSent: Int64 = 0
        public var chunksSent: Int64 = 0
    }

    /// Copies `manifest` as restore point `copyID`, under `hold` (the target's transfer
    /// hold). Blocking: run it on the blocking pool.
    public func copy(_ manifest: DiskManifest, as copyID: String, hold: RepositoryHold) throws(RepositoryError) -> Figures {
        var figures = Figures()
        var referenced = Set<ChunkID>()
        for (index, chunk) in manifest.blocks.enumerated() {
            guard let chunk else { continue }
            figures.bytesCovered += Int64(manifest.length(ofBlock: index))
            referenced.insert(chunk)
        }
        let sameNames = !source.isEncrypted && !target.isEncrypted
        let wanted = sameNames ? try target.unsound(among: referenced) : referenced
        let renamed = Mutex<[ChunkID: ChunkID]>([:])
        let pace = self.pace
        let sent = try forEach(wanted.sorted { $0.hex < $1.hex }) { id throws(RepositoryError) -> (read: Int64, sent: Int64) in
            let block = try source.loadChunk(id)
            let store = target.chunks
            let named = sameNames ? id : try Self.withBytes(of: block) { bytes throws(RepositoryError) in try store.identify(bytes) ?? id }
            if !sameNames {
                renamed.withLock { $0[id] = named }
                if try target.holdsSoundly(named, blockLength: block.count) { return (Int64(block.count), 0) }
            }
            let prepared = try Self.withBytes(of: block) { bytes throws(RepositoryError) in try store.encode(bytes, as: named) }
            pace?(prepared.bytesToWrite)
            return (Int64(block.count), Int64(try target.commit(prepared).storedBytes))
        }
        for (read, bytes) in sent {
            figures.bytesRead += read
            figures.bytesSent += bytes
            if bytes > 0 { figures.chunksSent += 1 }
        }
        let names = renamed.withLock { $0 }
        let copied = try DiskManifest(
            restorePoint: copyID, disk: manifest.disk, diskSize: manifest.diskSize, blockSize: manifest.blockSize,
            blocks: sameNames ? manifest.blocks : manifest.blocks.map { $0.map { names[$0] ?? $0 } }, createdAt: Date())
        try target.save(copied, keepingProgress: nil, hold: hold)
        return figures
    }

    /// `body` over the block's bytes, its error kept typed.
    private static func withBytes<Value>(
        of block: [UInt8], _ body: (UnsafeRawBufferPointer) throws(RepositoryError) -> Value
    ) throws(RepositoryError) -> Value {
        try block.withUnsafeBytes { bytes in Result { () throws(RepositoryError) -> Value in try body(bytes) } }.get()
    }

    /// Runs `work` for each id on up to `parallelism` threads; the first error stops the rest.
    private func forEach<Value: Sendable>(
        _ ids: [ChunkID], _ work: @Sendable (ChunkID) throws(RepositoryError) -> Value
    ) throws(RepositoryError) -> [Value] {
        let next = Atomic<Int>(0)
        let results = Mutex<[Value]>([])
        let failure = Mutex<RepositoryError?>(nil)
        DispatchQueue.concurrentPerform(iterations: max(1, min(parallelism, ids.count))) { _ in
            while failure.withLock({ $0 == nil }) {
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < ids.count else { return }
                do throws(RepositoryError) {
                    let value = try work(ids[index])
                    results.withLock { $0.append(value) }
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return results.withLock { $0 }
    }
}
