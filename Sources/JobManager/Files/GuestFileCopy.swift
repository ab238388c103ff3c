import Ext4
import Foundation

/// Guest files copied out of a restore point into a folder on this machine: files with their
/// bytes, folders recursively, symbolic links as links (never followed), with the mode, the
/// times and — when the process may — the owner the guest gave them.
///
/// Nothing is written outside the folder: every entry is made relative to its parent's open
/// descriptor with `O_NOFOLLOW`/`O_EXCL`, so a link already in the folder (or one the copy just
/// made) is never written through. Blocking: run it on an I/O thread.
struct GuestFileCopy {
    /// What was written, for the restore's outcome.
    struct Summary: Sendable, Equatable {
        var files = 0
        var directories = 0
        var links = 0
        var bytes: Int64 = 0
        /// Entries not restored, each with why (devices, sockets, FIFOs; a folder in the way).
        var skipped: [String] = []
        /// False when the guest's owners could not be set (not running as root).
        var ownersKept = true
    }

    let fileSystem: Ext4FileSystem
    let folder: String
    let overwrite: Bool
    private(set) var summary = Summary()
    private let isRoot = geteuid() == 0
    /// Folders entered (by inode): a folder met again through a damaged tree is not copied twice.
    private var entered: Set<UInt32> = []
    /// Deeper than this is left out: no sound tree nests so far, a hostile one would exhaust
    /// the thread's stack or descriptors.
    static let depthLimit = 256
    /// ext4's largest file (16 TiB with 4 KiB blocks): a size beyond it is damage, not a file.
    static let sizeLimit: UInt64 = 16 << 40

    init(fileSystem: Ext4FileSystem, folder: String, overwrite: Bool) {
        self.fileSystem = fileSystem
        self.folder = folder
        self.overwrite = overwrite
        summary.ownersKept = isRoot
    }

    /// Copies each guest path (`/etc/hosts`, `/var/log`) into the folder under its last name;
    /// `/` copies the root's contents.
    mutating func copy(_ paths: [String]) throws {
        try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let top = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard top >= 0 else { throw failure("open", folder) }
        defer { close(top) }
        for path in paths {
            let located = try fileSystem.locate(path)
            if located.path == "/" {
                for child in try fileSystem.children(of: located) { try copy(child, into: top, at: "", depth: 1) }
            } else {
                try copy(located, into: top, at: "", depth: 1)
            }
        }
    }

    /// One entry into the folder open as `parent`; `relative` is that folder's path under the
    /// target (for messages).
    private mutating func copy(_ entry: Ext4Located, into parent: Int32, at relative: String, depth: Int) throws {
        let name = String(entry.path.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
        let shown = relative.isEmpty ? name : relative + "/" + name
        let metadata = entry.metadata
        // Defence in depth: the listing already leaves such names out.
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.utf8.contains(0) else {
            summary.skipped.append("\(entry.path): a name that cannot be restored")
            return
        }
        guard depth <= Self.depthLimit else {
            summary.skipped.append("\(entry.path): nested deeper than \(Self.depthLimit) folders")
            return
        }
        switch metadata.kind {
        case .file where metadata.size > Self.sizeLimit:
            summary.skipped.append("\(entry.path): its size (\(metadata.size) bytes) is beyond ext4's largest file: damaged")
        case .file:
            let descriptor = try create(name, in: parent, shown: shown) {
                openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            }
            defer { close(descriptor) }
            var written: Int64 = 0
            // Zeros are skipped over (a hole), so a sparse file stays sparse and a huge empty
            // one takes no space; the size is set at the end.
            try fileSystem.read(metadata.inode) { piece in
                // In 4 KiB steps, as a file system allocates: a zero step is left a hole.
                var step = 0
                while step < piece.count {
                    let length = min(4_096, piece.count - step)
                    let part = UnsafeRawBufferPointer(rebasing: piece[step..<(step + length)])
                    if part.contains(where: { $0 != 0 }) {
                        var done = 0
                        while done < length {
                            let count = pwrite(
                                descriptor, part.baseAddress! + done, length - done, off_t(written + Int64(step + done)))
                            guard count > 0 else { throw failure("write", shown) }
                            done += count
                        }
                    }
                    step += length
                }
                written += Int64(piece.count)
            }
            guard ftruncate(descriptor, off_t(written)) == 0 else { throw failure("set the size of", shown) }
            summary.files += 1
            summary.bytes += written
            try keep(metadata, descriptor: descriptor, shown: shown)
        case .directory where !entered.insert(metadata.inode).inserted:
            summary.skipped.append("\(entry.path): a folder met twice (the tree is damaged)")
        case .directory:
            if mkdirat(parent, name, 0o700) != 0 {
                guard errno == EEXIST else { throw failure("make the folder", shown) }
                var existing = stat()
                guard fstatat(parent, name, &existing, AT_SYMLINK_NOFOLLOW) == 0 else { throw failure("look at", shown) }
                if existing.st_mode & S_IFMT != S_IFDIR {
                    guard overwrite else { throw exists(shown) }
                    guard unlinkat(parent, name, 0) == 0, mkdirat(parent, name, 0o700) == 0 else { throw failure("replace", shown) }
                } else if !overwrite {
                    throw exists(shown)
                }
            }
            let descriptor = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard descriptor >= 0 else { throw failure("open the folder", shown) }
            defer { close(descriptor) }
            for child in try fileSystem.children(of: entry) { try copy(child, into: descriptor, at: shown, depth: depth + 1) }
            summary.directories += 1
            try keep(metadata, descriptor: descriptor, shown: shown)
        case .symlink:
            let target = try fileSystem.linkTarget(metadata.inode)
            _ = try create(name, in: parent, shown: shown) { symlinkat(target, parent, name) == 0 ? 0 : -1 }
            summary.links += 1
            if isRoot, fchownat(parent, name, metadata.uid, metadata.gid, AT_SYMLINK_NOFOLLOW) != 0 { summary.ownersKept = false }
            var times = Self.times(metadata)
            guard utimensat(parent, name, &times, AT_SYMLINK_NOFOLLOW) == 0 else { throw failure("set the times of", shown) }
        default:
            summary.skipped.append("\(entry.path): a \(metadata.kind.rawValue) is not restored")
        }
    }

    /// Makes an entry with `make` (which returns a descriptor or 0, or -1 with errno); an
    /// entry already there is replaced only with `overwrite`, and never a folder by a file.
    private func create(_ name: String, in parent: Int32, shown: String, _ make: () -> Int32) throws -> Int32 {
        var result = make()
        if result < 0, errno == EEXIST {
            guard overwrite else { throw exists(shown) }
            var existing = stat()
            if fstatat(parent, name, &existing, AT_SYMLINK_NOFOLLOW) == 0, existing.st_mode & S_IFMT == S_IFDIR {
                throw RestoreError(.targetExists, "\(folder)/\(shown) is a folder on this machine: it is not replaced by a file")
            }
            guard unlinkat(parent, name, 0) == 0 else { throw failure("replace", shown) }
            result = make()
        }
        guard result >= 0 else { throw failure("make", shown) }
        return result
    }

    /// The guest's mode, owner (as root) and times on a made file or folder.
    private mutating func keep(_ metadata: Ext4Metadata, descriptor: Int32, shown: String) throws {
        if isRoot, fchown(descriptor, metadata.uid, metadata.gid) != 0 { summary.ownersKept = false }
        // Never setuid or setgid on this machine: a guest's program must not run with its
        // owner's rights here.
        guard fchmod(descriptor, mode_t(metadata.permissions & 0o1777)) == 0 else { throw failure("set the mode of", shown) }
        var times = Self.times(metadata)
        guard futimens(descriptor, &times) == 0 else { throw failure("set the times of", shown) }
    }

    static func times(_ metadata: Ext4Metadata) -> [timespec] {
        [
            timespec(tv_sec: Int(metadata.accessed.seconds), tv_nsec: Int(metadata.accessed.nanoseconds)),
            timespec(tv_sec: Int(metadata.modified.seconds), tv_nsec: Int(metadata.modified.nanoseconds)),
        ]
    }

    private func exists(_ shown: String) -> RestoreError {
        RestoreError(.targetExists, "\(folder)/\(shown) exists: add --overwrite to replace what is there")
    }

    private func failure(_ what: String, _ shown: String) -> RestoreError {
        let reason = String(cString: strerror(errno))
        return RestoreError(.io, "cannot \(what) \(shown.hasPrefix("/") ? shown : "\(folder)/\(shown)"): \(reason)")
    }
}
