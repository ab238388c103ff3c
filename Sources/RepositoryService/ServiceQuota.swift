import Foundation
import Repository
import Synchronization

/// How many bytes of chunks the service keeps at most: a setting of its host (`--quota`), in
/// `service/quota.json`, that no request can change. Without one, a client holding a token
/// could fill the disk with valid chunks no manifest will ever name, and the host's other
/// restore points could then not grow; with one, such a client meets a refusal (507) long
/// before the disk is full, and each refusal is journaled.
///
/// The bytes held are counted once at start (a walk of `chunks/`) and kept as chunks arrive
/// and collection frees them; a chunk is admitted only if it fits, its bytes reserved before
/// it is written so that two at once cannot both take the last room.
final class ServiceQuota: Sendable {
    struct Setting: Codable, Equatable {
        /// nil: no quota.
        var bytes: Int64?
        var changedAt: Date

        enum CodingKeys: String, CodingKey {
            case bytes
            case changedAt = "changed_at"
        }
    }

    private let used: Mutex<Int64>
    let limit: Int64?

    init(limit: Int64?, chunksFolder: String) {
        self.limit = limit
        used = Mutex(Self.bytes(under: chunksFolder))
    }

    var usedBytes: Int64 { used.withLock { $0 } }

    /// Reserves `size` bytes; false (nothing reserved) when they do not fit.
    func reserve(_ size: Int64) -> Bool {
        used.withLock { used in
            if let limit, used + size > limit { return false }
            used += size
            return true
        }
    }

    /// Gives back bytes reserved for a write that failed, or freed by a collection.
    func release(_ size: Int64) {
        used.withLock { $0 = max(0, $0 - size) }
    }

    /// Counts again from the disk: after a collection, which walked every chunk anyway, so
    /// that what a count can miss (two puts of one new chunk at once, each reserving it;
    /// temporary files a collection deleted) does not add up over the months.
    func recount(_ folder: String) {
        let bytes = Self.bytes(under: folder)
        used.withLock { $0 = bytes }
    }

    /// The bytes of the files under `folder`.
    static func bytes(under folder: String) -> Int64 {
        guard let walk = FileManager.default.enumerator(atPath: folder) else { return 0 }
        var total: Int64 = 0
        while let name = walk.nextObject() as? String {
            if let size = walk.fileAttributes?[.size] as? NSNumber, walk.fileAttributes?[.type] as? FileAttributeType == .typeRegular {
                total += size.int64Value
            }
            _ = name
        }
        return total
    }

    /// The setting: `given` when the host's administrator gave one (`.some(nil)`: no quota;
    /// journaled when it changes), else the saved one, else none.
    static func setting(
        given: Int64??, path: String, journal: ServiceJournal, now: Date
    ) throws(RepositoryServiceError) -> Int64? {
        let saved = try ServiceFile.read(Setting.self, from: path, what: "the service's quota file")
        guard let given, given != saved?.bytes else { return saved?.bytes }
        if let bytes = given, bytes < 1 << 20 {
            throw RepositoryServiceError(.invalidInput, "--quota must be at least 1 MiB (or off), not \(bytes) bytes")
        }
        try ServiceFile.write(Setting(bytes: given, changedAt: now), to: path, what: "the quota")
        try journal.record(
            "settings", "quota", outcome: "done",
            reason: "from \(saved?.bytes.map { "\($0) bytes" } ?? "none") to \(given.map { "\($0) bytes" } ?? "none")", actor: "local",
            at: now)
        return given
    }
}
