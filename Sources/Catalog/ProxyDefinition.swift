import Foundation

/// A backup proxy: the data mover that reads VM disks and writes to a repository.
public struct ProxyDefinition: CatalogDefinition {
    public static let kind = ObjectKind.proxy

    /// How a proxy reaches a VM's disks, best first.
    public enum TransportMode: String, Sendable, Codable, CaseIterable, Comparable {
        /// Reads the datastore's storage directly (SAN, NFS).
        case directStorage = "direct-storage"
        /// Attaches the snapshot's disks to the proxy VM (virtual appliance).
        case hotAdd = "hot-add"
        /// Reads over the host's network (NBD): the fallback that always works.
        case network

        /// Lower is better: the order the Job Manager prefers.
        public var rank: Int {
            switch self {
            case .directStorage: return 0
            case .hotAdd: return 1
            case .network: return 2
            }
        }

        public static func < (lhs: TransportMode, rhs: TransportMode) -> Bool { lhs.rank < rhs.rank }

        public static func parse(_ text: String) throws(CatalogError) -> TransportMode {
            guard let mode = TransportMode(rawValue: text.lowercased()) else {
                throw CatalogError(.invalidValue, "'\(text)' is not a transport mode: use direct-storage, hot-add or network")
            }
            return mode
        }
    }

    public var name: String
    public var site: String
    public var transportModes: [TransportMode]
    public var maxConcurrentTasks: Int
    /// Datastores this proxy reaches directly (direct storage access).
    public var datastores: [String]
    /// The host the proxy VM runs on (hot-add needs the same host or cluster).
    public var host: String?
    public var cluster: String?
    /// The public half (base64, Ed25519) of the identity key of the host enrolled to run this
    /// proxy (`tidemark proxy enrol`): the Job Manager gives tasks and logins only to a process
    /// that proves it holds the private half. Nil: no host is enrolled, and the Job Manager
    /// moves this proxy's bytes itself.
    public var enrolledKey: String?

    public init(
        name: String, site: String = "default", transportModes: [TransportMode] = [.network], maxConcurrentTasks: Int = 2,
        datastores: [String] = [], host: String? = nil, cluster: String? = nil, enrolledKey: String? = nil
    ) {
        self.name = name
        self.site = site
        self.transportModes = transportModes
        self.maxConcurrentTasks = maxConcurrentTasks
        self.datastores = datastores
        self.host = host
        self.cluster = cluster
        self.enrolledKey = enrolledKey
    }

    public func validate(in catalog: CatalogState) throws(CatalogError) {
        let subject = "proxy '\(name)'"
        guard !transportModes.isEmpty else {
            throw .invalid("\(subject) transport modes", "none given: name at least one of direct-storage, hot-add, network")
        }
        guard Set(transportModes).count == transportModes.count else {
            throw .invalid("\(subject) transport modes", "a mode is listed twice")
        }
        try Limits.tasks(maxConcurrentTasks, subject: subject)
        try Limits.site(site, subject: subject)
        if transportModes.contains(.directStorage) && datastores.isEmpty {
            throw .invalid("\(subject) transport modes", "direct-storage needs the datastores the proxy reaches: add --datastores")
        }
        if let enrolledKey, Data(base64Encoded: enrolledKey)?.count != 32 {
            throw .invalid(
                "\(subject) enrolled key",
                "'\(enrolledKey.prefix(60))' is not a proxy public key (base64 of 32 bytes): copy the key 'tidemark proxy key \(name)' prints on the proxy's host"
            )
        }
        if transportModes.contains(.hotAdd) && host == nil && cluster == nil {
            throw .invalid("\(subject) transport modes", "hot-add needs the host or cluster the proxy VM runs on: add --host or --cluster")
        }
    }

    public var references: [(kind: ObjectKind, id: UUIDString)] { [] }
}
