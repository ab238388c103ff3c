import Foundation
import Logging
import Postgres

/// Every event after a position, in position order, and then each new one as it commits.
///
/// It catches up by reading batches, then waits on `LISTEN tidemark_events`; every
/// `pollInterval` it reads again even without a notification, so a lost notification or
/// a dead listening connection costs latency, never an event. Lost connections are
/// reopened and the reading resumes at the last position delivered. Cancelling the
/// task that iterates ends the sequence.
public struct EventSubscription: AsyncSequence, Sendable {
    public typealias Element = RecordedEvent

    let store: EventStore
    let start: Int64
    let category: String?
    let listenSettings: PostgresConnectionSettings?

    public func makeAsyncIterator() -> Iterator {
        Iterator(subscription: self)
    }

    public struct Iterator: AsyncIteratorProtocol {
        private let subscription: EventSubscription
        private var buffer: [RecordedEvent] = []
        private var index = 0
        private var listener: PostgresConnection?
        private var retryDelay: Duration = .milliseconds(100)
        /// The position of the last event delivered.
        public private(set) var position: Int64

        init(subscription: EventSubscription) {
            self.subscription = subscription
            self.position = subscription.start
        }

        public mutating func next() async throws -> RecordedEvent? {
            let store = subscription.store
            while true {
                if index < buffer.count {
                    let event = buffer[index]
                    index += 1
                    position = event.position
                    return event
                }
                if Task.isCancelled {
                    await closeListener()
                    return nil
                }
                await ensureListening()
                do {
                    if let category = subscription.category {
                        buffer = try await store.readCategory(category, after: position)
                    } else {
                        buffer = try await store.readAll(after: position)
                    }
                    index = 0
                    retryDelay = .milliseconds(100)
                } catch let error as PostgresError where error.isRetryable || error.kind == .connectionFailed {
                    store.logger.warning(
                        "subscription lost its connection, retrying",
                        metadata: ["subscription.position": "\(position)", "error": "\(error)"])
                    try? await Task.sleep(for: retryDelay)
                    retryDelay = Swift.min(retryDelay * 2, .seconds(5))
                    continue
                }
                if buffer.isEmpty {
                    await waitForAppends()
                }
            }
        }

        private mutating func ensureListening() async {
            guard listener == nil, let settings = subscription.listenSettings else { return }
            do {
                let connection = try await PostgresConnection.connect(settings, logger: subscription.store.logger)
                try await connection.listen(EventStore.notificationChannel)
                listener = connection
            } catch {
                subscription.store.logger.debug(
                    "subscription listens later; polling meanwhile", metadata: ["error": "\(error)"])
            }
        }

        private mutating func waitForAppends() async {
            let interval = subscription.store.configuration.pollInterval
            if let listener {
                do {
                    _ = try await listener.waitForNotifications(timeout: interval)
                    return
                } catch {
                    await closeListener()
                }
            }
            try? await Task.sleep(for: interval)
        }

        private mutating func closeListener() async {
            await listener?.close()
            listener = nil
        }
    }
}
