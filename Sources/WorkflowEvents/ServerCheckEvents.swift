import Foundation

/// The events of a managed server's check, on the stream `check-<check uuid>`: who asked to
/// check which server (the intent, `ServerCheckStarted`), then what the connection found
/// (the outcome, `ServerCheckFinished`): the certificate, the product, what it holds, or
/// why it could not be used. A check is a probe with nothing to resume: one cut short by a
/// crash keeps its intent without an outcome, and `reporting.server_checks` shows it so.
/// Written by `tidemark server` for `POST /api/v1/servers/{name}/check`. Schema version 1.
public enum ServerCheckEvent {
    public static let category = "check"

    public static func stream(of check: String) -> String { "\(category)-\(check)" }

    public enum Kind: String, Sendable, CaseIterable {
        case started = "ServerCheckStarted"
        case finished = "ServerCheckFinished"
    }

    /// `ServerCheckStarted`.
    public struct Started: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case checkId = "check_id", serverId = "server_id", serverName = "server_name", platform, location
        }

        public var checkId: String
        public var serverId: String
        public var serverName: String
        /// vcenter or lab.
        public var platform: String
        /// The address or folder it was reached at (never with a password).
        public var location: String

        public init(checkId: String, serverId: String, serverName: String, platform: String, location: String) {
            self.checkId = checkId
            self.serverId = serverId
            self.serverName = serverName
            self.platform = platform
            self.location = location
        }
    }

    /// `ServerCheckFinished`: `ok` with what was found, or not with the reason.
    public struct Finished: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case checkId = "check_id", ok, reason, certificateThumbprint = "certificate_thumbprint"
            case certificatePinned = "certificate_pinned", product, api, datacenters, hosts, vms, disks
            case durationMilliseconds = "duration_ms"
        }

        public var checkId: String
        public var ok: Bool
        public var reason: String?
        public var certificateThumbprint: String?
        /// True when the server's definition pins the thumbprint; false when a CA vouched.
        public var certificatePinned: Bool?
        public var product: String?
        public var api: String?
        public var datacenters: Int?
        public var hosts: Int?
        public var vms: Int?
        public var disks: Int?
        public var durationMilliseconds: Int64

        public init(
            checkId: String, ok: Bool, reason: String? = nil, certificateThumbprint: String? = nil, certificatePinned: Bool? = nil,
            product: String? = nil, api: String? = nil, datacenters: Int? = nil, hosts: Int? = nil, vms: Int? = nil,
            disks: Int? = nil, durationMilliseconds: Int64
        ) {
            self.checkId = checkId
            self.ok = ok
            self.reason = reason
            self.certificateThumbprint = certificateThumbprint
            self.certificatePinned = certificatePinned
            self.product = product
            self.api = api
            self.datacenters = datacenters
            self.hosts = hosts
            self.vms = vms
            self.disks = disks
            self.durationMilliseconds = durationMilliseconds
        }
    }
}
