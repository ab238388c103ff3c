/// The bytes of one chunk file: a header that says how to read the payload, then the payload.
///
///     "TMCHUNK1"  8 bytes   magic and format version
///     encoding    1 byte    0 stored, 1 zstd, 2 stored + sealed, 3 zstd + sealed
///     reserved    3 bytes   zero
///     size        4 bytes   the block's length, little-endian
///     payload     4 bytes   the payload's length, little-endian
///     payload               (sealed: AES-256-GCM nonce, ciphertext, tag)
///
/// A file whose length is not header + payload is refused: a torn or truncated chunk can
/// never be read as a shorter block.
enum ChunkFile {
    static let magic = Array("TMCHUNK1".utf8)
    static let headerSize = 20

    enum Encoding: UInt8 {
        case stored = 0
        case zstd = 1
        case storedSealed = 2
        case zstdSealed = 3

        var isCompressed: Bool { self == .zstd || self == .zstdSealed }
        var isSealed: Bool { self == .storedSealed || self == .zstdSealed }

        init(compressed: Bool, sealed: Bool) {
            switch (compressed, sealed) {
            case (false, false): self = .stored
            case (true, false): self = .zstd
            case (false, true): self = .storedSealed
            case (true, true): self = .zstdSealed
            }
        }
    }

    /// Compresses when that saves space, else keeps the block as it is (random data).
    static func compressOrStore(_ block: UnsafeRawBufferPointer, level: Int32) -> (compressed: Bool, bytes: [UInt8]) {
        let compressed = Zstd.compress(block, level: level)
        if !compressed.isEmpty && compressed.count < block.count { return (true, compressed) }
        return (false, Array(block))
    }

    static func assemble(_ encoding: Encoding, size: Int, payload: [UInt8]) -> [UInt8] {
        var file = magic
        file.reserveCapacity(headerSize + payload.count)
        file.append(encoding.rawValue)
        file.append(contentsOf: [0, 0, 0])
        appendUInt32(&file, UInt32(size))
        appendUInt32(&file, UInt32(payload.count))
        file.append(contentsOf: payload)
        return file
    }

    /// The header's fields and the payload, or why the file cannot be a chunk.
    static func parse(_ file: [UInt8]) -> Result<(encoding: Encoding, size: Int, payload: ArraySlice<UInt8>), ChunkProblem> {
        guard file.count >= headerSize, Array(file[0..<8]) == magic else {
            return .failure(.damaged("it does not start with a chunk header"))
        }
        guard let encoding = Encoding(rawValue: file[8]) else {
            return .failure(.damaged("unknown encoding \(file[8])"))
        }
        let size = Int(readUInt32(file, at: 12))
        let payloadSize = Int(readUInt32(file, at: 16))
        guard size <= BlockSize.maximum else {
            return .failure(.damaged("its header claims a \(size)-byte block, larger than any block size"))
        }
        guard file.count == headerSize + payloadSize else {
            return .failure(.damaged("it holds \(file.count - headerSize) payload bytes, its header says \(payloadSize)"))
        }
        return .success((encoding, size, file[headerSize...]))
    }

    /// The header's fields alone (the first `headerSize` bytes), for the cheap check
    /// deduplication makes of an existing chunk; nil if they are not a chunk header.
    static func header(_ bytes: [UInt8]) -> (encoding: Encoding, size: Int, payload: Int)? {
        guard bytes.count >= headerSize, Array(bytes[0..<8]) == magic, let encoding = Encoding(rawValue: bytes[8]) else { return nil }
        let size = Int(readUInt32(bytes, at: 12))
        guard size > 0, size <= BlockSize.maximum else { return nil }
        return (encoding, size, Int(readUInt32(bytes, at: 16)))
    }

    /// What sealing authenticates besides the payload: the chunk's name, its encoding and
    /// its block size, so neither a renamed file nor an edited header opens.
    static func authenticatedData(id: ChunkID, encoding: Encoding, size: Int) -> [UInt8] {
        var data = id.bytes
        data.append(encoding.rawValue)
        appendUInt32(&data, UInt32(size))
        return data
    }

    /// The block from an unsealed payload.
    static func expand(_ payload: ArraySlice<UInt8>, compressed: Bool, size: Int) -> Result<[UInt8], ChunkProblem> {
        guard compressed else {
            guard payload.count == size else {
                return .failure(.damaged("stored payload of \(payload.count) bytes for a \(size)-byte block"))
            }
            return .success(Array(payload))
        }
        let block = payload.withUnsafeBytes { Zstd.decompress($0, size: size) }
        guard let block else { return .failure(.damaged("its zstd payload does not decompress to \(size) bytes")) }
        return .success(block)
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
    /// It is sealed and this key does not open it (another key, or tampering).
    case cannotDecrypt
    /// It is sealed and no key was given.
    case keyRequired

    public var description: String {
        switch self {
        case .missing: return "missing"
        case .damaged(let reason): return "damaged: \(reason)"
        case .hashMismatch: return "corrupt: its content does not match its name"
        case .cannotDecrypt: return "corrupt: it does not decrypt with the repository's key (its authentication tag fails)"
        case .keyRequired: return "encrypted, and no key was given"
        }
    }
}
