/// What a partition holds, told by the signatures file systems write at known places: ext2/3/4
/// (the superblock's magic 0xEF53 at byte 1080, its label at 1144), XFS, NTFS, FAT, Btrfs,
/// LVM, swap. Only ext4 (and ext2/3, read the same way) is read by Tidemark; the others are
/// named so a refusal can say what was found.
public enum FileSystemProbe {
    public struct Found: Sendable, Equatable {
        /// `ext4`, `xfs`, `ntfs`, `vfat`, `btrfs`, `LVM2_member`, `swap`, or nil: unknown.
        public let type: String?
        public let label: String?
        /// Tidemark reads its files.
        public var readable: Bool { ["ext2", "ext3", "ext4"].contains(type) }
    }

    /// Probes from the partition's first 68 KiB (`bytes`, fewer when the partition is smaller).
    public static func probe(_ bytes: [UInt8]) -> Found {
        func has(_ text: String, at offset: Int) -> Bool {
            let wanted = Array(text.utf8)
            return bytes.count >= offset + wanted.count && Array(bytes[offset..<(offset + wanted.count)]) == wanted
        }
        if bytes.count >= 1024 + 1024, bytes[1080] == 0x53, bytes[1081] == 0xef {
            let compatible = PartitionTable.uint32(bytes, 1024 + 92), incompatible = PartitionTable.uint32(bytes, 1024 + 96)
            let readOnly = PartitionTable.uint32(bytes, 1024 + 100)
            let label = String(decoding: bytes[1144..<1160].prefix { $0 != 0 }, as: UTF8.self)
            // As blkid tells them: a journal device (incompat JOURNAL_DEV) holds no files; any
            // feature beyond ext3's (incompat FILETYPE, RECOVER, META_BG; ro_compat
            // SPARSE_SUPER, LARGE_FILE, BTREE_DIR) makes it ext4; a journal alone, ext3.
            let type =
                incompatible & 0x8 != 0
                ? "jbd"
                : incompatible & ~UInt32(0x2 | 0x4 | 0x10) != 0 || readOnly & ~UInt32(0x1 | 0x2 | 0x4) != 0
                    ? "ext4" : compatible & 0x4 != 0 ? "ext3" : "ext2"
            return Found(type: type, label: label.isEmpty ? nil : label)
        }
        if has("XFSB", at: 0) { return Found(type: "xfs", label: nil) }
        if has("NTFS    ", at: 3) { return Found(type: "ntfs", label: nil) }
        if has("FAT32   ", at: 82) || has("FAT16   ", at: 54) || has("FAT12   ", at: 54) { return Found(type: "vfat", label: nil) }
        if has("_BHRfS_M", at: 65_600) { return Found(type: "btrfs", label: nil) }
        if has("LABELONE", at: 512) { return Found(type: "LVM2_member", label: nil) }
        if has("SWAPSPACE2", at: 4_086) { return Found(type: "swap", label: nil) }
        return Found(type: nil, label: nil)
    }
}
