import BlockingIO
import Foundation
import Infrastructure
import Repository

/// A disk restored to a file: written into a hidden file beside the destination whose name
/// the restore fixes (`.<name>.tidemark-restore-<restore8>`), so a resumed restore continues
/// in it, and moved over the destination only when every block is in (`finish`). Owner-only:
/// a disk restored from an encrypted repository is plaintext now.
final class FileDiskSink: DirectBlockSink {
    let size: Int64
    let destination: String
    let temporary: String
    /// False when a restore that continues found its hidden file gone and made a new one: the
    /// copy then starts over.
    let resumable: Bool
    /// Zeros are written (a raw image) rather than left as holes (a sparse one).
    private let sparse: Bool
    private let replace: Bool
    private let descriptor: Int32

    private init(
        destination: String, temporary: String, descriptor: Int32, size: Int64, sparse: Bool, replace: Bool, resumable: Bool
    ) {
        self.destination = destination
        self.temporary = temporary
        self.descriptor = descriptor
        self.size = size
        self.sparse = sparse
        self.replace = replace
        self.resumable = resumable
    }

    static func temporaryPath(destination: String, restore: String) -> String {
        let folder = (destination as NSString).deletingLastPathComponent
        return folder + "/." + (destination as NSString).lastPathComponent + ".tidemark-restore-" + restore.prefix(8)
    }

    /// Opens the hidden file off the cooperative pool: made afresh (emptied) for a disk that
    /// starts, kept for one that `continuing` (made again, and the copy started over, if it is
    /// gone); owner-only, this account's, sized to the disk, its folder flushed when it is new.
    static func open(
        destination: String, restore: String, size: Int64, sparse: Bool, replace: Bool, continuing: Bool
    ) async throws -> FileDiskSink {
        let temporary = temporaryPath(destination: destination, restore: restore)
        let folder = (destination as NSString).deletingLastPathComponent
        return try await BlockingIOPool.shared.run { () throws(RestoreError) -> FileDiskSink in
            var descriptor: Int32 = -1
            var created = false
            if continuing { descriptor = Glibc.open(temporary, O_RDWR | O_CLOEXEC | O_NOFOLLOW) }
            if descriptor < 0 {
                guard !continuing || errno == ENOENT else {
                    throw RestoreError(.io, "cannot open \(temporary): \(String(cString: strerror(errno)))")
                }
                descriptor = Glibc.open(temporary, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0o600)
                created = true
            }
            guard descriptor >= 0 else {
                throw RestoreError(.io, "cannot create a file in \(folder): \(String(cString: strerror(errno)))")
            }
            var info = stat()
            guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_uid == geteuid(),
                fchmod(descriptor, 0o600) == 0
            else {
                close(descriptor)
                throw RestoreError(
                    .invalidRequest, "\(temporary) is not a regular file of this account: remove it and run the restore again")
            }
            if Int64(info.st_size) != size, ftruncate(descriptor, off_t(size)) != 0 {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw RestoreError(.insufficientSpace, "cannot size \(temporary) to \(size) bytes: \(reason)")
            }
            if created {
                do throws(RepositoryError) {
                    try DurableFile.syncDirectory(folder.isEmpty ? "." : folder)
                } catch {
                    close(descriptor)
                    throw RestoreError(.io, error.message)
                }
            }
            return FileDiskSink(
                destination: destination, temporary: temporary, descriptor: descriptor, size: size, sparse: sparse, replace: replace,
                resumable: !(continuing && created))
        }
    }

    deinit { close(descriptor) }

    /// Whether a finished copy is at the destination and its hidden file gone: a restore that
    /// crashed after moving the file and before recording it.
    static func movedAlready(destination: String, restore: String) -> Bool {
        let temporary = temporaryPath(destination: destination, restore: restore)
        return !FileManager.default.fileExists(atPath: temporary) && FileManager.default.fileExists(atPath: destination)
    }

    func write(at offset: Int64, _ bytes: [UInt8]) async throws {
        try await BlockingIOPool.shared.run { [self] () throws in
            try bytes.withUnsafeBytes { buffer throws in try writeBlocking(at: offset, buffer) }
        }
    }

    func zeros(at offset: Int64, length: Int64) async throws {
        // A sparse file made for this restore holds zeros there already (a crashed run of the
        // same restore wrote only the same restore point's data).
        guard !sparse else { return }
        try await BlockingIOPool.shared.run { [self] () throws in try zerosBlocking(at: offset, length: length) }
    }

    func writeBlocking(at offset: Int64, _ bytes: UnsafeRawBufferPointer) throws {
        try writeFully(descriptor, bytes, at: offset, path: temporary)
    }

    func zerosBlocking(at offset: Int64, length: Int64) throws {
        guard !sparse else { return }
        let chunk = [UInt8](repeating: 0, count: Int(min(length, 1 << 20)))
        var done: Int64 = 0
        while done < length {
            let count = Int(min(Int64(chunk.count), length - done))
            try chunk.withUnsafeBytes { try writeBlocking(at: offset + done, UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            done += Int64(count)
        }
    }

    func read(at offset: Int64, count: Int) async throws -> [UInt8]? { nil }

    func flush() async throws {
        try await BlockingIOPool.shared.run { [descriptor, temporary] () throws(RestoreError) in
            guard fsync(descriptor) == 0 else {
                throw RestoreError(.io, "cannot flush \(temporary): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Flushes, then moves the file over the destination (refused if one appeared meanwhile
    /// and the restore may not replace it) and flushes the folder.
    func finish() async throws {
        try await flush()
        try await BlockingIOPool.shared.run { [temporary, destination, replace] () throws in
            if replace {
                guard rename(temporary, destination) == 0 else {
                    throw RestoreError(.io, "cannot move the restored disk to \(destination): \(String(cString: strerror(errno)))")
                }
            } else {
                // A link fails if the name exists: a file that appeared meanwhile is never replaced.
                guard link(temporary, destination) == 0 || Self.sameFile(temporary, destination) else {
                    if errno == EEXIST {
                        throw RestoreError(
                            .targetExists, "\(destination) appeared while the restore ran: the restored disk is kept in \(temporary)")
                    }
                    throw RestoreError(.io, "cannot move the restored disk to \(destination): \(String(cString: strerror(errno)))")
                }
                unlink(temporary)
            }
            let folder = (destination as NSString).deletingLastPathComponent
            try DurableFile.syncDirectory(folder.isEmpty ? "." : folder)
        }
    }

    /// Whether two names are one file (a crash after the link and before the unlink).
    private static func sameFile(_ first: String, _ second: String) -> Bool {
        var a = stat(), b = stat()
        return lstat(first, &a) == 0 && lstat(second, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }
}
