import Foundation

/// The fixed size a disk is cut into: every block is one chunk (or a zero block).
///
/// Powers of two from 256 KiB to 8 MiB: 1 MiB by default; 4 MiB suits very large disks,
/// where a smaller block would mean a manifest of millions of entries.
public struct BlockSize: Sendable, Hashable, CustomStringConvertible, Codable {
    public static let minimum = 256 << 10
    public static let maximum = 8 << 20
    public static let `default` = BlockSize(checked: 1 << 20)

    public let bytes: Int

    private init(checked bytes: Int) { self.bytes = bytes }

    public init(bytes: Int) throws(RepositoryError) {
        guard bytes >= Self.minimum, bytes <= Self.maximum, bytes & (bytes - 1) == 0 else {
            throw RepositoryError(
                .invalidInput,
                "block size \(Self.format(bytes)) is not allowed: use a power of two from 256 KiB to 8 MiB (256K, 512K, 1M, 2M, 4M or 8M)")
        }
        self.bytes = bytes
    }

    /// Reads `256K`, `1M`, `4MiB`, `1048576`.
    public init(parsing text: String) throws(RepositoryError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        var digits = Substring(trimmed)
        var multiplier = 1
        for (suffix, factor) in [("KIB", 1 << 10), ("MIB", 1 << 20), ("K", 1 << 10), ("M", 1 << 20)] where digits.hasSuffix(suffix) {
            digits = digits.dropLast(suffix.count)
            multiplier = factor
            break
        }
        guard let value = Int(digits), value > 0 else {
            throw RepositoryError(.invalidInput, "block size '\(text)' is not a size: write it as 256K, 1M or 4M")
        }
        try self.init(bytes: value * multiplier)
    }

    public var description: String { Self.format(bytes) }

    static func format(_ bytes: Int) -> String {
        if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) bytes"
    }

    public init(from decoder: any Decoder) throws {
        let bytes = try decoder.singleValueContainer().decode(Int.self)
        try self.init(bytes: bytes)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(bytes)
    }
}
