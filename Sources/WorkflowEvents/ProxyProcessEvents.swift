import Foundation

/// A proxy process's life, on the stream `proxyprocess-<instance uuid>`: written by the process
/// (`tidemark proxy run`: started, stopped) and by the Job Manager that finds its lease run out
/// (lost). The heartbeat itself is a row (`tidemark.proxy_processes`), not events: liveness is
/// state, and a heartbeat every few seconds would bury the history it keeps.
public enum ProxyProcessEvent {
    public static let category = "proxyprocess"

    public static func stream(of instance: String) -> String { "\(category)-\(instance)" }

    public enum Kind: String, Sendable, CaseIterable {
        case started = "ProxyProcessStarted"
        case stopped = "ProxyProcessStopped"
        case lost = "ProxyProcessLost"
        case reachChanged = "ProxyProcessReachChanged"
    }

    /// What a process reaches, checked on its own host when it starts: per managed server,
    /// the datastores it can read (by id). A server it cannot reach at all is absent.
    public struct Reach: Codable, Sendable, Equatable {
        public var servers: [String: [String]]
        public init(servers: [String: [String]]) { self.servers = servers }

        /// Whether a disk on `datastore` of `server` can be read from there (`*`: every
        /// datastore of the server).
        public func reaches(server: String, datastore: String) -> Bool {
            guard let reached = servers[server] else { return false }
            return reached.contains("*") || reached.contains(datastore)
        }
    }

    public struct Started: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case instanceId = "instance_id", proxyId = "proxy_id", proxyName = "proxy_name", host, pid, version
            case transportModes = "transport_modes", reach, maxTasks = "max_tasks", leaseSeconds = "lease_seconds"
            case identityFingerprint = "identity_fingerprint"
        }

        public var instanceId: String
        public var proxyId: String
        public var proxyName: String
        public var host: String
        public var pid: Int
        public var version: String
        public var transportModes: [String]
        public var reach: Reach
        public var maxTasks: Int
        public var leaseSeconds: Double
        /// The fingerprint of the host's identity key it signed its registration with (absent
        /// in events of versions before enrolment).
        public var identityFingerprint: String?
        public init(
            instanceId: String, proxyId: String, proxyName: String, host: String, pid: Int, version: String, transportModes: [String],
            reach: Reach, maxTasks: Int, leaseSeconds: Double, identityFingerprint: String?
        ) {
            self.instanceId = instanceId
            self.proxyId = proxyId
            self.proxyName = proxyName
            self.host = host
            self.pid = pid
            self.version = version
            self.transportModes = transportModes
            self.reach = reach
            self.maxTasks = maxTasks
            self.leaseSeconds = leaseSeconds
            self.identityFingerprint = identityFingerprint
        }
    }

    /// What a running process reaches changed (a server added to the catalog, a share mounted
    /// or gone on its host): it checks again every so often and records the new reach here.
    public struct ReachChanged: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case instanceId = "instance_id", proxyId = "proxy_id", proxyName = "proxy_name", reach
        }

        public var instanceId: String
        public var proxyId: String
        public var proxyName: String
        public var reach: Reach
        public init(instanceId: String, proxyId: String, proxyName: String, reach: Reach) {
            self.instanceId = instanceId
            self.proxyId = proxyId
            self.proxyName = proxyName
            self.reach = reach
        }
    }

    /// `ProxyProcessStopped` (the process ended cleanly: why, and the tasks it handed back)
    /// and `ProxyProcessLost` (its lease ran out: who noticed, and the tasks taken from it).
    public struct Ended: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case instanceId = "instance_id", proxyId = "proxy_id", proxyName = "proxy_name", reason
        }

        public var instanceId: String
        public var proxyId: String
        public var proxyName: String
        public var reason: String
        public init(instanceId: String, proxyId: String, proxyName: String, reason: String) {
            self.instanceId = instanceId
            self.proxyId = proxyId
            self.proxyName = proxyName
            self.reason = reason
        }
    }
}
