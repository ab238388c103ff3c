import Foundation

/// Realistic disk content for the lab and the benches: about 40% zeros, 30% compressible
/// text, 25% random, 5% copies of a template block shared by every disk made with the same
/// template seed (as VMs cloned from one template share blocks).
public enum DiskImageGenerator {
    /// A fast, seeded generator (SplitMix64): a bench must not wait on the system's randomness,
    /// and a test that samples at random replays the same sample from the same seed.
    public struct Generator: RandomNumberGenerator, Sendable {
        public init(state: UInt64) { self.state = state }
        var state: UInt64
        public mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    public static let block = 1 << 20

    /// Writes `size` bytes to `path`, block by block.
    public static func generate(at path: String, size: Int64, seed: UInt64 = 7, templateSeed: UInt64 = 3) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var generator = Generator(state: seed)
        var templateGenerator = Generator(state: templateSeed)
        let text = Array("2026-11-25T14:52:46Z host-17 kernel: eth0 link up, 10000 Mbps full duplex; backup window open\n".utf8)
        var template = [UInt8](repeating: 0, count: block)
        fillRandom(&template, &templateGenerator)
        var buffer = [UInt8](repeating: 0, count: block)
        let blocks = Int((size + Int64(block) - 1) / Int64(block))
        for index in 0..<blocks {
            let kind = Int(generator.next() % 100)
            switch kind {
            case 0..<40:
                for i in 0..<block { buffer[i] = 0 }
            case 40..<70:
                let shift = Int(generator.next() % UInt64(text.count))
                for i in 0..<block { buffer[i] = text[(i + shift) % text.count] }
            case 70..<75:
                buffer = template
            default:
                fillRandom(&buffer, &generator)
            }
            let length = Int(min(Int64(block), size - Int64(index) * Int64(block)))
            try handle.write(contentsOf: Data(buffer[0..<length]))
        }
    }

    /// Copies `source` to `path` and rewrites 4 KiB in `percent`% of its 1 MiB blocks;
    /// returns the indexes of the changed blocks (at 1 MiB).
    public static func mutatedCopy(of source: String, at path: String, percent: Double, seed: UInt64 = 11) throws -> Set<Int> {
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: source, toPath: path)
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0
        let blocks = Int((size + Int64(block) - 1) / Int64(block))
        var generator = Generator(state: seed)
        var changed = Set<Int>()
        let target = max(1, Int(Double(blocks) * percent / 100))
        while changed.count < target {
            changed.insert(Int(generator.next() % UInt64(blocks)))
        }
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var patch = [UInt8](repeating: 0, count: 4096)
        for index in changed.sorted() {
            fillRandom(&patch, &generator)
            let offset = Int64(index) * Int64(block) + Int64(generator.next() % UInt64(block - 4096))
            guard offset + 4096 <= size else { continue }
            try handle.seek(toOffset: UInt64(offset))
            try handle.write(contentsOf: Data(patch))
        }
        return changed
    }

    static func fillRandom(_ buffer: inout [UInt8], _ generator: inout Generator) {
        buffer.withUnsafeMutableBytes { bytes in
            let words = bytes.bindMemory(to: UInt64.self)
            for i in 0..<words.count { words[i] = generator.next() }
        }
    }
}
