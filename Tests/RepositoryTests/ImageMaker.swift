import Crypto
import DataMover
import Foundation
import Infrastructure
import Repository

/// Backs up an image file as one disk of a restore point.
@discardableResult
func backup(
    _ image: URL, to repository: BackupRepository, restorePoint: String, disk: String, blockSize: BlockSize = .default
) async throws -> DiskTransfer.Outcome {
    let transfer = DiskTransfer(
        repository: repository, restorePoint: restorePoint, disk: disk, source: try ImageFileSource(path: image.path),
        blockSize: blockSize)
    return try await transfer.run()
}

/// A folder with an image of `megabytes` MiB and an empty repository.
func imageAndRepository(_ name: String, megabytes: Int) throws -> (folder: URL, image: URL, repository: BackupRepository) {
    let folder = try ImageMaker.scratchFolder(name)
    let image = folder.appendingPathComponent("disk.img")
    try ImageMaker.image(at: image, megabytes: megabytes, tail: 0)
    return (folder, image, try BackupRepository.create(at: folder.appendingPathComponent("repo")))
}

/// A transfer of `image` in 256 KiB blocks, checkpointing every `checkpointBytes`, two blocks
/// in flight: small steps, so tests can stop it part-way.
func smallStepTransfer(_ image: URL, to repository: BackupRepository, checkpointBytes: Int64) throws -> DiskTransfer {
    var transfer = DiskTransfer(
        repository: repository, restorePoint: "rp-1", disk: "d0", source: try ImageFileSource(path: image.path),
        blockSize: try BlockSize(parsing: "256K"))
    transfer.checkpointBytes = checkpointBytes
    // Checkpoints by bytes only: on a loaded machine the 5-second default would add some.
    transfer.checkpointInterval = .seconds(3_600)
    transfer.parallelism = 2
    return transfer
}

/// Thrown from a checkpoint to stop a transfer there.
struct StopTransfer: Error {}

/// Disk images for tests: zero regions, compressible text, random bytes, and a block repeated.
enum ImageMaker {
    static func scratchFolder(_ name: String) throws -> URL {
        let root = URL(fileURLWithPath: ProcessInfo.processInfo.environment["TIDEMARK_TEST_SCRATCH"] ?? NSTemporaryDirectory())
        let folder = root.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// `blocks` MiB-sized regions plus a short tail, with a fixed seed so runs compare.
    static func image(at url: URL, megabytes blocks: Int, tail: Int = 12_345, seed: UInt64 = 42) throws {
        var generator = DiskImageGenerator.Generator(state: seed)
        var bytes = [UInt8]()
        bytes.reserveCapacity(blocks << 20 + tail)
        let text = Array("Tidemark keeps every step of every backup as an event. ".utf8)
        for block in 0..<blocks {
            switch block % 4 {
            case 0: bytes.append(contentsOf: repeatElement(0, count: 1 << 20))
            case 1: for index in 0..<(1 << 20) { bytes.append(text[index % text.count]) }
            case 2: for _ in 0..<(1 << 17) { bytes.append(contentsOf: withUnsafeBytes(of: generator.next()) { Array($0) }) }
            default: bytes.append(contentsOf: bytes[(1 << 20) * 2..<(1 << 20) * 3])  // the random block again
            }
        }
        for _ in 0..<tail { bytes.append(UInt8.random(in: 1...255, using: &generator)) }
        try Data(bytes).write(to: url)
    }

    /// Overwrites `count` bytes at each offset, as a guest's writes would.
    static func mutate(_ url: URL, at offsets: [Int], count: Int = 4096) throws {
        let handle = try FileHandle(forUpdating: url)
        defer { try? handle.close() }
        for offset in offsets {
            try handle.seek(toOffset: UInt64(offset))
            try handle.write(contentsOf: Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ offset) }))
        }
    }

    static func sha256(of url: URL) throws -> String {
        SHA256.hash(data: try Data(contentsOf: url)).map { String(format: "%02x", $0) }.joined()
    }
}
