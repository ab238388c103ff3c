import EventStore
import Foundation
import Secrets
import WorkflowEvents

/// Appends a restore's events one append after another, each at the version the state has
/// folded, and keeps the state in step. Parallel disks queue behind the append in flight.
/// `crashAfter` kills the process right after the append that brings the stream to that many
/// events (the crash-resume tests), as the session recorder does.
actor RestoreRecorder {
    let store: EventStore
    let stream: StreamName
    let metadata: EventMetadata
    private(set) var state: RestoreState
    private let crashAfter: Int64?
    private var tail: Task<Void, any Error>?
    /// The target server's secrets, taken out of every event recorded and message logged.
    private(set) var scrubber = SecretScrubber()

    func redact(_ secrets: [String]) {
        for secret in secrets { scrubber.add(secret) }
    }

    /// `text` without secrets and at most 2,000 characters: a fault quoted into an event must
    /// neither leak a password nor push the event past the log's size limit.
    func clean(_ text: String) -> String {
        let scrubbed = scrubber.isEmpty ? text : scrubber.scrub(text)
        return scrubbed.count > 2_000 ? String(scrubbed.prefix(2_000)) + "…" : scrubbed
    }

    init(store: EventStore, restore: String, state: RestoreState, metadata: EventMetadata, crashAfter: Int64?) throws {
        self.store = store
        self.stream = try StreamName(RestoreEvent.stream(of: restore))
        self.metadata = metadata
        self.state = state
        self.crashAfter = crashAfter
    }

    struct Entry: Sendable {
        let kind: RestoreEvent.Kind
        let data: String

        init(kind: RestoreEvent.Kind, data: String) {
            self.kind = kind
            self.data = data
        }

        init<Payload: Encodable>(_ kind: RestoreEvent.Kind, _ payload: Payload) throws {
            self.kind = kind
            self.data = String(decoding: try RestoreEvent.encoder().encode(payload), as: UTF8.self)
        }
    }

    func record<Payload: Encodable>(_ kind: RestoreEvent.Kind, _ payload: Payload) async throws {
        try await record([try Entry(kind, payload)])
    }

    /// Entries in one append, after every append asked for before.
    func record(_ entries: [Entry]) async throws {
        let previous = tail
        let next = Task { [self] in
            _ = await previous?.result
            try await self.append(entries)
        }
        tail = next
        try await next.value
    }

    private func append(_ entries: [Entry]) async throws {
        let entries = scrubber.isEmpty ? entries : entries.map { Entry(kind: $0.kind, data: scrubber.scrub($0.data)) }
        let events = try entries.map { try NewEvent(type: $0.kind.rawValue, jsonData: $0.data, metadata: metadata) }
        let expected: ExpectedVersion = state.version == 0 ? .noStream : .exact(state.version)
        try await store.append(to: stream, expectedVersion: expected, events: events)
        for entry in entries { state.apply(type: entry.kind.rawValue, data: entry.data, version: state.version + 1) }
        if let crashAfter, state.version >= crashAfter {
            kill(getpid(), SIGKILL)
        }
    }
}
