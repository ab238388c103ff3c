import EventStore
import Foundation
import Logging
import Postgres

/// Runs projections: catches them up on demand, or follows the log as a long-lived service.
///
/// Each batch of events is applied and the checkpoint moved in one transaction that first
/// locks the checkpoint row and checks it is where the batch started: a crash never applies
/// an event twice or skips one, and two projectors (two servers, or a CLI command beside
/// the server) never apply the same batch.
public final class Projector: Sendable {
    public let store: EventStore
    public let projections: [any Projection]
    public let batchSize: Int
    public let logger: Logger
    /// Called after each committed batch with its events (the lag bench's probe).
    let observer: (@Sendable ([RecordedEvent]) -> Void)?

    public init(
        store: EventStore, projections: [any Projection] = StandardProjections.all, batchSize: Int = 5_000,
        logger: Logger = Logger(label: "tidemark.projector"), observer: (@Sendable ([RecordedEvent]) -> Void)? = nil
    ) {
        self.store = store
        self.projections = projections
        self.batchSize = max(1, batchSize)
        self.logger = logger
        self.observer = observer
    }

    /// Brings every projection up to the log's current head; returns the events applied.
    @discardableResult
    public func catchUp() async throws -> Int {
        var applied = 0
        for projection in projections { applied += try await catchUp(projection) }
        return applied
    }

    /// Brings one projection up to the log's current head.
    @discardableResult
    public func catchUp(_ projection: any Projection) async throws -> Int {
        let head = try await store.headPosition()
        var checkpoint = try await Self.checkpoint(of: projection.name, pool: store.pool)
        var applied = 0
        while checkpoint < head {
            let events = try await store.read(
                after: checkpoint, through: head, categories: projection.categories, limit: batchSize)
            let next = events.count == batchSize ? events.last!.position : head
            let start = checkpoint
            let moved = try await store.pool.withTransaction { connection -> Bool in
                guard try Self.lockCheckpoint(projection.name, on: connection) == start else { return false }
                if !events.isEmpty { try projection.apply(events, in: .live, on: connection) }
                try Self.moveCheckpoint(projection.name, to: next, on: connection)
                return true
            }
            if moved {
                applied += events.count
                checkpoint = next
                observer?(events)
            } else {
                // Another projector moved it: continue from where it left off.
                checkpoint = try await Self.checkpoint(of: projection.name, pool: store.pool)
            }
        }
        if applied > 0 {
            logger.debug(
                "projection caught up", metadata: ["projection": "\(projection.name)", "events": "\(applied)", "position": "\(checkpoint)"])
        }
        return applied
    }

    /// Follows the log until the task is cancelled: catches up, then waits for the append
    /// notification (or `pollInterval`, if notifications are lost or the listener is down).
    public func run(pollInterval: Duration = .seconds(1)) async throws {
        var listener: PostgresConnection?
        await follow(pollInterval: pollInterval, listener: &listener)
        // Closed here, awaited, whatever ended the loop: a deferred unstructured task might
        // never run in a command line that exits next.
        await listener?.close()
    }

    private func follow(pollInterval: Duration, listener: inout PostgresConnection?) async {
        while !Task.isCancelled {
            do {
                try await catchUp()
            } catch is CancellationError {
                return
            } catch {
                logger.error("projection failed; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: pollInterval)
                continue
            }
            if listener == nil {
                do {
                    let connection = try await PostgresConnection.connect(store.pool.configuration.settings, logger: logger)
                    try await connection.listen(EventStore.notificationChannel)
                    listener = connection
                } catch {
                    logger.warning("cannot listen for appends; polling", metadata: ["error": "\(error)"])
                }
            }
            if let connection = listener {
                do {
                    _ = try await connection.waitForNotifications(timeout: pollInterval)
                } catch {
                    await connection.close()
                    listener = nil
                }
            } else {
                try? await Task.sleep(for: pollInterval)
            }
        }
    }

    /// A projection's checkpoint; a standard projection's missing row is recreated first
    /// (`recreateMissingCheckpoints`), so a deleted row costs a rebuild, never every command.
    static func checkpoint(of name: String, pool: PostgresPool) async throws -> Int64 {
        let result = try await pool.query("SELECT position FROM projection.checkpoints WHERE projection = $1", [name])
        if result.rowCount == 1 { return try result.decode(0, 0) }
        guard let projection = StandardProjections.all.first(where: { $0.name == name }) else { throw missingCheckpoint(name) }
        try await recreateMissingCheckpoints([projection], pool: pool)
        let again = try await pool.query("SELECT position FROM projection.checkpoints WHERE projection = $1", [name])
        guard again.rowCount == 1 else { throw missingCheckpoint(name) }
        return try again.decode(0, 0)
    }

    /// Recreates the checkpoint row of every projection that has none (deleted by hand, as
    /// the service role may) at position 0, and clears that projection's live rows in the
    /// same transaction: the catch-up that follows rebuilds them from the log instead of
    /// applying every event a second time on top of them (daily sums would double). Two
    /// callers at once recreate it once: the second's insert waits for the first's commit
    /// and then finds the row. Returns the projections whose row was recreated.
    @discardableResult
    public static func recreateMissingCheckpoints(
        _ projections: [any Projection] = StandardProjections.all, pool: PostgresPool
    )
        async throws -> [String]
    {
        let present = try await pool.query("SELECT projection FROM projection.checkpoints")
        let names = Set(try (0..<present.rowCount).map { row -> String in try present.decode(row, 0) })
        var recreated: [String] = []
        for projection in projections where !names.contains(projection.name) {
            let made = try await pool.withTransaction { connection -> Bool in
                let inserted = try connection.query(
                    "INSERT INTO projection.checkpoints (projection) VALUES ($1) ON CONFLICT (projection) DO NOTHING RETURNING projection",
                    [projection.name])
                guard inserted.rowCount == 1 else { return false }
                for table in projection.tables { _ = try connection.execute("DELETE FROM \(ProjectionSchema.live.table(table))") }
                return true
            }
            if made { recreated.append(projection.name) }
        }
        return recreated
    }

    static func lockCheckpoint(_ name: String, on connection: isolated PostgresConnection) throws -> Int64 {
        let result = try connection.query(
            "SELECT position FROM projection.checkpoints WHERE projection = $1 FOR UPDATE", [name])
        guard result.rowCount == 1 else { throw missingCheckpoint(name) }
        return try result.decode(0, 0)
    }

    static func moveCheckpoint(_ name: String, to position: Int64, rebuilt: Bool = false, on connection: isolated PostgresConnection) throws
    {
        _ = try connection.query(
            "UPDATE projection.checkpoints SET position = $2, updated_at = now()"
                + (rebuilt ? ", rebuilt_at = now()" : "") + " WHERE projection = $1",
            [name, position])
    }

    static func missingCheckpoint(_ name: String) -> ProjectionError {
        ProjectionError(
            .notMigrated, "the projection '\(name)' has no checkpoint row: run 'tidemark db migrate' to create the projection tables")
    }
}
