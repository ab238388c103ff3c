import Foundation

/// The JSON bodies of the repository service's protocol (see ``RepositoryServer``), one
/// definition for the service that writes them and the backup server's client that reads them.
public enum RepositoryProtocol {
    /// `POST chunks/missing`: the names asked about.
    public struct ChunkNames: Codable, Sendable {
        public var chunks: [String]
        public init(chunks: [String]) { self.chunks = chunks }
    }

    /// Its answer: the names the service does not hold.
    public struct MissingChunks: Codable, Sendable {
        public var missing: [String]
        public init(missing: [String]) { self.missing = missing }
    }

    /// `GET restore-points`.
    public struct RestorePoints: Codable, Sendable {
        public var items: [HardenedRepository.Point]
        public init(items: [HardenedRepository.Point]) { self.items = items }
    }

    /// `POST restore-points/{id}/verify`: chunks re-hashed, and what was wrong with any.
    public struct Verification: Codable, Sendable, Equatable {
        public var chunks: Int
        public var problems: [String]
        /// The same problems by chunk, for a backup server's health check to record (absent
        /// from older services).
        public var chunkProblems: [ChunkVerdict]?
        enum CodingKeys: String, CodingKey {
            case chunks, problems
            case chunkProblems = "chunk_problems"
        }
        public init(chunks: Int, problems: [String], chunkProblems: [ChunkVerdict]? = nil) {
            self.chunks = chunks
            self.problems = problems
            self.chunkProblems = chunkProblems
        }
    }

    /// One chunk a verification found bad: missing, or its bytes not what its name says.
    public struct ChunkVerdict: Codable, Sendable, Equatable {
        public var chunk: String
        public var problem: String
        public var missing: Bool
        /// Set aside by the service (`quarantine/`): it answers "missing" for it from now on,
        /// so the next backup that meets its block sends it again.
        public var quarantined: Bool
        public init(chunk: String, problem: String, missing: Bool, quarantined: Bool) {
            self.chunk = chunk
            self.problem = problem
            self.missing = missing
            self.quarantined = quarantined
        }
    }

    /// `POST garbage-collection`.
    public struct Collection: Codable, Sendable, Equatable {
        public var referencedChunks: Int
        public var deletedChunks: Int
        public var freedBytes: Int64
        enum CodingKeys: String, CodingKey {
            case referencedChunks = "referenced_chunks"
            case deletedChunks = "deleted_chunks"
            case freedBytes = "freed_bytes"
        }
        public init(referencedChunks: Int, deletedChunks: Int, freedBytes: Int64) {
            self.referencedChunks = referencedChunks
            self.deletedChunks = deletedChunks
            self.freedBytes = freedBytes
        }
    }

    /// `GET status`.
    public struct Status: Codable, Sendable, Equatable {
        public var immutableDays: Int
        public var restorePoints: Int
        /// Bytes of chunks held (absent from services before the quota).
        public var usedBytes: Int64?
        /// The host's quota of chunk bytes; nil: none.
        public var quotaBytes: Int64?
        /// The service's file system: bytes free and its size (absent from older services).
        public var diskFreeBytes: Int64?
        public var diskCapacityBytes: Int64?
        enum CodingKeys: String, CodingKey {
            case immutableDays = "immutable_days"
            case restorePoints = "restore_points"
            case usedBytes = "used_bytes"
            case quotaBytes = "quota_bytes"
            case diskFreeBytes = "disk_free_bytes"
            case diskCapacityBytes = "disk_capacity_bytes"
        }
        public init(
            immutableDays: Int, restorePoints: Int, usedBytes: Int64? = nil, quotaBytes: Int64? = nil, diskFreeBytes: Int64? = nil,
            diskCapacityBytes: Int64? = nil
        ) {
            self.immutableDays = immutableDays
            self.restorePoints = restorePoints
            self.usedBytes = usedBytes
            self.quotaBytes = quotaBytes
            self.diskFreeBytes = diskFreeBytes
            self.diskCapacityBytes = diskCapacityBytes
        }

        /// Room for new chunks: the file system's free bytes, or the quota's room if less;
        /// and the size they are a share of (the quota's, else the file system's).
        public var room: (free: Int64, capacity: Int64) {
            let disk = (diskFreeBytes ?? 0, diskCapacityBytes ?? 0)
            guard let quotaBytes else { return disk }
            let quotaRoom = max(0, quotaBytes - (usedBytes ?? 0))
            return (diskFreeBytes.map { min($0, quotaRoom) } ?? quotaRoom, quotaBytes)
        }
    }

    /// ISO 8601 dates, sorted keys: how both sides write.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
