import Foundation

/// Two-person approval ("four eyes"): a change that destroys or shortens what protects the
/// backups waits, as `ApprovalRequested`, until a second administrator approves it
/// (`Approved`, appended with the change itself) or either denies it (`Denied`); a request
/// not decided within its lifetime expires. Streams `approval-<uuid>`; the policy is the
/// stream `setting-two-person-approval` (on unless a `TwoPersonApprovalTurnedOff` is its last
/// event).
public enum Approval {
    public static let category = "approval"
    public static func stream(of id: UUIDString) -> String { "\(category)-\(id)" }
    public static let settingStream = "setting-two-person-approval"
    /// How long a request waits for its second administrator.
    public static let lifetime: TimeInterval = 24 * 3_600

    /// What is to be done, fixed when it is requested: the object at the version the
    /// requester saw, so an approval never applies to something that changed since.
    public struct Action: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable {
            /// Remove a job or a repository.
            case remove
            /// Replace a job's definition with one that keeps fewer restore points or days.
            case shortenRetention = "shorten-retention"
        }
        public var kind: Kind
        public var objectKind: ObjectKind
        public var objectID: UUIDString
        public var objectName: String
        public var version: Int64
        /// `shorten-retention`: the job document the requester asked for (as `job export`
        /// writes it), for the approver to read.
        public var document: String?
        /// `shorten-retention`: the definition itself, with ids, as decided at the request: the
        /// approval applies exactly this, never the document's names looked up again.
        public var definition: String?
        /// `shorten-retention`: the retention before and after, as the approver sees them.
        public var retentionFrom: String?
        public var retentionTo: String?

        public init(
            kind: Kind, objectKind: ObjectKind, objectID: UUIDString, objectName: String, version: Int64, document: String? = nil,
            definition: String? = nil, retentionFrom: String? = nil, retentionTo: String? = nil
        ) {
            self.kind = kind
            self.objectKind = objectKind
            self.objectID = objectID
            self.objectName = objectName
            self.version = version
            self.document = document
            self.definition = definition
            self.retentionFrom = retentionFrom
            self.retentionTo = retentionTo
        }

        enum CodingKeys: String, CodingKey {
            case kind, version, document, definition
            case objectKind = "object_kind"
            case objectID = "object_id"
            case objectName = "object_name"
            case retentionFrom = "retention_from"
            case retentionTo = "retention_to"
        }

        public var summary: String {
            switch kind {
            case .remove: "remove the \(objectKind.displayName) '\(objectName)'"
            case .shortenRetention:
                "shorten the retention of job '\(objectName)'"
                    + (retentionFrom.flatMap { from in retentionTo.map { " from \(from) to \($0)" } } ?? "")
            }
        }
    }

    public struct Requested: Codable, Sendable, Equatable {
        public var id: UUIDString
        public var action: Action
        public var requestedBy: String
        public var expiresAt: Date

        public init(id: UUIDString, action: Action, requestedBy: String, expiresAt: Date) {
            self.id = id
            self.action = action
            self.requestedBy = requestedBy
            self.expiresAt = expiresAt
        }

        enum CodingKeys: String, CodingKey {
            case id, action
            case requestedBy = "requested_by"
            case expiresAt = "expires_at"
        }
    }

    public struct Decided: Codable, Sendable, Equatable {
        public var id: UUIDString
        public var decidedBy: String
        public var reason: String?

        public init(id: UUIDString, decidedBy: String, reason: String?) {
            self.id = id
            self.decidedBy = decidedBy
            self.reason = reason
        }

        enum CodingKeys: String, CodingKey {
            case id, reason
            case decidedBy = "decided_by"
        }
    }

    public enum EventType: String, Sendable {
        case requested = "ApprovalRequested"
        case approved = "Approved"
        case denied = "Denied"
    }

    /// One request as its stream folds.
    public struct Request: Sendable, Equatable {
        public enum State: String, Sendable {
            case pending, approved, denied, expired
        }
        public var requested: Requested
        public var decision: (type: EventType, decided: Decided)?
        public var version: Int64

        public func state(at now: Date) -> State {
            switch decision?.type {
            case .approved: .approved
            case .denied: .denied
            default: now >= requested.expiresAt ? .expired : .pending
            }
        }

        public static func == (left: Request, right: Request) -> Bool {
            left.requested == right.requested && left.version == right.version && left.decision?.type == right.decision?.type
                && left.decision?.decided == right.decision?.decided
        }
    }

    /// Folds a request's stream, given as (type, JSON data) in order.
    public static func fold(_ events: [(type: String, data: String)]) throws(CatalogError) -> Request? {
        var request: Request?
        for (index, event) in events.enumerated() {
            let data = Data(event.data.utf8)
            switch EventType(rawValue: event.type) {
            case .requested:
                guard let requested = try? decoder.decode(Requested.self, from: data) else {
                    throw CatalogError(.invalidDocument, "an ApprovalRequested event does not read")
                }
                request = Request(requested: requested, decision: nil, version: Int64(index + 1))
            case .approved, .denied:
                guard let decided = try? decoder.decode(Decided.self, from: data), request != nil else {
                    throw CatalogError(.invalidDocument, "a decision event does not read")
                }
                request?.decision = (EventType(rawValue: event.type)!, decided)
                request?.version = Int64(index + 1)
            case nil: continue
            }
        }
        return request
    }

    /// Refuses a decision the request cannot take: decided already, expired, or (to approve)
    /// the requester's own.
    public static func checkDecision(_ request: Request, by actor: String, approving: Bool, now: Date) throws(CatalogError) {
        switch request.state(at: now) {
        case .approved, .denied:
            throw CatalogError(
                .inUse,
                "the request to \(request.requested.action.summary) was \(request.state(at: now).rawValue) already by \(request.decision?.decided.decidedBy ?? "someone")"
            )
        case .expired:
            throw CatalogError(
                .inUse,
                "the request to \(request.requested.action.summary) expired at \(ISO8601DateFormatter().string(from: request.requested.expiresAt)): request it again"
            )
        case .pending: break
        }
        if approving && actor == request.requested.requestedBy {
            throw CatalogError(
                .notPermitted, "\(actor) asked to \(request.requested.action.summary): another administrator must approve it")
        }
    }

    /// True when `wanted` keeps less than `current`: fewer of the same unit, or another unit
    /// (restore points and days cannot be compared, so a switch counts as shortening).
    public static func shortens(_ wanted: JobRetention, comparedTo current: JobRetention) -> Bool {
        wanted.unit != current.unit || wanted.count < current.count
    }

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    public static func json(_ value: some Encodable) -> String {
        String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// The policy's events.
    public enum SettingEventType: String, Sendable {
        case turnedOff = "TwoPersonApprovalTurnedOff"
        case turnedOn = "TwoPersonApprovalTurnedOn"
    }

    public struct SettingChanged: Codable, Sendable, Equatable {
        public var reason: String
        public init(reason: String) { self.reason = reason }
    }
}
