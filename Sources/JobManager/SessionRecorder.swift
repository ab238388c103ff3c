import Catalog
import EventStore
import Foundation
import Secrets
import WorkflowEvents

/// Appends a session's events and keeps the folded state in step with them.
///
/// Every append expects the stream at the version the state has folded, so a second writer
/// (which the session lock should already exclude) is refused rather than interleaved.
/// `crashAfter` (`JobManagerSettings.crashAfterEvents`, which the command line sets from
/// `TIDEMARK_CRASH_AFTER_EVENTS`) makes the process kill itself (SIGKILL) right after the
/// append that brings the stream to that many events or more: the crash-resume tests stop
/// the Job Manager at every append boundary this way.
actor SessionRecorder {
    let store: EventStore
    let stream: StreamName
    let metadata: EventMetadata
    private(set) var state: SessionState
    /// The secrets of this session's infrastructure, scrubbed from every event recorded.
    private(set) var scrubber = SecretScrubber()
    private let crashAfter: Int64?

    /// `requester`: who asked for the session (an API user and its address), recorded as the
    /// actor of what this recorder appends instead of `job-manager`.
    init(store: EventStore, session: String, state: SessionState, crashAfter: Int64? = nil, requester: EventMetadata? = nil) throws {
        self.store = store
        self.stream = try StreamName(SessionEvent.stream(of: session))
        self.metadata = EventMetadata(
            correlationID: UUID(uuidString: session), actor: requester?.actor ?? "job-manager", host: ProcessInfo.processInfo.hostName,
            clientAddress: requester?.clientAddress)
        self.state = state
        self.crashAfter = crashAfter
    }

    /// One event with its payload.
    /// Adds a secret (a vCenter password) to those scrubbed from every event recorded.
    func redact(_ secret: String) {
        scrubber.add(secret)
    }

    struct Entry: Sendable {
        let kind: SessionEvent.Kind
        let data: String

        init(kind: SessionEvent.Kind, data: String) {
            self.kind = kind
            self.data = data
        }

        init<Payload: Encodable>(_ kind: SessionEvent.Kind, _ payload: Payload) throws {
            self.kind = kind
            self.data = String(decoding: try SessionEvent.encoder().encode(payload), as: UTF8.self)
        }
    }

    /// Records waiting for the append in flight; they go together in the next one (group
    /// commit within the session: parallel tasks do not wait a round trip each).
    private var machine = SessionRecordingStateMachine<Entry, CheckedContinuation<Void, any Error>>()

    /// Appends entries together (one transaction, possibly with other tasks' entries queued
    /// meanwhile) and folds them in, in the order recorded.
    func record(_ entries: [Entry]) async throws {
        guard !entries.isEmpty else { return }
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            if machine.recordRequested(entries, waiter: done) == .startDraining {
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while let batch = machine.nextBatch() {
            do {
                try await append(batch.entries)
                for waiting in machine.batchSucceeded() { waiting.resume() }
            } catch {
                for waiting in machine.batchFailed() { waiting.resume(throwing: error) }
            }
        }
    }

    private func append(_ entries: [Entry]) async throws {
        // Nothing a server sent back reaches the log with a secret in it (a refused login's fault
        // may quote the password).
        let entries = scrubber.isEmpty ? entries : entries.map { Entry(kind: $0.kind, data: scrubber.scrub($0.data)) }
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
