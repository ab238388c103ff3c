import CZstd

/// zstd through its C library: one-shot compression of a block, and decompression that
/// refuses anything but exactly the size the chunk header promises.
enum Zstd {
    static func compress(_ input: UnsafeRawBufferPointer, level: Int32) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { destination in
            ZSTD_compress(destination.baseAddress, bound, input.baseAddress, input.count, level)
        }
        // Compression into a buffer of compressBound cannot fail but for a bad level.
        guard ZSTD_isError(written) == 0 else { return [] }
        output.removeSubrange(written...)
        return output
    }

    /// nil when the data is not a zstd frame of exactly `size` bytes.
    static func decompress(_ input: UnsafeRawBufferPointer, size: Int) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: size)
        let produced = output.withUnsafeMutableBytes { destination in
            ZSTD_decompress(destination.baseAddress, size, input.baseAddress, input.count)
        }
        guard ZSTD_isError(produced) == 0, produced == size else { return nil }
        return output
    }
}
