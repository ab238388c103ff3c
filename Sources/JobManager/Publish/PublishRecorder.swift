import EventStore
import Foundation
import WorkflowEvents

/// Appends a publish's events in order, each at the version the last left, and reads the
/// stream for a stop someone else recorded.
actor PublishRecorder {
    let store: EventStore
    let stream: StreamName
    let metadata: EventMetadata
    private var version: Int64 = 0
    /// The stream version the last look for a stop read up to.
    private var lookedAt: Int64 = 0

    struct Entry: Sendable {
        let kind: PublishEvent.Kind
        let data: String

        init<Payload: Encodable>(_ kind: PublishEvent.Kind, _ payload: Payload) throws {
            self.kind = kind
            self.data = String(decoding: try PublishEvent.encoder().encode(payload), as: UTF8.self)
        }
    }

    /// `version`: the events the stream holds already (a resumed publish).
    init(store: EventStore, publish: String, metadata: EventMetadata, version: Int64 = 0) throws {
        self.store = store
        self.stream = try StreamName(PublishEvent.stream(of: publish))
        self.metadata = metadata
        self.version = version
    }

    /// Appends at exactly `version` (the stream must not have moved since it was read).
    func record(_ entries: [Entry], at version: Int64) async throws {
        let events = try entries.map { try NewEvent(type: $0.kind.rawValue, jsonData: $0.data, metadata: metadata) }
        try await store.append(to: stream, expectedVersion: .exact(version), events: events)
        self.version = version + Int64(events.count)
    }

    func record(_ entries: [Entry]) async throws {
        let events = try entries.map { try NewEvent(type: $0.kind.rawValue, jsonData: $0.data, metadata: metadata) }
        if version == 0 {
            try await store.append(to: stream, expectedVersion: .noStream, events: events)
            version = Int64(events.count)
            return
        }
        // Others append to the stream too (a stop asked for from anywhere): after whatever is there.
        try await store.append(to: stream, expectedVersion: .streamExists, events: events)
        version += Int64(events.count)
    }

    /// Who asked to stop, if someone did: "stopped by <actor>[: reason]".
    func stopRequest() async throws -> String? {
        // Only what came after the last look: the stream grows with every client.
        let events = try await store.readStream(stream, from: lookedAt + 1, limit: 10_000)
        lookedAt = events.last?.streamVersion ?? lookedAt
        guard let stop = events.last(where: { $0.type == PublishEvent.Kind.stopRequested.rawValue }) else { return nil }
        let request = try? PublishEvent.decoder().decode(PublishEvent.StopRequested.self, from: Data(stop.data.utf8))
        let actor = (try? stop.metadata())?.actor ?? "?"
        return "stopped by \(actor)\(request?.reason.map { ": \($0)" } ?? "")"
    }
}
