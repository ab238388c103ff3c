import Foundation

/// Who and what caused an event: stored as the event's `metadata` jsonb.
///
/// Correlation and causation ids let an auditor follow one job session through every
/// event it caused. Secrets never belong here: the log is kept forever.
public struct EventMetadata: Codable, Sendable, Equatable {
    /// The id shared by every event of one piece of work (a job session, a CLI command).
    public var correlationID: UUID?
    /// The event or command that directly caused this one.
    public var causationID: UUID?
    /// Who acted: `cli:<user>`, `scheduler`, `job-manager`...
    public var actor: String?
    /// The host the writer ran on.
    public var host: String?
    /// The address of the API client whose request this event records (`api:` actors only).
    public var clientAddress: String?

    public init(
        correlationID: UUID? = nil, causationID: UUID? = nil, actor: String? = nil, host: String? = nil, clientAddress: String? = nil
    ) {
        self.correlationID = correlationID
        self.causationID = causationID
        self.actor = actor
        self.host = host
        self.clientAddress = clientAddress
    }

    enum CodingKeys: String, CodingKey {
        case correlationID = "correlation_id"
        case causationID = "causation_id"
        case actor
        case host
        case clientAddress = "client_address"
    }

    /// The JSON object stored in the log, keys sorted so equal metadata is byte-equal.
    /// Written by hand: it runs once per appended event, where `JSONEncoder` would cost
    /// more than the rest of the append's client-side work.
    var jsonText: String {
        var fields: [String] = []
        if let actor { fields.append("\"actor\":\(JSONString.quoted(actor))") }
        if let causationID { fields.append("\"causation_id\":\"\(causationID.uuidString.lowercased())\"") }
        if let clientAddress { fields.append("\"client_address\":\(JSONString.quoted(clientAddress))") }
        if let correlationID { fields.append("\"correlation_id\":\"\(correlationID.uuidString.lowercased())\"") }
        if let host { fields.append("\"host\":\(JSONString.quoted(host))") }
        return "{" + fields.joined(separator: ",") + "}"
    }
}
