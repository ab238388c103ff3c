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

    struct Entry: Sendable {
        let kind: PublishEvent.Kind
        let data: String

        init<Payload: Encodable>(_ kind: PublishEvent.Kind, _ payload: Payload) throws {
            self.kind = kind
            self.data = String(decoding: try PublishEvent.encoder().encode(payload), as: UTF8.self)
        }
    }

    init(store: EventStore, publish: String, metadata: EventMetadata) throws {
        self.store = store
        self.stream = try StreamName(PublishEvent.stream(of: publish))
        self.metadata = metadata
    }

    func record(_ entries: [Entry]) async throws {
        let events = try entries.map { try NewEvent(type: $0.kind.rawValue, jsonData: $0.data, metadata: metadata) }
        do {
            try await store.append(to: stream, expectedVersion: version == 0 ? .noStream : .exact(version), events: events)
            version += Int64(events.count)
        } catch let error as EventStoreError where error.code == .wrongExpectedVersion {
            // A stop recorded by another process moved the stream on: append after it.
            let current = try await store.readStream(stream, limit: 1_000_000).last?.streamVersion ?? 0
            try await store.append(to: stream, expectedVersion: .exact(current), events: events)
            version = current + Int64(events.count)
        }
    }

    /// Who asked to stop, if someone did: "stopped by <actor>[: reason]".
    func stopRequest() async throws -> String? {
        let events = try await store.readStream(stream, limit: 1_000_000)
        guard let stop = events.last(where: { $0.type == PublishEvent.Kind.stopRequested.rawValue }) else { return nil }
        let request = try? PublishEvent.decoder().decode(PublishEvent.StopRequested.self, from: Data(stop.data.utf8))
        let actor = (try? stop.metadata())?.actor ?? "?"
        return "stopped by \(actor)\(request?.reason.map { ": \($0)" } ?? "")"
    }
}
