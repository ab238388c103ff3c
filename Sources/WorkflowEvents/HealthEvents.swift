import Foundation

/// The events of repository health checks, on the stream `health-<repository uuid>`: what a
/// check set out to verify (the intent), what it found chunk by chunk and restore point by
/// restore point, and how it ended (the outcome). A check that crashed is resumed from its
/// stream: the points it planned and has not recorded are verified, then it finishes.
/// Written only by the health check (`tidemark server`, `tidemark repository check`), with
/// the actor in the metadata. All schema version 1; keys spelled out as in session events.
public enum HealthEvent {
    public static let category = "health"

    /// The stream of a repository's health checks.
    public static func stream(of repository: String) -> String { "\(category)-\(repository)" }

    /// The repository a stream belongs to, or nil for another stream.
    public static func repository(inStream stream: String) -> String? {
        stream.hasPrefix(category + "-") ? String(stream.dropFirst(category.count + 1)) : nil
    }

    public enum Kind: String, Sendable, CaseIterable {
        case healthCheckStarted = "HealthCheckStarted"
        case restorePointVerified = "RestorePointVerified"
        case chunkCorrupt = "ChunkCorrupt"
        case chunkMissing = "ChunkMissing"
        case restorePointDamaged = "RestorePointDamaged"
        case chunkHealed = "ChunkHealed"
        case healthCheckFinished = "HealthCheckFinished"
    }

    /// `HealthCheckStarted`: the plan, fixed before the first chunk is read.
    public struct Started: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case checkId = "check_id", repositoryId = "repository_id", repositoryName = "repository_name", trigger
            case verifyEveryDays = "verify_every_days", budgetBytes = "budget_bytes", planned, plannedBytes = "planned_bytes"
            case due
        }

        public var checkId: String
        public var repositoryId: String
        public var repositoryName: String
        /// scheduled, or manual.
        public var trigger: String
        public var verifyEveryDays: Int?
        public var budgetBytes: Int64
        /// The restore points to verify, in order: damaged ones first, then the least
        /// recently verified (never verified: oldest first).
        public var planned: [String]
        public var plannedBytes: Int64
        /// Restore points due that did not fit in the budget (left for the next check).
        public var due: Int
        public init(
            checkId: String, repositoryId: String, repositoryName: String, trigger: String, verifyEveryDays: Int?, budgetBytes: Int64,
            planned: [String], plannedBytes: Int64, due: Int
        ) {
            self.checkId = checkId
            self.repositoryId = repositoryId
            self.repositoryName = repositoryName
            self.trigger = trigger
            self.verifyEveryDays = verifyEveryDays
            self.budgetBytes = budgetBytes
            self.planned = planned
            self.plannedBytes = plannedBytes
            self.due = due
        }
    }

    /// `RestorePointVerified`: every chunk of the restore point was read; `damaged` if any
    /// was missing or corrupt (then `RestorePointDamaged` says which, in the same append).
    public struct PointVerified: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case checkId = "check_id", restorePointId = "restore_point_id", bytes, damaged
        }

        public var checkId: String
        public var restorePointId: String
        public var bytes: Int64
        public var damaged: Bool
        public init(checkId: String, restorePointId: String, bytes: Int64, damaged: Bool) {
            self.checkId = checkId
            self.restorePointId = restorePointId
            self.bytes = bytes
            self.damaged = damaged
        }
    }

    /// `ChunkCorrupt` (its bytes do not match its name, or it does not decode) and
    /// `ChunkMissing`: found while verifying `restore_point_id`; `quarantined` when the
    /// corrupt file was moved aside so the next backup stores the block again.
    public struct ChunkFound: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case checkId = "check_id", chunk, restorePointId = "restore_point_id", problem, quarantined
        }

        public var checkId: String
        public var chunk: String
        public var restorePointId: String
        public var problem: String
        public var quarantined: Bool
        public init(checkId: String, chunk: String, restorePointId: String, problem: String, quarantined: Bool) {
            self.checkId = checkId
            self.chunk = chunk
            self.restorePointId = restorePointId
            self.problem = problem
            self.quarantined = quarantined
        }
    }

    /// One damaged reference of a restore point.
    public struct Damage: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case disk, offset, chunk, problem
        }

        public var disk: String
        public var offset: Int64
        public var chunk: String?
        public var problem: String
        public init(disk: String, offset: Int64, chunk: String?, problem: String) {
            self.disk = disk
            self.offset = offset
            self.chunk = chunk
            self.problem = problem
        }
    }

    /// `RestorePointDamaged`: what a restore of it would meet; `damage` lists the first
    /// 100 references, `references` counts them all.
    public struct PointDamaged: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case checkId = "check_id", restorePointId = "restore_point_id", references, damage
        }

        public var checkId: String
        public var restorePointId: String
        public var references: Int
        public var damage: [Damage]
        public init(checkId: String, restorePointId: String, references: Int, damage: [Damage]) {
            self.checkId = checkId
            self.restorePointId = restorePointId
            self.references = references
            self.damage = damage
        }
    }

    /// `ChunkHealed`: a quarantined chunk that a backup has stored again, read back whole;
    /// the damaged restore points that named it are verified again in the same check.
    public struct ChunkHealed: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case checkId = "check_id", chunk
        }

        public var checkId: String
        public var chunk: String
        public init(checkId: String, chunk: String) {
            self.checkId = checkId
            self.chunk = chunk
        }
    }

    /// `HealthCheckFinished`: the outcome. `result`: clean, or damaged (some restore point
    /// verified in this check is damaged).
    public struct Finished: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case checkId = "check_id", result, verified, damaged, bytes, corruptChunks = "corrupt_chunks"
            case missingChunks = "missing_chunks", healedChunks = "healed_chunks", skipped
        }

        public var checkId: String
        public var result: String
        public var verified: Int
        public var damaged: Int
        public var bytes: Int64
        public var corruptChunks: Int
        public var missingChunks: Int
        public var healedChunks: Int
        /// Planned restore points that were gone when their turn came (retention removed them).
        public var skipped: Int
        public init(
            checkId: String, result: String, verified: Int, damaged: Int, bytes: Int64, corruptChunks: Int, missingChunks: Int,
            healedChunks: Int, skipped: Int
        ) {
            self.checkId = checkId
            self.result = result
            self.verified = verified
            self.damaged = damaged
            self.bytes = bytes
            self.corruptChunks = corruptChunks
            self.missingChunks = missingChunks
            self.healedChunks = healedChunks
            self.skipped = skipped
        }
    }
}

extension HealthEvent {
    /// The data fields the projections read by name, from the payloads' coding keys.
    public enum Field {
        public static let checkId = Started.CodingKeys.checkId.rawValue
        public static let repositoryName = Started.CodingKeys.repositoryName.rawValue
        public static let trigger = Started.CodingKeys.trigger.rawValue
        public static let plannedBytes = Started.CodingKeys.plannedBytes.rawValue
        public static let planned = Started.CodingKeys.planned.rawValue
        public static let damage = PointDamaged.CodingKeys.damage.rawValue
        public static let restorePointId = PointVerified.CodingKeys.restorePointId.rawValue
        public static let damaged = PointVerified.CodingKeys.damaged.rawValue
        public static let references = PointDamaged.CodingKeys.references.rawValue
        public static let result = Finished.CodingKeys.result.rawValue
        public static let verified = Finished.CodingKeys.verified.rawValue
        public static let bytes = Finished.CodingKeys.bytes.rawValue
        public static let corruptChunks = Finished.CodingKeys.corruptChunks.rawValue
        public static let missingChunks = Finished.CodingKeys.missingChunks.rawValue
        public static let healedChunks = Finished.CodingKeys.healedChunks.rawValue
    }
}
