import Foundation
import Repository

/// How long each new restore point stays immutable: a setting of the service's host, in
/// `service/settings.json`, changed only by its local administrator (`tidemark repository
/// serve --immutable-days N` run on that host). No request can change it. A point's own
/// end of immutability is fixed when its first manifest arrives, so a shorter setting
/// applies to new restore points only.
public struct ImmutabilitySettings: Codable, Sendable, Equatable {
    public var immutableDays: Int
    public var changedAt: Date

    enum CodingKeys: String, CodingKey {
        case immutableDays = "immutable_days"
        case changedAt = "changed_at"
    }

    /// What a new service starts with: two weeks, as Veeam's hardened repository suggests.
    public static let defaultDays = 14
    /// Ten years: longer is a typo, not a policy.
    public static let maximumDays = 3_650

    public init(immutableDays: Int, changedAt: Date = Date()) throws(RepositoryServiceError) {
        guard (0...Self.maximumDays).contains(immutableDays) else {
            throw RepositoryServiceError(
                .invalidInput, "--immutable-days must be between 0 and \(Self.maximumDays), not \(immutableDays)")
        }
        self.immutableDays = immutableDays
        self.changedAt = changedAt
    }

    static func load(_ path: String) throws(RepositoryServiceError) -> ImmutabilitySettings? {
        try ServiceFile.read(ImmutabilitySettings.self, from: path, what: "the service's settings file")
    }

    func save(_ path: String) throws(RepositoryServiceError) {
        try ServiceFile.write(self, to: path, what: "the settings")
    }
}
