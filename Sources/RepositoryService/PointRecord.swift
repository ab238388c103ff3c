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
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let record = try? decoder.decode(PointRecord.self, from: data) else {
            throw RepositoryServiceError(.io, "\(path) is not a restore point's record")
        }
        return record
    }

    func save(_ path: String) throws(RepositoryServiceError) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(self) else { throw RepositoryServiceError(.io, "could not encode \(restorePoint)'s record") }
        do {
            try DurableFile.write(Array(data), to: path)
        } catch {
            throw RepositoryServiceError(error)
        }
    }
}
