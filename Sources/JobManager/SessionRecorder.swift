import Catalog
import EventStore
import Foundation

/// Appends a session's events and keeps the folded state in step with them.
///
/// Every append expects the stream at the version the state has folded, so a second writer
/// (which the session lock should already exclude) is refused rather than interleaved.
/// `TIDEMARK_CRASH_AFTER_EVENTS=N` makes the process kill itself (SIGKILL) right after the
/// append that brings the stream to N events: the crash-resume tests stop the Job Manager at
/// every event boundary this way.
actor SessionRecorder {
    let store: EventStore
    let stream: StreamName
    let metadata: EventMetadata
    private(set) var state: SessionState
    private let crashAfter: Int64?

    init(store: EventStore, session: String, state: SessionState) throws {
        self.store = store
        self.stream = try StreamName("session-\(session)")
        self.metadata = EventMetadata(
            correlationID: UUID(uuidString: session), actor: "job-manager", host: ProcessInfo.processInfo.hostName)
        self.state = state
        self.crashAfter = ProcessInfo.processInfo.environment["TIDEMARK_CRASH_AFTER_EVENTS"].flatMap { Int64($0) }
    }

    /// One event with its payload.
    struct Entry: Sendable {
        let kind: SessionEvent.Kind
        let data: String

        init<Payload: Encodable>(_ kind: SessionEvent.Kind, _ payload: Payload) throws {
            self.kind = kind
            self.data = String(decoding: try SessionEvent.encoder().encode(payload), as: UTF8.self)
        }
    }

    /// The append in progress: the next waits for it, so appends from concurrent tasks
    /// (across this actor's suspension points) go in order, each at the version the previous
    /// one left.
    private var tail: Task<Void, any Error>?

    /// Appends entries together (one transaction) and folds them in.
    func record(_ entries: [Entry]) async throws {
        guard !entries.isEmpty else { return }
        let previous = tail
        let next = Task {
            _ = await previous?.result
            try await self.append(entries)
        }
        tail = next
        try await next.value
    }

    private func append(_ entries: [Entry]) async throws {
        let events = try entries.map { try NewEvent(type: $0.kind.rawValue, jsonData: $0.data, metadata: metadata) }
        let expected: ExpectedVersion = state.version == 0 ? .noStream : .exact(state.version)
        try await store.append(to: stream, expectedVersion: expected, events: events)
        for entry in entries { state.apply(type: entry.kind.rawValue, data: entry.data, version: state.version + 1) }
        if let crashAfter, state.version >= crashAfter {
            kill(getpid(), SIGKILL)
        }
    }

    func record<Payload: Encodable>(_ kind: SessionEvent.Kind, _ payload: Payload) async throws {
        try await record([try Entry(kind, payload)])
    }
}
