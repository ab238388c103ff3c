import Catalog
import EventStore
import Foundation
import Logging
import Postgres

/// Two-person approval on the event log: requests, decisions, and the approved change
/// appended in the decision's own transaction under the catalog lock, so an approval and
/// what it approved land together or not at all, and never apply to an object that changed
/// after the request.
public final class ApprovalStore: Sendable {
    let catalog: CatalogStore

    public init(catalog: CatalogStore) {
        self.catalog = catalog
    }

    /// On unless the policy stream's last event turned it off.
    public func isRequired() async throws -> Bool {
        let result = try await catalog.events.pool.query(
            "SELECT event_type FROM tidemark.events WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1", [Approval.settingStream])
        guard result.rowCount == 1 else { return true }
        return try result.decode(0, 0, as: String.self) != Approval.SettingEventType.turnedOff.rawValue
    }

    /// Turns the policy on or off, with the reason; false when it already was.
    @discardableResult
    public func setRequired(_ required: Bool, reason: String, metadata: EventMetadata) async throws -> Bool {
        guard try await isRequired() != required else { return false }
        let type: Approval.SettingEventType = required ? .turnedOn : .turnedOff
        try await catalog.events.append(
            to: try StreamName(Approval.settingStream),
            events: [
                try NewEvent(type: type.rawValue, jsonData: Approval.json(Approval.SettingChanged(reason: reason)), metadata: metadata)
            ])
        return true
    }

    /// Records a request for `action` by `requestedBy`; nothing else changes. Refused when
    /// the object is gone or no longer at the version the requester saw.
    public func request(
        _ action: Approval.Action, requestedBy: String, now: Date = Date(), metadata: EventMetadata
    ) async throws
        -> Approval.Requested
    {
        let requested = Approval.Requested(
            id: UUID().uuidString.lowercased(), action: action, requestedBy: requestedBy,
            expiresAt: now.addingTimeInterval(Approval.lifetime))
        try await catalog.events.pool.withTransaction { connection in
            _ = try connection.query("LOCK TABLE tidemark.catalog_lock IN EXCLUSIVE MODE")
            try Self.check(action, in: try CatalogStore.fold(on: connection))
            _ = try EventStore.append(
                [
                    StreamAppend(
                        stream: try StreamName(Approval.stream(of: requested.id)), expectedVersion: .noStream,
                        events: [
                            try NewEvent(
                                type: Approval.EventType.requested.rawValue, jsonData: Approval.json(requested), metadata: metadata)
                        ])
                ], on: connection)
        }
        return requested
    }

    /// One request, folded from its stream; nil when there is none.
    public func load(_ id: UUIDString) async throws -> Approval.Request? {
        try await catalog.events.pool.withConnection { connection in try await Self.load(id, on: connection) }
    }

    static func load(_ id: UUIDString, on connection: isolated PostgresConnection) throws -> Approval.Request? {
        let result = try connection.query(
            "SELECT event_type, data::text FROM tidemark.events WHERE stream_id = $1 ORDER BY stream_version", [Approval.stream(of: id)])
        let events = try (0..<result.rowCount).map {
            (type: try result.decode($0, 0, as: String.self), data: try result.decode($0, 1, as: String.self))
        }
        return try Approval.fold(events)
    }

    /// Approves: checks the request (pending, not the requester's own), decides the change on
    /// the catalog now, and appends `Approved` and the change in one transaction. Returns the
    /// catalog changes appended.
    public func approve(_ id: UUIDString, by actor: String, now: Date = Date(), metadata: EventMetadata) async throws -> [CatalogChange] {
        try await catalog.events.pool.withTransaction { connection -> [CatalogChange] in
            _ = try connection.query("LOCK TABLE tidemark.catalog_lock IN EXCLUSIVE MODE")
            guard let request = try Self.load(id, on: connection) else {
                throw CatalogError(.notFound, "no approval request has the id \(id)")
            }
            try Approval.checkDecision(request, by: actor, approving: true, now: now)
            let state = try CatalogStore.fold(on: connection)
            let changes = try Self.decide(request.requested.action, in: state)
            let decided = Approval.Decided(id: id, decidedBy: actor, reason: nil)
            let approval = StreamAppend(
                stream: try StreamName(Approval.stream(of: id)), expectedVersion: .exact(request.version),
                events: [try NewEvent(type: Approval.EventType.approved.rawValue, jsonData: Approval.json(decided), metadata: metadata)])
            _ = try EventStore.append([approval] + (try CatalogStore.appends(changes, metadata: metadata)), on: connection)
            return changes
        }
    }

    /// Denies: the request ends and nothing changes. The requester may withdraw their own.
    public func deny(_ id: UUIDString, by actor: String, reason: String?, now: Date = Date(), metadata: EventMetadata) async throws {
        try await catalog.events.pool.withTransaction { connection in
            _ = try connection.query("LOCK TABLE tidemark.catalog_lock IN EXCLUSIVE MODE")
            guard let request = try Self.load(id, on: connection) else {
                throw CatalogError(.notFound, "no approval request has the id \(id)")
            }
            try Approval.checkDecision(request, by: actor, approving: false, now: now)
            let decided = Approval.Decided(id: id, decidedBy: actor, reason: reason)
            _ = try EventStore.append(
                [
                    StreamAppend(
                        stream: try StreamName(Approval.stream(of: id)), expectedVersion: .exact(request.version),
                        events: [
                            try NewEvent(type: Approval.EventType.denied.rawValue, jsonData: Approval.json(decided), metadata: metadata)
                        ])
                ], on: connection)
        }
    }

    /// The object must still be at the version the request was made at.
    static func check(_ action: Approval.Action, in state: CatalogState) throws(CatalogError) {
        let version: Int64? =
            switch action.objectKind {
            case .job: state.jobs[action.objectID]?.version
            case .repository: state.repositories[action.objectID]?.version
            case .server: state.servers[action.objectID]?.version
            case .proxy: state.proxies[action.objectID]?.version
            case .throttle: state.throttlingRules[action.objectID]?.version
            }
        guard let version else {
            throw CatalogError(.notFound, "the \(action.objectKind.displayName) '\(action.objectName)' no longer exists")
        }
        guard version == action.version else {
            throw CatalogError(
                .staleVersion,
                "the \(action.objectKind.displayName) '\(action.objectName)' changed since the request (version \(action.version), now \(version)): request it again"
            )
        }
    }

    /// The catalog changes an approved action makes, decided on the current state.
    static func decide(_ action: Approval.Action, in state: CatalogState) throws(CatalogError) -> [CatalogChange] {
        try check(action, in: state)
        switch (action.kind, action.objectKind) {
        case (.remove, .job): return try CatalogDecider.remove(JobDefinition.self, id: action.objectID, in: state)
        case (.remove, .repository): return try CatalogDecider.remove(RepositoryDefinition.self, id: action.objectID, in: state)
        case (.remove, .server): return try CatalogDecider.remove(ManagedServer.self, id: action.objectID, in: state)
        case (.remove, .proxy): return try CatalogDecider.remove(ProxyDefinition.self, id: action.objectID, in: state)
        case (.remove, .throttle): return try CatalogDecider.remove(ThrottlingRule.self, id: action.objectID, in: state)
        case (.shortenRetention, .job):
            guard let text = action.definition, let wanted = try? CatalogCoding.decoder().decode(JobDefinition.self, from: Data(text.utf8))
            else { throw CatalogError(.invalidDocument, "the request carries no job definition") }
            // The definition decided at the request, ids and all; the decider checks again that
            // what it refers to exists.
            return try CatalogDecider.update(id: action.objectID, basedOn: action.version, in: state) { (job: inout JobDefinition) in
                job = wanted
            }
        case (.shortenRetention, _):
            throw CatalogError(.invalidValue, "only a job has a retention")
        }
    }
}
