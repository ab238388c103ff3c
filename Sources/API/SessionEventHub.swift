import EventStore
import Foundation
import Logging
import ServiceLifecycle

/// One subscription to the log for every live client (a session's progress, a category's
/// feed): the database sees one listening connection however many clients follow. Each client
/// gets a bounded buffer of signals; one that falls 1,000 behind is dropped (its stream ends
/// and it reconnects with `Last-Event-ID`), so a slow client never holds up the others. A ping
/// every 15 seconds reaches every client, so a client that went away is noticed when the
/// write fails, and graceful shutdown ends every stream.
actor SessionEventHub {
    static let bufferLimit = 1_000
    static let pingInterval: Duration = .seconds(15)

    /// What a client is told: an event of its stream was committed (at this position, with
    /// its JSON when the hub could read it), or nothing happened lately.
    enum Signal: Sendable {
        case event(position: Int64, type: String, json: LogEventJSON.Forms?)
        case ping
    }

    /// What a client follows: one stream, or every stream of a category.
    enum Interest: Sendable, CustomStringConvertible {
        case stream(String)
        case category(String)

        func covers(_ stream: String) -> Bool {
            switch self {
            case .stream(let name): name == stream
            case .category(let category): stream.hasPrefix(category + "-")
            }
        }

        var description: String {
            switch self {
            case .stream(let name): name
            case .category(let category): "category \(category)"
            }
        }
    }

    struct Subscriber {
        let interest: Interest
        let continuation: AsyncStream<Signal>.Continuation
    }

    let store: EventStore
    let logger: Logger
    var subscribers: [UUID: Subscriber] = [:]
    var follower: Task<Void, Never>?
    /// Done once the follower has read the log's head it follows from.
    var following: Task<Void, Never>?
    var stopped = false

    init(store: EventStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Signals for what `interest` covers from now on. The sequence ends early when the client fell behind or
    /// the server is stopping: the client reconnects from the last event it saw. Returns once
    /// the follower knows where it follows from, so the client's catch-up read comes after
    /// that point and no event falls between the two.
    func subscribe(_ interest: Interest) async -> AsyncStream<Signal> {
        let (signals, continuation) = AsyncStream<Signal>.makeStream(bufferingPolicy: .bufferingOldest(Self.bufferLimit))
        guard !stopped else {
            continuation.finish()
            return signals
        }
        let id = UUID()
        subscribers[id] = Subscriber(interest: interest, continuation: continuation)
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
        await startIfNeeded().value
        return signals
    }

    func unsubscribe(_ id: UUID) {
        subscribers[id] = nil
    }

    var subscriberCount: Int { subscribers.count }

    /// The one follower of the log, made before any suspension so two first subscribers
    /// cannot both make one; the task returned is done once it has read the head.
    private func startIfNeeded() -> Task<Void, Never> {
        if let following, follower != nil { return following }
        let store = self.store
        let (headRead, headKnown) = AsyncStream<Void>.makeStream()
        follower = Task { [weak self] in
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        let head = try await store.headPosition()
                        headKnown.finish()
                        for try await event in store.subscribe(after: head) {
                            guard let hub = self else { return }
                            guard await hub.anyoneFollows(event.stream) else { continue }
                            // Read once here for every client, not once per client: with
                            // hundreds following, a read each was hundreds of queries per event.
                            // A client given none reads the log itself.
                            let json = try? await LogEventJSON.forms(at: event.position, store: store)
                            await hub.deliver(.event(position: event.position, type: event.type, json: json), to: event.stream)
                        }
                    } catch {
                        headKnown.finish()
                        await self?.failed(error)
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: Self.pingInterval)
                        await self?.deliver(.ping, to: nil)
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
        let following = Task { for await _ in headRead {} }
        self.following = following
        return following
    }

    func anyoneFollows(_ stream: String) -> Bool {
        subscribers.values.contains { $0.interest.covers(stream) }
    }

    /// To the subscribers whose interest covers `stream` (every subscriber when nil).
    func deliver(_ signal: Signal, to stream: String?) {
        for (id, subscriber) in subscribers where stream.map(subscriber.interest.covers) ?? true {
            if case .dropped = subscriber.continuation.yield(signal) {
                subscriber.continuation.finish()
                subscribers[id] = nil
                logger.notice("a live client fell behind and was dropped", metadata: ["following": "\(subscriber.interest)"])
            }
        }
    }

    func failed(_ error: any Error) {
        logger.warning("the live-progress feed stopped", metadata: ["error": "\(error)"])
        for subscriber in subscribers.values { subscriber.continuation.finish() }
        subscribers = [:]
        follower = nil
        following = nil
    }

    /// Ends every stream and the follower: the server is stopping.
    func stop() {
        stopped = true
        follower?.cancel()
        follower = nil
        for subscriber in subscribers.values { subscriber.continuation.finish() }
        subscribers = [:]
    }
}

/// Stops the hub on graceful shutdown, so open event streams end and the HTTP server can
/// finish its responses instead of waiting on them for ever.
struct SessionEventHubService: Service {
    let hub: SessionEventHub

    func run() async throws {
        try? await gracefulShutdown()
        await hub.stop()
    }
}
