/// The bytes of one chunk file: a header that says how to read the payload, then the payload.
///
///     "TMCHUNK1"  8 bytes   magic and format version
///     encoding    1 byte    0 stored as is, 1 zstd
///     reserved    3 bytes   zero
///     size        4 bytes   the block's length, little-endian
///     payload     4 bytes   the payload's length, little-endian
///     payload
///
/// A file whose length is not header + payload is refused: a torn or truncated chunk can
/// never be read as a shorter block.
enum ChunkFile {
    static let magic = Array("TMCHUNK1".utf8)
    static let headerSize = 20

    enum Encoding: UInt8 {
        case stored = 0
        case zstd = 1
    }

    /// Compresses when that saves space, else stores the block as it is (random data).
    static func encode(_ block: UnsafeRawBufferPointer, level: Int32) -> [UInt8] {
        let compressed = Zstd.compress(block, level: level)
        let useCompressed = !compressed.isEmpty && compressed.count < block.count
        var file = magic
        file.reserveCapacity(headerSize + (useCompressed ? compressed.count : block.count))
        file.append((useCompressed ? Encoding.zstd : Encoding.stored).rawValue)
        file.append(contentsOf: [0, 0, 0])
        appendUInt32(&file, UInt32(block.count))
        if useCompressed {
            appendUInt32(&file, UInt32(compressed.count))
            file.append(contentsOf: compressed)
        } else {
            appendUInt32(&file, UInt32(block.count))
            file.append(contentsOf: block)
        }
        return file
    }

    /// The block, or why the file cannot be one.
    static func decode(_ file: [UInt8]) -> Result<[UInt8], ChunkProblem> {
        guard file.count >= headerSize, Array(file[0..<8]) == magic else {
            return .failure(.damaged("it does not start with a chunk header"))
        }
        guard let encoding = Encoding(rawValue: file[8]) else {
            return .failure(.damaged("unknown encoding \(file[8])"))
        }
        let size = Int(readUInt32(file, at: 12))
        let payloadSize = Int(readUInt32(file, at: 16))
        guard file.count == headerSize + payloadSize else {
            return .failure(.damaged("it holds \(file.count - headerSize) payload bytes, its header says \(payloadSize)"))
        }
        switch encoding {
        case .stored:
            guard payloadSize == size else { return .failure(.damaged("stored payload of \(payloadSize) bytes for a \(size)-byte block")) }
            return .success(Array(file[headerSize...]))
        case .zstd:
            let block = file.withUnsafeBytes { bytes in
                Zstd.decompress(UnsafeRawBufferPointer(rebasing: bytes[headerSize...]), size: size)
            }
            guard let block else { return .failure(.damaged("its zstd payload does not decompress to \(size) bytes")) }
            return .success(block)
        }
    }

    private static func appendUInt32(_ bytes: inout [UInt8], _ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    private static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << UInt32($1 * 8) }
    }
}

/// Why a stored chunk cannot be trusted.
public enum ChunkProblem: Error, Sendable, Equatable, CustomStringConvertible {
    case missing
    case damaged(String)
    /// It decodes, but its bytes do not hash to its name.
    case hashMismatch

    public var description: String {
        switch self {
        case .missing: return "missing"
        case .damaged(let reason): return "damaged: \(reason)"
        case .hashMismatch: return "corrupt: its content does not match its SHA-256 name"
        }
    }
}
