import Crypto
import Foundation
import Repository
import Synchronization

/// The repository service's own record of what it wrote, deleted and refused, kept on its
/// host beside the data (`service/journal.jsonl`) and apart from the backup server's log, so
/// an attacker holding the backup server can neither erase nor rewrite it.
///
/// One JSON object per line, appended and flushed before the request is answered; each
/// entry holds the SHA-256 of the line before it (`previous`) and of itself (`hash`), so a
/// line removed or edited breaks the chain that ``verify()`` walks.
public final class ServiceJournal: Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        public var sequence: Int64
        public var at: Date
        /// What was asked: `chunk.put`, `manifest.put`, `point.delete`, `gc`, `settings`, `token.issue`, `request`.
        public var action: String
        /// What it was about: a chunk name, `point/disk`, a restore point.
        public var subject: String
        /// `refused`; or `started` before an act and `done` or `failed` after it (a manifest's
        /// save, a deletion, a collection); or `done` alone (a chunk kept, a token, a setting).
        public var outcome: String
        public var reason: String?
        /// Who asked: the token's visible prefix, or `local` for the host's administrator.
        public var actor: String
        public var client: String?
        public var previous: String
        public var hash: String
    }

    public let path: String
    private let state: Mutex<(sequence: Int64, last: String)>

    /// Opens (or starts) the journal at `path`, checking its chain first: a journal that does
    /// not verify is refused, so the service never appends to a record someone edited.
    public init(path: String) throws(RepositoryServiceError) {
        self.path = path
        let entries = try Self.read(path)
        try Self.check(entries, path: path)
        state = Mutex((entries.last?.sequence ?? 0, entries.last?.hash ?? Self.origin))
    }

    static let origin = String(repeating: "0", count: 64)

    /// Appends one entry and flushes it to disk before returning.
    @discardableResult
    public func record(
        _ action: String, _ subject: String, outcome: String, reason: String? = nil, actor: String, client: String? = nil,
        at now: Date = Date()
    ) throws(RepositoryServiceError) -> Entry {
        try state.withLock { (state) throws(RepositoryServiceError) -> Entry in
            var entry = Entry(
                sequence: state.sequence + 1, at: now, action: action, subject: subject, outcome: outcome, reason: reason, actor: actor,
                client: client, previous: state.last, hash: "")
            entry.hash = Self.digest(of: entry)
            guard let line = try? Self.encoder.encode(entry) else {
                throw RepositoryServiceError(.io, "could not encode the journal entry for \(action) \(subject)")
            }
            try Self.append(Array(line) + [0x0A], to: path)
            state = (entry.sequence, entry.hash)
            return entry
        }
    }

    /// Every entry, oldest first.
    public func entries() throws(RepositoryServiceError) -> [Entry] { try Self.read(path) }

    /// Walks the chain; throws naming the first entry that does not follow from the one before.
    public func verify() throws(RepositoryServiceError) -> Int {
        let entries = try Self.read(path)
        try Self.check(entries, path: path)
        return entries.count
    }

    static func check(_ entries: [Entry], path: String) throws(RepositoryServiceError) {
        var previous = origin
        for (index, entry) in entries.enumerated() {
            guard entry.sequence == Int64(index + 1), entry.previous == previous, entry.hash == digest(of: entry) else {
                throw RepositoryServiceError(
                    .damagedJournal,
                    "the service's journal \(path) was changed at entry \(index + 1): its chain does not hold from there; keep the file for investigation and start the service on a copy of the repository without it only if you accept losing that record"
                )
            }
            previous = entry.hash
        }
    }

    /// SHA-256 of the entry with its own hash left empty.
    static func digest(of entry: Entry) -> String {
        var unhashed = entry
        unhashed.hash = ""
        let bytes = (try? encoder.encode(unhashed)) ?? Data()
        return hexString(SHA256.hash(data: bytes))
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func read(_ path: String) throws(RepositoryServiceError) -> [Entry] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RepositoryServiceError(.io, "cannot read the service's journal \(path)")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var entries: [Entry] = []
        for (index, line) in data.split(separator: 0x0A).enumerated() {
            guard let entry = try? decoder.decode(Entry.self, from: Data(line)) else {
                throw RepositoryServiceError(.damagedJournal, "line \(index + 1) of the service's journal \(path) is not an entry")
            }
            entries.append(entry)
        }
        return entries
    }

    /// `O_APPEND` and `fsync`: the line is on disk before the request is answered. A line
    /// that could not be written whole is cut off again, so the journal never holds half an
    /// entry (which would stop the service at its next start).
    static func append(_ bytes: [UInt8], to path: String) throws(RepositoryServiceError) {
        let descriptor = open(path, O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw RepositoryServiceError(.io, "cannot open the service's journal \(path): \(errnoText())") }
        defer { close(descriptor) }
        let start = lseek(descriptor, 0, SEEK_END)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            written += count
        }
        guard written == bytes.count, fsync(descriptor) == 0 else {
            let reason = errnoText()
            if start >= 0 { _ = ftruncate(descriptor, start) }
            throw RepositoryServiceError(.io, "cannot append to the service's journal \(path): \(reason); nothing was done")
        }
    }
}
