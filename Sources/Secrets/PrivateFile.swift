import Foundation

/// Checks that keep a secret file the service's own: a regular file (not a link, a device or
/// a folder), owned by the account Tidemark runs as, readable by nobody else. A file anyone
/// else could write or read is not trusted with a password, and a path the catalog names is
/// never followed to a file the account merely happens to be able to read.
enum PrivateFile {
    /// The canonical path (links resolved) of an existing file.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Refuses anything but a regular file owned by this account with no group or other bits.
    static func check(_ path: String, what: String) throws(SecretError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw SecretError(.notFound, "\(what) \(path) cannot be read: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw SecretError(.unsafeFile, "\(what) \(path) is not a regular file (a link, folder or device): give the file itself")
        }
        guard info.st_uid == geteuid() else {
            throw SecretError(
                .unsafeFile,
                "\(what) \(path) belongs to user id \(info.st_uid), not to the account Tidemark runs as (\(geteuid())): chown it to that account"
            )
        }
        guard info.st_mode & 0o077 == 0 else {
            throw SecretError(
                .unsafeFile,
                "\(what) \(path) can be read or written by others (mode \(String(info.st_mode & 0o777, radix: 8))): chmod 600 it")
        }
    }

    /// Reads a checked file whole.
    static func read(_ path: String, what: String) throws(SecretError) -> Data {
        try check(path, what: what)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecretError(.io, "\(what) \(path) cannot be read")
        }
        return data
    }

    /// Writes atomically with mode 0600 (a temporary file renamed over the target).
    static func write(_ data: Data, to path: String) throws(SecretError) {
        let temporary = path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SecretError(.io, "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == data.count, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw SecretError(.io, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Makes a folder only this account may enter, or checks an existing one is such.
    static func privateFolder(_ path: String) throws(SecretError) {
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw SecretError(.io, "cannot create the folder \(path): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw SecretError(.unsafeFile, "\(path) is not a folder")
        }
        guard info.st_uid == geteuid(), info.st_mode & 0o077 == 0 else {
            throw SecretError(
                .unsafeFile,
                "the folder \(path) must belong to the account Tidemark runs as and be closed to others (mode \(String(info.st_mode & 0o777, radix: 8))): chmod 700 it"
            )
        }
    }
}
