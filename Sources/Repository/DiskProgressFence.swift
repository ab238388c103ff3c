import Foundation

/// The fencing token of the transfer that owns a disk's progress, kept beside it in the
/// repository (`in-progress/<restore point>/<disk>.fence`).
///
/// A task may move from one proxy to another (its process stopped heartbeating). The one that
/// lost it may still be running — frozen, cut off from the database, not yet told — and must
/// not write the disk's progress or manifest after its successor took over. Each holder gets
/// a larger token (`tidemark.next_assignment_token`); it claims the disk with it before it reads
/// the saved progress, and every progress or manifest write checks it under an exclusive
/// `flock` of the fence file, so a write either happens before the takeover (and the successor
/// reads it) or is refused. The database fences what the session records; this fences what the
/// repository holds. Chunks need no fence: they are named by their content.
public struct DiskProgressFence: Sendable, Equatable {
    public let restorePoint: String
    public let disk: String
    public let token: Int64

    public init(restorePoint: String, disk: String, token: Int64) {
        self.restorePoint = restorePoint
        self.disk = disk
        self.token = token
    }
}

extension BackupRepository {
    func fencePath(restorePoint: String, disk: String) -> String {
        "\(inProgressPath)/\(restorePoint)/\(disk).fence"
    }

    /// Takes the disk's progress for `fence.token`; refused when a larger token took it already
    /// (this holder is the stale one).
    public func claim(_ fence: DiskProgressFence) throws(RepositoryError) {
        try DiskManifest.checkName(fence.restorePoint, what: "restore point id")
        try DiskManifest.checkName(fence.disk, what: "disk name")
        try DurableFile.makeDirectory(inProgressPath)
        try DurableFile.makeDirectory("\(inProgressPath)/\(fence.restorePoint)")
        try withLockedFence(fence, creating: true) { (current: Int64?) throws(RepositoryError) in
            if let current, current > fence.token { throw refusal(fence, current: current) }
            return current == fence.token ? nil : fence.token
        }
    }

    /// Runs `write` while the disk's progress is held under `fence.token` (the fence file
    /// stays locked meanwhile, so no takeover lands in between); refused otherwise.
    public func whileHolding(_ fence: DiskProgressFence?, _ write: () throws(RepositoryError) -> Void) throws(RepositoryError) {
        guard let fence else { return try write() }
        try withLockedFence(fence, creating: false) { (current: Int64?) throws(RepositoryError) in
            guard current == fence.token else { throw refusal(fence, current: current) }
            try write()
            return nil
        }
    }

    /// Forgets a disk's saved progress once its transfer's end is recorded, and closes its
    /// fence for good (a tombstone token no holder can outrank): a holder that lost the task
    /// long ago and wakes now cannot claim the disk afresh and write over the finished one.
    /// The session's end removes the folder with the tombstone (`dropProgress`).
    public func finishProgress(restorePoint: String, disk: String) {
        unlink("\(inProgressPath)/\(restorePoint)/\(disk).json")
        let closed = DiskProgressFence(restorePoint: restorePoint, disk: disk, token: .max)
        try? withLockedFence(closed, creating: true) { _ in .max }
    }

    private func refusal(_ fence: DiskProgressFence, current: Int64?) -> RepositoryError {
        let holder =
            current == .max
            ? "its transfer finished"
            : current.map { "token \($0) holds it now" } ?? "its progress was cleared (the transfer ended or its session did)"
        return RepositoryError(
            .fenced,
            "the transfer of \(fence.restorePoint)/\(fence.disk) under token \(fence.token) was taken over: \(holder); this holder stops")
    }

    /// Opens and locks the fence file, hands `body` the token it holds (nil: none, or no
    /// file), and writes the token `body` returns, if any, before unlocking.
    private func withLockedFence(
        _ fence: DiskProgressFence, creating: Bool, _ body: (Int64?) throws(RepositoryError) -> Int64?
    ) throws(RepositoryError) {
        let path = fencePath(restorePoint: fence.restorePoint, disk: fence.disk)
        let descriptor = Glibc.open(path, O_RDWR | O_CLOEXEC | (creating ? O_CREAT : 0), 0o644)
        guard descriptor >= 0 else {
            if errno == ENOENT && !creating {
                _ = try body(nil)
                return
            }
            throw RepositoryError(.io, "could not open the fence \(path): \(errnoText())")
        }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw RepositoryError(.io, "could not lock the fence \(path): \(errnoText())") }
        }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, 32, 0) }
        guard count >= 0 else { throw RepositoryError(.io, "could not read the fence \(path): \(errnoText())") }
        let text = String(decoding: buffer.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let next = try body(text.isEmpty ? nil : Int64(text) ?? .max) else { return }
        let bytes = Array("\(next)\n".utf8)
        let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, bytes.count, 0) }
        guard written == bytes.count, ftruncate(descriptor, off_t(bytes.count)) == 0, fsync(descriptor) == 0 else {
            throw RepositoryError(.io, "could not write the fence \(path): \(errnoText())")
        }
    }
}
