import BlockingIO
import Foundation

/// Where a disk's bytes come from: one disk of one snapshot, read at random offsets.
///
/// The lab adapter and the vSphere adapter give the data mover one of these; a raw image
/// file is the simplest. Local files are read on the blocking I/O pool, never on the cooperative one.
public protocol BlockSource: Sendable {
    /// The disk's size in bytes, fixed for the snapshot.
    var size: Int64 { get }
    /// Names what is read (the snapshot and disk, or the file's inode and modification
    /// time), so an interrupted transfer resumes only against the same source.
    var identity: String { get }
    /// Fills `buffer` from `offset`; throws if the disk ends early or cannot be read. Async
    /// because a network source waits on vCenter: it must not hold a cooperative thread.
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) async throws
}

extension BlockSource {
    /// `count` bytes from `offset` as an array: for checks and tests, not the data path.
    public func bytes(at offset: Int64, count: Int) async throws -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
        defer { buffer.deallocate() }
        try await read(at: offset, into: buffer)
        return Array(buffer)
    }
}

/// A raw disk image file, opened once; its size is taken when it is opened, as a snapshot's is.
public final class ImageFileSource: BlockSource {
    public let path: String
    public let size: Int64
    public let identity: String
    private let descriptor: Int32

    public init(path: String) throws(InfrastructureError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw InfrastructureError(.diskUnreadable, "cannot open the disk image \(path): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw InfrastructureError(.diskUnreadable, "the disk image \(path) is not a regular file")
        }
        self.path = path
        self.size = Int64(info.st_size)
        self.identity = "file \(path) inode \(info.st_ino) modified \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) async throws {
        nonisolated(unsafe) let buffer = buffer
        try await BlockingIOPool.shared.run { [descriptor, path, size] () throws(InfrastructureError) in
            try readFully(descriptor, path: path, size: size, at: offset, into: buffer)
        }
    }
}

/// `pread` until the buffer is full; a short file is an error that says where it ended.
func readFully(
    _ descriptor: Int32, path: String, size: Int64, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer
)
    throws(InfrastructureError)
{
    var done = 0
    while done < buffer.count {
        let result = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
        if result < 0 {
            if errno == EINTR { continue }
            throw InfrastructureError(
                .diskUnreadable, "reading \(path) at offset \(offset + Int64(done)) failed: \(String(cString: strerror(errno)))")
        }
        if result == 0 {
            throw InfrastructureError(
                .diskUnreadable,
                "the disk \(path) ended at offset \(offset + Int64(done)), short of its \(size) bytes: it shrank or vanished while it was read"
            )
        }
        done += result
    }
}

/// `pwrite` until all of `bytes` is written at `offset`; an error names the file and offset.
public func writeFully(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, path: String) throws(InfrastructureError) {
    var done = 0
    while done < bytes.count {
        let result = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
        if result < 0 {
            if errno == EINTR { continue }
            throw InfrastructureError(.io, "writing \(path) at offset \(offset + Int64(done)) failed: \(String(cString: strerror(errno)))")
        }
        done += result
    }
}
