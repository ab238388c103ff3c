import Catalog
import EventStore
import Foundation
import Logging
import Postgres
import Synchronization

/// The catalog on the event log: loads the folded state and runs commands against it.
///
/// A command runs in one transaction on one connection: a transaction-scoped advisory lock
/// (serialising commands across every Tidemark process sharing the database), the fold of
/// the catalog, the decision, and the appends of every stream it touches — so name
/// uniqueness holds without a unique index on a projection, and a command of several
/// streams (a file of jobs) lands whole or not at all. Appends still carry the expected
/// stream version, so a writer that bypassed the lock could not slip a change in unnoticed.
public final class CatalogStore: Sendable {
    public let events: EventStore
    let logger: Logger
    /// The last fold of the current catalog. The log is append-only and its positions
    /// increase in commit order, so the catalog now is this state with the catalog events
    /// after its position applied: a load reads only what is new (the scheduler, the health
    /// checks and the API's routes load it every tick or request; a full fold of a thousand
    /// jobs costs milliseconds of decoding each time).
    private let latestFold = Mutex<CatalogState?>(nil)

    static let categories = ObjectKind.allCases.map(\.category)

    public init(events: EventStore, logger: Logger = Logger(label: "tidemark.catalog")) {
        self.events = events
        self.logger = logger
    }

    /// The catalog now, or as it was at `asOf` (folded from the log, not the projections).
    public func load(asOf: Date? = nil) async throws -> CatalogState {
        if let asOf {
            return try await events.pool.withTransaction { connection in try Self.fold(asOf: asOf, on: connection) }
        }
        let start = latestFold.withLock { $0 } ?? CatalogState()
        let state = try await events.pool.withTransaction { connection in try Self.fold(from: start, on: connection) }
        remember(state)
        return state
    }

    /// Keeps `state` as the latest fold unless a later one is kept already.
    private func remember(_ state: CatalogState) {
        latestFold.withLock { latest in
            if (latest?.position ?? -1) < state.position { latest = state }
        }
    }

    /// `start` with the catalog events after its position applied (recorded by `asOf`, if given).
    static func fold(
        from start: CatalogState = CatalogState(), asOf: Date? = nil, on connection: isolated PostgresConnection
    ) throws -> CatalogState {
        var state = start
        var position = start.position
        while true {
            let batch = try EventStore.read(after: position, categories: categories, recordedBy: asOf, limit: 5_000, on: connection)
            for event in batch { state.apply(CatalogEventRecord(event)) }
            guard let last = batch.last, batch.count == 5_000 else { break }
            position = last.position
        }
        return state
    }

    /// Every event of one object's stream, oldest first: its audit history.
    public func history(of kind: ObjectKind, id: UUIDString) async throws -> [RecordedEvent] {
        var result: [RecordedEvent] = []
        let stream = try StreamName(kind.stream(of: id))
        while true {
            let batch = try await events.readStream(stream, from: Int64(result.count + 1))
            result += batch
            if batch.count < 1_000 { return result }
        }
    }

    /// Decides a command on the current state and appends its events in one transaction
    /// that holds the catalog lock from the read to the commit. Returns the changes appended;
    /// a refused command, or one stream refused at append, appends nothing.
    @discardableResult
    public func execute(
        metadata: EventMetadata, _ decide: @escaping @Sendable (CatalogState) throws(CatalogError) -> [CatalogChange]
    ) async throws -> [CatalogChange] {
        let changes = try await events.pool.withTransaction { connection -> [CatalogChange] in
            // Commands one at a time, so two never both see a name as free: a table only the
            // service role may lock (an advisory lock could be held for ever by any login).
            _ = try connection.query("LOCK TABLE tidemark.catalog_lock IN EXCLUSIVE MODE")
            let state = try Self.fold(from: self.latestFold.withLock { $0 } ?? CatalogState(), on: connection)
            self.remember(state)
            let changes = try decide(state)
            _ = try EventStore.append(try Self.appends(changes, metadata: metadata), on: connection)
            return changes
        }
        for change in changes {
            logger.info("catalog changed", metadata: ["stream": "\(change.stream)", "event": "\(change.eventType)"])
        }
        return changes
    }

    /// One append per stream, in the order decided: a job's rename and update land together.
    static func appends(_ changes: [CatalogChange], metadata: EventMetadata) throws -> [StreamAppend] {
        var order: [String] = []
        var byStream: [String: [CatalogChange]] = [:]
        for change in changes {
            if byStream[change.stream] == nil { order.append(change.stream) }
            byStream[change.stream, default: []].append(change)
        }
        return try order.map { stream -> StreamAppend in
            let group = byStream[stream]!
            let expected: ExpectedVersion = group[0].expectedVersion == 0 ? .noStream : .exact(group[0].expectedVersion)
            return StreamAppend(
                stream: try StreamName(stream), expectedVersion: expected,
                events: try group.map { try NewEvent(type: $0.eventType, jsonData: $0.data, metadata: metadata) })
        }
    }
}

extension CatalogEventRecord {
    /// The catalog's view of a stored event.
    public init(_ event: RecordedEvent) {
        self.init(
            stream: event.stream, streamVersion: event.streamVersion, position: event.position, type: event.type,
            data: event.data, recordedAt: event.recordedAt, actor: (try? event.metadata())?.actor)
    }
}
