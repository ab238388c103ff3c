import CExt2fs
import Glibc
import Synchronization

/// An ext2/3/4 file system read through libext2fs from blocks Tidemark hands it (a restore
/// point's chunks), never from a device or a mount: nothing is mounted, nothing needs root,
/// and reading one file reads only the blocks its inode, its directories and its extents
/// live in. Read-only by construction (the I/O manager refuses every write).
///
/// libext2fs is not thread-safe for one file system, so every call holds the handle's lock;
/// callers run these calls on blocking threads, never on the cooperative pool.
public final class Ext4FileSystem: Sendable {
    /// Reads bytes at an offset of the file system (the partition's start is offset 0).
    public typealias Reader = @Sendable (_ offset: Int64, _ into: UnsafeMutableRawBufferPointer) throws -> Void

    /// What the C side reads through; kept alive as long as the handle. Touched only under
    /// `state`'s lock (libext2fs calls back on the thread that holds it).
    final class Source: @unchecked Sendable {
        let reader: Reader
        let size: Int64
        var failure: (any Error)?
        var bytesRead: Int64 = 0

        init(reader: @escaping Reader, size: Int64) {
            self.reader = reader
            self.size = size
        }

        func read(_ offset: UInt64, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int32 {
            guard let buffer else { return EINVAL }
            guard count >= 0, Int64(count) <= size, offset <= UInt64(size - Int64(count)) else {
                failure = Ext4Error(
                    .damaged, "the file system asks for \(count) bytes at byte \(offset), past its partition's \(size) bytes")
                return ERANGE
            }
            do {
                try reader(Int64(offset), UnsafeMutableRawBufferPointer(start: buffer, count: count))
                bytesRead += Int64(count)
                return 0
            } catch {
                failure = error
                return EIO
            }
        }
    }

    /// Held around every libext2fs call.
    private let lock = Mutex(())
    nonisolated(unsafe) private let handle: OpaquePointer
    private let source: Source
    public let blockSize: Int
    public let blockCount: UInt64
    public let inodeCount: UInt32
    public let label: String?
    /// The journal holds writes not yet in place (the guest was running at the snapshot): a
    /// listing or a restore shows the file system without them, as a mount without
    /// recovery would.
    public let needsRecovery: Bool

    /// Opens the file system `size` bytes long that `reader` reads; refused with
    /// `.notExt4` when there is no ext2/3/4 superblock, `.damaged` when libext2fs refuses it.
    public init(size: Int64, reader: @escaping Reader) throws {
        let source = Source(reader: reader, size: size)
        var handle: OpaquePointer?
        let code = tm_ext_open(Unmanaged.passUnretained(source).toOpaque(), readThrough, &handle)
        if let failure = source.failure { throw failure }
        guard code == 0, let handle else {
            throw code == Self.badMagic
                ? Ext4Error(.notExt4, "no ext2/3/4 superblock at byte 1024 (\(Self.message(code)))")
                : Ext4Error(.damaged, "libext2fs cannot open the file system: \(Self.message(code))")
        }
        var blockSize: UInt32 = 0, blocks: UInt64 = 0, inodes: UInt32 = 0
        var label: UnsafePointer<CChar>?
        tm_ext_geometry(handle, &blockSize, &blocks, &inodes, &label)
        self.blockSize = Int(blockSize)
        self.blockCount = blocks
        self.inodeCount = inodes
        let name = label.map { pointer in
            String(decoding: UnsafeRawBufferPointer(start: pointer, count: 16).prefix { $0 != 0 }, as: UTF8.self)
        }
        self.label = name?.isEmpty == false ? name : nil
        self.needsRecovery = tm_ext_needs_recovery(handle) != 0
        self.handle = handle
        self.source = source
    }

    deinit {
        tm_ext_close(handle)
    }

    /// Runs `body` with the handle, holding the lock.
    private func locked<Value>(_ body: (OpaquePointer, Source) throws -> Value) throws -> Value {
        try lock.withLock { _ in
            // A read error libext2fs got past belongs to the call that met it, not to this one.
            source.failure = nil
            return try body(handle, source)
        }
    }

    /// What libext2fs says when the superblock is not there.
    static let badMagic = tm_ext_code_bad_magic()

    public static let rootInode: UInt32 = tm_ext_root()

    /// Bytes read from the reader so far (what a restore of one file cost).
    public var bytesRead: Int64 { lock.withLock { _ in source.bytesRead } }

    /// The inode's metadata.
    public func metadata(_ inode: UInt32) throws -> Ext4Metadata {
        try call("read inode \(inode)") { handle in
            var raw = tm_ext_inode()
            let code = tm_ext_stat(handle, inode, &raw)
            return (code, code == 0 ? Ext4Metadata(inode: inode, raw) : nil)
        }!
    }

    /// One name in a directory, or nil when it has none.
    public func lookup(_ name: String, in directory: UInt32) throws -> UInt32? {
        let bytes = Array(name.utf8)
        return try locked { handle, source -> UInt32? in
            var inode: UInt32 = 0
            let code = bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { tm_ext_lookup(handle, directory, $0.baseAddress, Int32($0.count), &inode) }
            }
            if code == Self.fileNotFound { return nil }
            try check(code, source, "look up '\(name)' in directory inode \(directory)")
            return inode
        }
    }

    /// What libext2fs says when a directory has no such name.
    static let fileNotFound = tm_ext_code_not_found()

    /// The directory's entries (without `.` and `..`), in the order the directory holds them.
    public func entries(of directory: UInt32) throws -> [(name: String, inode: UInt32)] {
        let collected = CollectedEntries()
        try locked { handle, source in
            let code = tm_ext_list(handle, directory, collectEntry, Unmanaged.passUnretained(collected).toOpaque())
            try check(code, source, "list directory inode \(directory)")
        }
        return collected.entries
    }

    /// A symbolic link's target, as the guest wrote it.
    public func linkTarget(_ inode: UInt32) throws -> String {
        try locked { handle, source in
            var buffer = [CChar](repeating: 0, count: 65_536)
            var length = 0
            let code = tm_ext_readlink(handle, inode, &buffer, buffer.count, &length)
            try check(code, source, "read symbolic link inode \(inode)")
            return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// The file's bytes in pieces of up to `piece` bytes, in order.
    public func read(_ inode: UInt32, piece: Int = 1 << 20, _ each: (UnsafeRawBufferPointer) throws -> Void) throws {
        try locked { handle, source in
            var file: OpaquePointer?
            try check(tm_ext_file_open(handle, inode, &file), source, "open file inode \(inode)")
            defer { tm_ext_file_close(file) }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: piece, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                var got: UInt32 = 0
                try check(tm_ext_file_read(file, buffer.baseAddress, UInt32(piece), &got), source, "read file inode \(inode)")
                if got == 0 { return }
                try each(UnsafeRawBufferPointer(rebasing: buffer[0..<Int(got)]))
            }
        }
    }

    private func call<Value>(_ what: String, _ body: (OpaquePointer) -> (Int, Value?)) throws -> Value? {
        try locked { handle, source in
            let (code, value) = body(handle)
            try check(code, source, what)
            return value
        }
    }

    /// The reader's own error when it failed (a missing chunk stays a repository error),
    /// else libext2fs's words for `code`.
    private func check(_ code: Int, _ source: Source, _ what: String) throws {
        guard code != 0 else { return }
        if let failure = source.failure {
            source.failure = nil
            throw failure
        }
        throw Ext4Error(.damaged, "cannot \(what): \(Self.message(code))")
    }

    static func message(_ code: Int) -> String {
        String(cString: tm_ext_message(code))
    }
}

extension Ext4Metadata {
    init(inode: UInt32, _ raw: tm_ext_inode) {
        self.init(
            inode: inode, kind: Kind(mode: raw.mode), permissions: raw.mode & 0o7777, uid: raw.uid, gid: raw.gid, size: raw.size,
            links: raw.links, modified: (raw.mtime, min(raw.mtime_nsec, 999_999_999)),
            accessed: (raw.atime, min(raw.atime_nsec, 999_999_999)))
    }
}

/// The C reader: the context is the file system's `Source`.
private let readThrough: tm_ext_read_fn = { context, offset, buffer, count in
    Unmanaged<Ext4FileSystem.Source>.fromOpaque(context!).takeUnretainedValue().read(offset, buffer, count)
}

/// A listing's entries, filled by `collectEntry` on the listing's own thread; names no
/// sound ext4 holds (empty, `.`, `..` past the first two, with `/` or NUL) are left out and
/// counted: a path built from them could climb out of wherever it is used.
private final class CollectedEntries {
    var entries: [(name: String, inode: UInt32)] = []
    var refused = 0
}

/// The C listing callback: appends to the collector the context points to. A name is the
/// guest's bytes; one that is not UTF-8 is shown with replacement characters.
private let collectEntry: tm_ext_entry_fn = { context, name, length, inode in
    let collected = Unmanaged<CollectedEntries>.fromOpaque(context!).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: name, count: Int(max(length, 0)))
    let text = String(decoding: bytes, as: UTF8.self)
    guard !bytes.isEmpty, !bytes.contains(0x2f), !bytes.contains(0), text != ".", text != ".." else {
        collected.refused += 1
        return 0
    }
    collected.entries.append((text, inode))
    return 0
}
