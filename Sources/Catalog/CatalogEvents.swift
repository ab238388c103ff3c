import Foundation

/// One catalog event as read from the log, free of the event store's types so the
/// catalog's logic stays pure.
public struct CatalogEventRecord: Sendable {
    public let stream: String
    public let streamVersion: Int64
    public let position: Int64
    public let type: String
    /// The event's data: a JSON object.
    public let data: String
    public let recordedAt: Date
    public let actor: String?

    public init(stream: String, streamVersion: Int64, position: Int64, type: String, data: String, recordedAt: Date, actor: String?) {
        self.stream = stream
        self.streamVersion = streamVersion
        self.position = position
        self.type = type
        self.data = data
        self.recordedAt = recordedAt
        self.actor = actor
    }
}

/// The catalog's event types: `<Kind>Added`, `<Kind>Updated`, `<Kind>Removed` for every
/// kind, and `JobRenamed`, `JobEnabled`, `JobDisabled` for jobs. All schema version 1.
public enum CatalogEventType {
    public enum Verb: String, Sendable, CaseIterable {
        case added = "Added"
        case updated = "Updated"
        case removed = "Removed"
        case renamed = "Renamed"
        case enabled = "Enabled"
        case disabled = "Disabled"
    }

    public static func name(_ kind: ObjectKind, _ verb: Verb) -> String { kind.eventPrefix + verb.rawValue }

    /// The kind and verb of a catalog event type, or nil for any other event.
    public static func parse(_ type: String) -> (ObjectKind, Verb)? {
        for kind in ObjectKind.allCases where type.hasPrefix(kind.eventPrefix) {
            if let verb = Verb(rawValue: String(type.dropFirst(kind.eventPrefix.count))) {
                if verb == .renamed || verb == .enabled || verb == .disabled, kind != .job { return nil }
                return (kind, verb)
            }
        }
        return nil
    }
}

/// `<Kind>Added` and `<Kind>Updated`: the whole definition after the change.
public struct DefinitionPayload<Definition: CatalogDefinition>: Codable, Sendable {
    public let id: UUIDString
    public let definition: Definition
    /// Top-level fields that differ from the previous version (empty for `Added`).
    public let changed: [String]?
}

/// `<Kind>Removed`: the name it had, so the log reads on its own.
public struct RemovedPayload: Codable, Sendable {
    public let id: UUIDString
    public let name: String
}

/// `JobRenamed`.
public struct RenamedPayload: Codable, Sendable {
    public let id: UUIDString
    public let from: String
    public let to: String
}

/// `JobEnabled`, `JobDisabled`.
public struct JobIDPayload: Codable, Sendable {
    public let id: UUIDString
}
