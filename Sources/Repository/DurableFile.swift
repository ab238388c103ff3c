import Foundation

/// Writes that are atomic and durable: a temporary file in the target's folder, fsync, rename
/// over the target, fsync of the folder. A crash leaves either the old file or the whole new
/// one, never a part; leftover temporary files start with `.tmp-` and are never read.
public enum DurableFile {
    static let temporaryPrefix = ".tmp-"

    ///
    /// `remakingFolder`: a folder that another writer may remove once it is empty (saved
    /// progress) is made again if it is gone when the temporary file is created; once that
    /// file is inside, the folder cannot be removed under the write.
    ///
    /// `flushed: false` leaves out the file's and the folder's flushes: the file is whole once
    /// renamed (never a part), but only durable after a later `ChunkFlushBarrier.flush` (chunks, which
    /// a manifest names only after one).
    public static func write(
        _ bytes: [UInt8], to path: String, remakingFolder: Bool = false, flushed: Bool = true
    ) throws(RepositoryError) {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = directory + "/" + temporaryPrefix + UUID().uuidString
        var descriptor = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644)
        var remade = 0
        while descriptor < 0, errno == ENOENT, remakingFolder, remade < 5 {
            try makeDirectory(directory)
            descriptor = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644)
            remade += 1
        }
        guard descriptor >= 0 else {
            throw failure("could not create a file in \(directory)")
        }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                Foundation.write(descriptor, buffer.baseAddress! + written, bytes.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                let error = failure("could not write \(temporary)")
                close(descriptor)
                unlink(temporary)
                throw error
            }
            written += result
        }
        guard !flushed || fsync(descriptor) == 0 else {
            let error = failure("could not flush \(temporary)")
            close(descriptor)
            unlink(temporary)
            throw error
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let error = failure("could not move a new file to \(path)")
            unlink(temporary)
            throw error
        }
        if flushed { try syncDirectory(directory) }
    }

    /// Makes a folder's entries (a rename, a new file) durable.
    public static func syncDirectory(_ directory: String) throws(RepositoryError) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("could not open the folder \(directory)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw failure("could not flush the folder \(directory)") }
    }

    /// Whether `path` is a folder (following links).
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates a folder (and makes its entry durable) unless it exists.
    static func makeDirectory(_ path: String) throws(RepositoryError) {
        if mkdir(path, 0o755) == 0 {
            try syncDirectory((path as NSString).deletingLastPathComponent)
        } else if errno != EEXIST {
            throw failure("could not create the folder \(path)")
        }
    }

    public static func read(_ path: String) throws(RepositoryError) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw failure("could not open \(path)")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw failure("could not stat \(path)") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let result = bytes.withUnsafeMutableBytes { buffer in
                Foundation.read(descriptor, buffer.baseAddress! + done, buffer.count - done)
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw failure("could not read \(path)")
            }
            if result == 0 { break }
            done += result
        }
        if done < bytes.count { bytes.removeSubrange(done...) }
        return bytes
    }

    private static func failure(_ what: String) -> RepositoryError {
        let code = errno
        if code == EACCES || code == EROFS || code == EPERM {
            return RepositoryError(
                .notWritable,
                "\(what): \(errnoText(code)); check the repository's permissions and that its file system is mounted read-write")
        }
        if code == ENOSPC {
            return RepositoryError(.io, "\(what): the file system is full; free space or move the repository")
        }
        return RepositoryError(.io, "\(what): \(errnoText(code))")
    }
}
