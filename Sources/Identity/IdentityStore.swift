import EventStore
import Foundation
import Logging
import Postgres

/// Users and tokens on the event log: the fold, and commands run under the catalog's lock
/// (the same one catalog commands take, so two commands never both see a user name as free,
/// and the last administrator cannot be removed twice at once).
public final class IdentityStore: Sendable {
    public let events: EventStore
    let logger: Logger

    static let categories = [IdentityEvent.userCategory, IdentityEvent.tokenCategory]

    public init(events: EventStore, logger: Logger = Logger(label: "tidemark.identity")) {
        self.events = events
        self.logger = logger
    }

    /// Users and tokens now, and the log position the fold reached.
    public func load() async throws -> (state: IdentityState, position: Int64) {
        try await events.pool.withTransaction { connection in
            try Self.fold(on: connection)
        }
    }

    /// The position of the latest identity event (0: none): a cache of the state is current
    /// while this has not moved. One index probe per category.
    /// Prepared once per connection: every API request asks it, and planning it cost as
    /// much as running it.
    public func latestPosition() async throws -> Int64 {
        try await events.pool.query(Self.latestPositionStatement).decode(0, 0)
    }

    static let latestPositionStatement = PostgresStatement(
        name: "tidemark_identity_latest_position",
        sql: """
            SELECT greatest(
                     (SELECT coalesce(max(position), 0) FROM tidemark.events WHERE category = 'user'),
                     (SELECT coalesce(max(position), 0) FROM tidemark.events WHERE category = 'token'))
            """)

    static func fold(on connection: isolated PostgresConnection) throws -> (state: IdentityState, position: Int64) {
        var state = IdentityState()
        var position: Int64 = 0
        while true {
            let batch = try EventStore.read(after: position, categories: categories, limit: 5_000, on: connection)
            for event in batch {
                state.apply(
                    stream: event.stream, version: event.streamVersion, type: event.type, data: Data(event.data.utf8),
                    recordedAt: event.recordedAt)
            }
            guard let last = batch.last else { break }
            position = last.position
            if batch.count < 5_000 { break }
        }
        return (state, position)
    }

    /// Decides on the current state and appends, in one transaction under the catalog lock.
    /// A refused command appends nothing.
    @discardableResult
    public func execute(
        metadata: EventMetadata, _ decide: @escaping @Sendable (IdentityState) throws(IdentityError) -> [IdentityChange]
    ) async throws -> [IdentityChange] {
        let changes = try await events.pool.withTransaction { connection -> [IdentityChange] in
            _ = try connection.query("LOCK TABLE tidemark.catalog_lock IN EXCLUSIVE MODE")
            let changes = try decide(try Self.fold(on: connection).state)
            let appends = try changes.map { change in
                StreamAppend(
                    stream: try StreamName(change.stream),
                    expectedVersion: change.expectedVersion == 0 ? .noStream : .exact(change.expectedVersion),
                    events: [try NewEvent(type: change.eventType, jsonData: change.data, metadata: metadata)])
            }
            if !appends.isEmpty { _ = try EventStore.append(appends, on: connection) }
            return changes
        }
        for change in changes {
            logger.info("identity changed", metadata: ["stream": "\(change.stream)", "event": "\(change.eventType)"])
        }
        return changes
    }
}
