import EventStore
import Foundation
import Logging

/// One subscription to the log's session events for every live-progress client: the
/// database sees one listening connection however many clients follow sessions. Each client
/// gets a bounded buffer; one that falls 1,000 events behind is dropped (its stream ends with
/// a note to reconnect with `Last-Event-ID`), so a slow client never holds up the others.
actor SessionEventHub {
    static let bufferLimit = 1_000

    struct Subscriber {
        let stream: String
        let continuation: AsyncStream<RecordedEvent>.Continuation
    }

    let store: EventStore
    let logger: Logger
    var subscribers: [UUID: Subscriber] = [:]
    var follower: Task<Void, Never>?

    init(store: EventStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Events of `stream` appended from now on. It ends early when the client fell behind
    /// (or the feed stopped): the client reconnects from the last event it saw.
    func subscribe(stream: String) async -> (id: UUID, events: AsyncStream<RecordedEvent>) {
        await startIfNeeded()
        let id = UUID()
        let (events, continuation) = AsyncStream<RecordedEvent>.makeStream(bufferingPolicy: .bufferingOldest(Self.bufferLimit))
        subscribers[id] = Subscriber(stream: stream, continuation: continuation)
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
        return (id, events)
    }

    func unsubscribe(_ id: UUID) {
        subscribers[id] = nil
    }

    var subscriberCount: Int { subscribers.count }

    func startIfNeeded() async {
        guard follower == nil else { return }
        let head = (try? await store.headPosition()) ?? 0
        let subscription = store.subscribe(after: head, category: "session")
        follower = Task { [weak self] in
            do {
                for try await event in subscription {
                    await self?.deliver(event)
                }
            } catch {
                await self?.failed(error)
            }
        }
    }

    func deliver(_ event: RecordedEvent) {
        for (id, subscriber) in subscribers where subscriber.stream == event.stream {
            if case .dropped = subscriber.continuation.yield(event) {
                subscriber.continuation.finish()
                subscribers[id] = nil
                logger.notice("a live-progress client fell behind and was dropped", metadata: ["stream": "\(event.stream)"])
            }
        }
    }

    func failed(_ error: any Error) {
        logger.warning("the live-progress feed stopped", metadata: ["error": "\(error)"])
        for subscriber in subscribers.values { subscriber.continuation.finish() }
        subscribers = [:]
        follower = nil
    }

    func stop() {
        follower?.cancel()
        for subscriber in subscribers.values { subscriber.continuation.finish() }
        subscribers = [:]
    }
}
