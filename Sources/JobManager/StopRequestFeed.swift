import EventStore
import Foundation
import Logging
import WorkflowEvents

/// A stop asked of a session, and by whom.
struct StopRequest: Sendable, Equatable {
    let mode: ControlEvent.StopRequested.Mode
    let by: String

    init(mode: ControlEvent.StopRequested.Mode, by: String) {
        self.mode = mode
        self.by = by
    }

    /// The request a `StopRequested` event records; nil for another event or a payload that
    /// does not decode.
    init?(_ event: RecordedEvent) {
        guard event.type == "StopRequested",
            let request = try? SessionEvent.decoder().decode(ControlEvent.StopRequested.self, from: Data(event.data.utf8))
        else { return nil }
        self.init(mode: request.mode, by: (try? event.metadata())?.actor ?? "someone")
    }

    /// The request that counts among those recorded: the first immediate one, else the
    /// latest graceful one.
    static func mostForceful(_ requests: [StopRequest]) -> StopRequest? {
        requests.first { $0.mode == .immediate } ?? requests.last
    }
}

/// Stop requests for the sessions this process runs, from ONE subscription to the control
/// streams (LISTEN/NOTIFY, with the store's poll as the fallback) shared by all of them.
///
/// Each running session used to read its control stream every 250 ms: a query per session
/// four times a second, and a stop noticed up to a quarter second late. The feed starts its
/// subscription when the first session watches and ends it when the last one leaves, so a
/// command line that runs one session holds the listening connection only meanwhile.
final class StopRequestFeed: Sendable {
    private let state: FeedState

    init(store: EventStore, logger: Logger) {
        state = FeedState(store: store, logger: logger)
    }

    /// Runs `body` with the requests for `session`: those already recorded (to heed before
    /// any work starts), and each new one as it commits. A request may come in both; the most
    /// forceful wins either way. The watch ends with `body`, however it ends.
    func watching<Value>(
        _ session: String, _ body: (_ recorded: [StopRequest], _ later: AsyncStream<StopRequest>) async throws -> Value
    ) async throws -> Value {
        let (stream, continuation) = AsyncStream.makeStream(of: StopRequest.self)
        let watch = UUID()
        // Watching before reading what is recorded: a request committed in between comes
        // from the read, the subscription, or both; none is lost.
        do {
            try await state.watch(session: session, watch: watch, continuation: continuation)
            let value = try await body(try await state.recorded(for: session), stream)
            continuation.finish()
            await state.forget(session: session, watch: watch)
            return value
        } catch {
            continuation.finish()
            await state.forget(session: session, watch: watch)
            throw error
        }
    }
}

/// The feed's watchers and its subscription, behind an actor.
private actor FeedState {
    let store: EventStore
    let logger: Logger
    private var watchers: [String: [UUID: AsyncStream<StopRequest>.Continuation]] = [:]
    private var subscription: Task<Void, Never>?

    init(store: EventStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    func watch(session: String, watch: UUID, continuation: AsyncStream<StopRequest>.Continuation) async throws {
        watchers[session, default: [:]][watch] = continuation
        guard subscription == nil else { return }
        let head = try await store.headPosition()
        // Another watch may have started it while the head was read.
        guard subscription == nil, !watchers.isEmpty else { return }
        subscription = Task { [store, logger] in
            var position = head
            var retryDelay = Duration.seconds(1)
            while !Task.isCancelled {
                do {
                    var events = store.subscribe(after: position, category: ControlEvent.category).makeAsyncIterator()
                    while let event = try await events.next() {
                        position = event.position
                        guard let session = ControlEvent.session(inStream: event.stream), let request = StopRequest(event) else {
                            continue
                        }
                        self.deliver(request, to: session)
                        retryDelay = .seconds(1)
                    }
                } catch {
                    guard !Task.isCancelled else { break }
                    logger.warning(
                        "the stop request feed lost its subscription; subscribing again",
                        metadata: ["error": "\(error)", "retry_in": "\(retryDelay)"])
                    try? await Task.sleep(for: retryDelay)
                    retryDelay = min(retryDelay * 2, .seconds(30))
                }
            }
        }
    }

    func forget(session: String, watch: UUID) {
        watchers[session]?[watch] = nil
        if watchers[session]?.isEmpty == true { watchers[session] = nil }
        if watchers.isEmpty {
            subscription?.cancel()
            subscription = nil
        }
    }

    private func deliver(_ request: StopRequest, to session: String) {
        for continuation in (watchers[session] ?? [:]).values { continuation.yield(request) }
    }

    /// What the session's control stream holds already.
    func recorded(for session: String) async throws -> [StopRequest] {
        try await store.readStream(try StreamName(ControlEvent.stream(of: session))).compactMap(StopRequest.init)
    }
}
