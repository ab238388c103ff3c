import Catalog
import EventStore
import Foundation
import Logging
import Postgres

/// The catalog on the event log: loads the folded state and runs commands against it.
///
/// Commands are serialised across every Tidemark process sharing the database by a
/// transaction-scoped advisory lock, held while the state is read, the command decided
/// and its events appended: name uniqueness holds without a unique index on a projection.
/// Appends still carry the expected stream version, so a writer that bypassed the lock
/// could not slip a change in between unnoticed.
public final class CatalogStore: Sendable {
    public let events: EventStore
    let logger: Logger

    /// The advisory lock key of catalog commands ('tide', 1).
    static let lockKey: (Int32, Int32) = (1_953_064_037, 1)
    static let categories = ObjectKind.allCases.map(\.category)

    public init(events: EventStore, logger: Logger = Logger(label: "tidemark.catalog")) {
        self.events = events
        self.logger = logger
    }

    /// The catalog now, or as it was at `asOf` (folded from the log, not the projections).
    public func load(asOf: Date? = nil) async throws -> CatalogState {
        var state = CatalogState()
        var position: Int64 = 0
        while true {
            let batch = try await events.read(after: position, categories: Self.categories, recordedBy: asOf, limit: 5_000)
            for event in batch { try state.apply(CatalogEventRecord(event)) }
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

    /// Decides a command on the current state and appends its events, all under the
    /// catalog lock. Returns the changes appended; a refused command appends nothing.
    @discardableResult
    public func execute(
        metadata: EventMetadata, _ decide: @escaping @Sendable (CatalogState) throws(CatalogError) -> [CatalogChange]
    ) async throws -> [CatalogChange] {
        try await events.pool.withConnection { connection in
            try await connection.execute("BEGIN", label: "catalog lock")
            do {
                _ = try await connection.query(
                    "SELECT pg_advisory_xact_lock($1, $2)", [Self.lockKey.0, Self.lockKey.1])
                let changes = try await self.decideAndAppend(metadata: metadata, decide)
                try await connection.execute("COMMIT", label: "catalog unlock")
                return changes
            } catch {
                _ = try? await connection.execute("ROLLBACK", label: "catalog unlock")
                throw error
            }
        }
    }

    private func decideAndAppend(
        metadata: EventMetadata, _ decide: @Sendable (CatalogState) throws(CatalogError) -> [CatalogChange]
    ) async throws -> [CatalogChange] {
        let state = try await load()
        let changes = try decide(state)
        // One append per stream, in the order decided: a job's rename and update land together.
        var order: [String] = []
        var byStream: [String: [CatalogChange]] = [:]
        for change in changes {
            if byStream[change.stream] == nil { order.append(change.stream) }
            byStream[change.stream, default: []].append(change)
        }
        for stream in order {
            let group = byStream[stream]!
            let expected: ExpectedVersion = group[0].expectedVersion == 0 ? .noStream : .exact(group[0].expectedVersion)
            let newEvents = try group.map { change in
                try NewEvent(type: change.eventType, jsonData: change.data, metadata: metadata)
            }
            try await events.append(to: try StreamName(stream), expectedVersion: expected, events: newEvents)
            logger.info(
                "catalog changed",
                metadata: ["stream": "\(stream)", "events": "\(group.map(\.eventType).joined(separator: ","))"])
        }
        return changes
    }
}

extension CatalogEventRecord {
    /// The catalog's view of a stored event.
    public init(_ event: RecordedEvent) throws {
        self.init(
            stream: event.stream, streamVersion: event.streamVersion, position: event.position, type: event.type,
            data: event.data, recordedAt: event.recordedAt, actor: try event.metadata().actor)
    }
}
