import Catalog
import EventStore
import Foundation
import WorkflowEvents

/// A repository's health stream folded: when each restore point was last verified and
/// whether it was damaged, and the check that started and never finished (to resume).
public struct HealthState: Sendable {
    public struct Verification: Sendable {
        public var at: Date
        public var damaged: Bool
    }

    /// The check in progress, and what it recorded so far.
    public struct OpenCheck: Sendable {
        public var started: HealthEvent.Started
        public var verified: Set<String> = []
        public var healed: Set<String> = []
        public var damaged = 0
        public var bytes: Int64 = 0
        public var corrupt = 0
        public var missing = 0
    }

    public private(set) var lastVerified: [String: Verification] = [:]
    public private(set) var open: OpenCheck?
    public private(set) var finishedChecks = 0
    public private(set) var version: Int64 = 0

    public init(events: [RecordedEvent] = []) {
        for event in events { apply(type: event.type, data: event.data, version: event.streamVersion, at: event.recordedAt) }
    }

    public mutating func apply(type: String, data text: String, version: Int64, at recordedAt: Date) {
        self.version = version
        guard let kind = HealthEvent.Kind(rawValue: type) else { return }
        let data = Data(text.utf8)
        func decode<T: Decodable>(_ type: T.Type) -> T? { try? JSONDecoder().decode(type, from: data) }
        switch kind {
        case .healthCheckStarted:
            open = decode(HealthEvent.Started.self).map { OpenCheck(started: $0) }
        case .restorePointVerified:
            guard let verified = decode(HealthEvent.PointVerified.self) else { return }
            lastVerified[verified.restorePointId] = Verification(at: recordedAt, damaged: verified.damaged)
            if open?.started.checkId == verified.checkId {
                open?.verified.insert(verified.restorePointId)
                open?.bytes += verified.bytes
                if verified.damaged { open?.damaged += 1 }
            }
        case .chunkCorrupt:
            if let found = decode(HealthEvent.ChunkFound.self), open?.started.checkId == found.checkId { open?.corrupt += 1 }
        case .chunkMissing:
            if let found = decode(HealthEvent.ChunkFound.self), open?.started.checkId == found.checkId { open?.missing += 1 }
        case .chunkHealed:
            if let healed = decode(HealthEvent.ChunkHealed.self), open?.started.checkId == healed.checkId {
                open?.healed.insert(healed.chunk)
            }
        case .healthCheckFinished:
            open = nil
            finishedChecks += 1
        case .restorePointDamaged:
            break
        }
    }
}
