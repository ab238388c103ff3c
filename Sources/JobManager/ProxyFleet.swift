import Catalog
import EventStore
import Foundation
import Postgres
import WorkflowEvents

/// A proxy process as registered (`tidemark proxy run`), with its liveness now.
public struct ProxyProcess: Sendable {
    public let instanceID: String
    public let proxyID: UUIDString
    public let proxyName: String
    public let host: String
    public let pid: Int
    public let version: String
    public let maxTasks: Int
    public let reach: ProxyProcessEvent.Reach
    public let publicKey: [UInt8]
    public let leaseSeconds: Double
    public let startedAt: Date
    /// Seconds since its last heartbeat, by the database's clock.
    public let heartbeatAge: Double
    public let runningTasks: Int
    public let live: Bool
    /// `stopped` or `lost` once it ended.
    public let endReason: String?
    /// The identity key it registered with and its signature of the registration
    /// (`RegistrationProof`); nil for a process of a version before enrolment.
    public let identityKey: [UInt8]?
    public let signature: [UInt8]?
    /// The database login that registered it.
    public let login: String
}

/// Where a catalog proxy's bytes move now.
public enum ProxyPresence: Sendable {
    /// No process serves it (none ever registered, or the last one stopped cleanly): the Job
    /// Manager moves its bytes in its own process.
    case embedded
    /// Its process heartbeats: tasks go to it.
    case live(ProxyProcess)
    /// Its process stopped heartbeating: no task goes to it until one runs again.
    case offline(ProxyProcess)
    /// A process heartbeats under its name, but its registration does not verify against the
    /// key enrolled for the proxy (why says how): no task and no login go to it, and the Job
    /// Manager moves the proxy's bytes itself, as for an embedded proxy.
    case unverified(ProxyProcess, why: String)

    public var name: String {
        switch self {
        case .embedded: return "embedded"
        case .live: return "live"
        case .offline: return "offline"
        case .unverified: return "unverified"
        }
    }

    /// The process registered under the proxy's name, verified or not (for display).
    public var process: ProxyProcess? {
        switch self {
        case .embedded: return nil
        case .live(let process), .offline(let process), .unverified(let process, _): return process
        }
    }

    /// The process that moves (or moved) the proxy's bytes: never an unverified one, whose
    /// claims (its task limit among them) count for nothing.
    public var mover: ProxyProcess? {
        switch self {
        case .embedded, .unverified: return nil
        case .live(let process), .offline(let process): return process
        }
    }
}

/// The proxy processes, read from `tidemark.proxy_processes` (the newest process of each
/// proxy decides its presence, a live one only once its registration verifies against the
/// proxy's enrolled key), and the Job Manager's one write there: declaring a process whose
/// lease ran out lost.
public struct ProxyFleet: Sendable {
    let store: EventStore

    public init(store: EventStore) { self.store = store }

    static let newestProcesses = """
        SELECT DISTINCT ON (p.proxy_id) p.instance_id::text, p.proxy_id, p.proxy_name, p.host, p.pid, p.version, p.max_tasks,
               p.reach::text, p.public_key, p.lease_seconds, p.started_at,
               extract(epoch FROM clock_timestamp() - p.heartbeat_at)::float8, p.running_tasks, tidemark.proxy_live(p), p.end_reason,
               p.identity_key, p.signature, p.login_role, r.enrolled_key, r.proxy_id IS NOT NULL
          FROM tidemark.proxy_processes p
          LEFT JOIN reporting.proxies r ON r.proxy_id::text = p.proxy_id
         ORDER BY p.proxy_id, p.started_at DESC
        """

    /// Every proxy that ever had a process, by proxy id; a proxy absent here is embedded.
    /// `enrolledKeys`: each proxy's enrolled key from the catalog (`ProxyDefinition.enrolledKey`)
    /// as the caller planned with. A process verifies against that key, and only while the
    /// catalog's projection (when it has the proxy) still enrols the same key: a key revoked or
    /// replaced stops the process's tasks as soon as the projection has the change.
    public func presence(enrolledKeys: [UUIDString: String]) async throws -> [UUIDString: ProxyPresence] {
        let result = try await store.pool.query(Self.newestProcesses)
        var presence: [UUIDString: ProxyPresence] = [:]
        for row in 0..<result.rowCount {
            let reachText: String = try result.decode(row, 7)
            let process = ProxyProcess(
                instanceID: try result.decode(row, 0), proxyID: try result.decode(row, 1), proxyName: try result.decode(row, 2),
                host: try result.decode(row, 3), pid: Int(try result.decode(row, 4, as: Int32.self)), version: try result.decode(row, 5),
                maxTasks: Int(try result.decode(row, 6, as: Int32.self)),
                reach: (try? JSONDecoder().decode(ProxyProcessEvent.Reach.self, from: Data(reachText.utf8))) ?? .init(servers: [:]),
                publicKey: [UInt8](try result.decode(row, 8, as: Data.self)), leaseSeconds: try result.decode(row, 9),
                startedAt: try result.decode(row, 10), heartbeatAge: try result.decode(row, 11),
                runningTasks: Int(try result.decode(row, 12, as: Int32.self)), live: try result.decode(row, 13),
                endReason: try result.decodeIfPresent(row, 14),
                identityKey: try result.decodeIfPresent(row, 15, as: Data.self).map { [UInt8]($0) },
                signature: try result.decodeIfPresent(row, 16, as: Data.self).map { [UInt8]($0) }, login: try result.decode(row, 17))
            let projected: String? = try result.decodeIfPresent(row, 18)
            let changed = try result.decode(row, 19, as: Bool.self) && projected != enrolledKeys[process.proxyID]
            if process.endReason == "stopped" {
                presence[process.proxyID] = .embedded
            } else if let why = changed
                ? "the proxy's enrolled key changed since this was planned"
                : RegistrationProof.refusal(of: process, enrolledKey: enrolledKeys[process.proxyID])
            {
                // Never the proxy's: nothing waits for it, live or gone.
                presence[process.proxyID] = process.live ? .unverified(process, why: why) : .embedded
            } else {
                presence[process.proxyID] = process.live ? .live(process) : .offline(process)
            }
        }
        return presence
    }

    /// Ends every live process of a proxy whose identity key is not `key` (the one just
    /// enrolled; nil: none is), handing their tasks back, with a `ProxyProcessLost` event each.
    /// Returns the instances ended.
    @discardableResult
    public func evict(proxyID: UUIDString, proxyName: String, keeping key: [UInt8]?, actor: String) async throws -> [String] {
        let ended = try await store.pool.query(
            "SELECT tidemark.proxy_evict($1, $2)::text", [proxyID, key.map { Data($0) }])
        var instances: [String] = []
        for row in 0..<ended.rowCount {
            let instance: String = try ended.decode(row, 0)
            instances.append(instance)
            try await recordLost(
                instanceID: instance, proxyID: proxyID, proxyName: proxyName,
                reason: "evicted: its key is not the one enrolled for proxy '\(proxyName)'", actor: actor)
        }
        return instances
    }

    /// Declares a process whose lease ran out lost, with a `ProxyProcessLost` event in its
    /// stream; false when it is still live, or someone declared it already (one event only).
    @discardableResult
    public func declareLost(
        instanceID: String, proxyID: UUIDString, proxyName: String, reason: String, actor: String
    ) async throws -> Bool {
        let ended = try await store.pool.query("SELECT tidemark.proxy_end($1::uuid, 'lost')", [instanceID])
        guard try ended.decode(0, 0, as: Bool.self) else { return false }
        try await recordLost(instanceID: instanceID, proxyID: proxyID, proxyName: proxyName, reason: reason, actor: actor)
        return true
    }

    /// `ProxyProcessLost` in the process's stream, for one whose end this caller made.
    private func recordLost(instanceID: String, proxyID: UUIDString, proxyName: String, reason: String, actor: String) async throws {
        let payload = ProxyProcessEvent.Ended(instanceId: instanceID, proxyId: proxyID, proxyName: proxyName, reason: reason)
        try await store.append(
            to: try StreamName(ProxyProcessEvent.stream(of: instanceID.lowercased())),
            events: [
                try NewEvent(
                    type: ProxyProcessEvent.Kind.lost.rawValue, payload: payload,
                    metadata: EventMetadata(actor: actor, host: ProcessInfo.processInfo.hostName))
            ])
    }
}
