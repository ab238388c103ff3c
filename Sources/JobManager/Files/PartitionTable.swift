import Foundation

/// A disk's partition table as a guest's firmware reads it: MBR (four primary entries) or GPT
/// (its header in sector 1 and its entries), parsed by Tidemark from the disk's first sectors.
public struct PartitionTable: Sendable, Equatable {
    public enum Scheme: String, Sendable {
        case mbr = "MBR"
        case gpt = "GPT"
    }

    public struct Partition: Sendable, Equatable {
        /// 1-based, as tools number them.
        public let number: Int
        public let offset: Int64
        public let length: Int64
        /// `0x83` for MBR; the type GUID for GPT.
        public let type: String
        public let name: String?
    }

    public let scheme: Scheme
    public let partitions: [Partition]

    public static let sector: Int64 = 512

    /// Parses the table; nil when the disk has none (no MBR signature). `read` gives bytes at
    /// an offset of the disk.
    public static func read(size: Int64, _ read: (Int64, Int) throws -> [UInt8]) throws -> PartitionTable? {
        let first = try read(0, 512)
        guard first.count == 512, first[510] == 0x55, first[511] == 0xaa else { return nil }
        // A FAT or NTFS boot sector ends in 0x55AA too: its code is no table when a boot flag
        // is neither 0x00 nor 0x80, or it carries a file system's signature.
        let bootFlags = (0..<4).map { first[446 + $0 * 16] }
        let fileSystem =
            Array(first[3..<11]) == Array("NTFS    ".utf8) || Array(first[82..<87]) == Array("FAT32".utf8)
            || Array(first[54..<57]) == Array("FAT".utf8)
        guard bootFlags.allSatisfy({ $0 == 0 || $0 == 0x80 }), !fileSystem else { return nil }
        var entries: [Partition] = []
        for index in 0..<4 {
            let entry = Array(first[(446 + index * 16)..<(446 + index * 16 + 16)])
            let type = entry[4]
            let start = Int64(uint32(entry, 8)) * sector
            let count = Int64(uint32(entry, 12)) * sector
            if type == 0xee { return try gpt(size: size, read) }
            guard type != 0, count > 0 else { continue }
            guard start + count <= size else {
                throw PartitionError(
                    "MBR partition \(index + 1) ends at byte \(start + count), past the disk's \(size) bytes: the table is damaged")
            }
            entries.append(Partition(number: index + 1, offset: start, length: count, type: String(format: "0x%02x", type), name: nil))
        }
        return PartitionTable(scheme: .mbr, partitions: entries)
    }

    /// The GPT behind a protective MBR: header at LBA 1 ("EFI PART"), entries where it says.
    static func gpt(size: Int64, _ read: (Int64, Int) throws -> [UInt8]) throws -> PartitionTable {
        let header = try read(sector, 92)
        guard header.count == 92, Array(header[0..<8]) == Array("EFI PART".utf8) else {
            throw PartitionError("the MBR says GPT but sector 1 holds no GPT header: the table is damaged")
        }
        // Every LBA checked against the disk before it is multiplied: a guest writes these
        // numbers, and an overflow must be a refusal, not a crash.
        let sectors = UInt64(size / sector)
        let entriesLBA = uint64(header, 72)
        let count = Int(uint32(header, 80))
        let entrySize = Int(uint32(header, 84))
        guard entriesLBA < sectors, (1...1024).contains(count), (128...4096).contains(entrySize),
            Int64(entriesLBA) * sector + Int64(count * entrySize) <= size
        else {
            throw PartitionError(
                "the GPT header names \(count) entries of \(entrySize) bytes at sector \(entriesLBA) of a \(sectors)-sector disk: the table is damaged"
            )
        }
        let entriesAt = Int64(entriesLBA) * sector
        let bytes = try read(entriesAt, count * entrySize)
        var partitions: [Partition] = []
        for index in 0..<count {
            let entry = Array(bytes[(index * entrySize)..<(index * entrySize + 128)])
            guard entry[0..<16].contains(where: { $0 != 0 }) else { continue }
            let rawFirst = uint64(entry, 32), rawLast = uint64(entry, 40)
            guard rawFirst <= rawLast, rawLast < sectors else {
                throw PartitionError(
                    "GPT partition \(index + 1) spans sectors \(rawFirst)-\(rawLast), past the disk's \(sectors): the table is damaged")
            }
            let firstLBA = Int64(rawFirst), lastLBA = Int64(rawLast)
            let units = stride(from: 56, to: 128, by: 2).map { UInt16(entry[$0]) | UInt16(entry[$0 + 1]) << 8 }.prefix { $0 != 0 }
            partitions.append(
                Partition(
                    number: index + 1, offset: firstLBA * sector, length: (lastLBA - firstLBA + 1) * sector, type: guid(entry, 0),
                    name: units.isEmpty ? nil : String(decoding: units, as: UTF16.self)))
        }
        return PartitionTable(scheme: .gpt, partitions: partitions)
    }

    /// A GUID as written (its first three fields little-endian).
    static func guid(_ bytes: [UInt8], _ at: Int) -> String {
        let b = Array(bytes[at..<(at + 16)])
        let first = [b[3], b[2], b[1], b[0]], second = [b[5], b[4]], third = [b[7], b[6]]
        func hex(_ part: [UInt8]) -> String { part.map { String(format: "%02X", $0) }.joined() }
        return "\(hex(first))-\(hex(second))-\(hex(third))-\(hex(Array(b[8..<10])))-\(hex(Array(b[10..<16])))"
    }

    static func uint32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) }
    }

    static func uint64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }
}

/// A partition table that cannot be read as written.
public struct PartitionError: Error, CustomStringConvertible, Sendable {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
