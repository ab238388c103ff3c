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

    init(fileSystem: Ext4FileSystem, folder: String, overwrite: Bool) {
        self.fileSystem = fileSystem
        self.folder = folder
        self.overwrite = overwrite
        summary.ownersKept = isRoot
    }

    /// Copies each guest path (`/etc/hosts`, `/var/log`) into the folder under its last name;
    /// `/` copies the root's contents.
    mutating func copy(_ paths: [String]) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let top = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard top >= 0 else { throw failure("open", folder) }
        defer { close(top) }
        for path in paths {
            let located = try fileSystem.locate(path)
            if located.path == "/" {
                for child in try fileSystem.children(of: located) { try copy(child, into: top, at: "") }
            } else {
                try copy(located, into: top, at: "")
            }
        }
    }

    /// One entry into the folder open as `parent`; `relative` is that folder's path under the
    /// target (for messages).
    private mutating func copy(_ entry: Ext4Located, into parent: Int32, at relative: String) throws {
        let name = String(entry.path.split(separator: "/").last ?? "")
        let shown = relative.isEmpty ? name : relative + "/" + name
        let metadata = entry.metadata
        switch metadata.kind {
        case .file:
            let descriptor = try create(name, in: parent, shown: shown) {
                openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            }
            defer { close(descriptor) }
            var written: Int64 = 0
            try fileSystem.read(metadata.inode) { piece in
                var done = 0
                while done < piece.count {
                    let count = write(descriptor, piece.baseAddress! + done, piece.count - done)
                    guard count > 0 else { throw failure("write", shown) }
                    done += count
                }
                written += Int64(piece.count)
            }
            summary.files += 1
            summary.bytes += written
            try keep(metadata, descriptor: descriptor, shown: shown)
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
            for child in try fileSystem.children(of: entry) { try copy(child, into: descriptor, at: shown) }
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
        guard fchmod(descriptor, mode_t(metadata.permissions)) == 0 else { throw failure("set the mode of", shown) }
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
