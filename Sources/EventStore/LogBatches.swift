import Postgres

/// The whole log after a position, batch by batch, reading one batch ahead.
///
/// The next batch's query starts as soon as the current one arrives (its last position is
/// all the query needs), so the server produces batch *n+1* on its core while this task
/// decodes batch *n* on another. A projection rebuild reads the whole log this way.
public struct LogBatches: AsyncSequence, Sendable {
    public typealias Element = [RecordedEvent]

    let store: EventStore
    let start: Int64
    let batchSize: Int

    public func makeAsyncIterator() -> Iterator {
        Iterator(store: store, position: start, batchSize: batchSize)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let store: EventStore
        var position: Int64
        let batchSize: Int
        private var ahead: Task<PostgresResult, any Error>?
        private var finished = false

        init(store: EventStore, position: Int64, batchSize: Int) {
            self.store = store
            self.position = position
            self.batchSize = batchSize
        }

        public mutating func next() async throws -> [RecordedEvent]? {
            guard !finished else { return nil }
            let result: PostgresResult
            if let ahead {
                result = try await ahead.value
            } else {
                result = try await store.pool.query(Statements.allForward, [position, batchSize])
            }
            ahead = nil
            guard result.rowCount > 0 else {
                finished = true
                return nil
            }
            position = try result.decode(result.rowCount - 1, 0)
            if result.rowCount == batchSize {
                let (store, position, batchSize) = (store, position, batchSize)
                ahead = Task { try await store.pool.query(Statements.allForward, [position, batchSize]) }
            } else {
                finished = true
            }
            return try RecordedEvent.all(in: result)
        }
    }
}

extension EventStore {
    /// Every event after `position`, in batches of `batchSize` (default: `readBatchSize`),
    /// the next batch read while the current one is decoded.
    public func logBatches(after position: Int64 = 0, batchSize: Int? = nil) -> LogBatches {
        LogBatches(store: self, start: position, batchSize: batchSize ?? configuration.readBatchSize)
    }
}
