import Foundation
import Repository

/// What the service keeps of a restore point beside its manifests (`service/points/<id>.json`):
/// when its first manifest arrived and until when it is immutable, fixed then and never
/// moved, whatever the setting becomes later.
public struct PointRecord: Codable, Sendable, Equatable {
    public var restorePoint: String
    public var createdAt: Date
    public var immutableUntil: Date

    enum CodingKeys: String, CodingKey {
        case restorePoint = "restore_point"
        case createdAt = "created_at"
        case immutableUntil = "immutable_until"
    }

    public func isImmutable(at now: Date) -> Bool { now < immutableUntil }

    static func load(_ path: String) throws(RepositoryServiceError) -> PointRecord? {
        try ServiceFile.read(PointRecord.self, from: path, what: "a restore point's record")
    }

    func save(_ path: String) throws(RepositoryServiceError) {
        try ServiceFile.write(self, to: path, what: "\(restorePoint)'s record")
    }
}
