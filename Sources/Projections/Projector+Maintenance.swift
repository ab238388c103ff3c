import EventStore
import Foundation
import Postgres

/// A row that a rebuild from the log would not write as the live projection holds it.
public struct ProjectionDifference: Sendable, CustomStringConvertible {
    public enum Side: String, Sendable {
        case onlyLive = "only in the live table"
        case onlyRebuilt = "only in the rebuild"
    }

    public let projection: String
    public let table: String
    public let side: Side
    /// The row as JSON.
    public let row: String

    public var description: String { "\(projection)/\(table): \(side.rawValue): \(row)" }
}

/// What a rebuild did.
public struct RebuildReport: Sendable {
    public let projections: [String]
    /// Events read from the log and applied to the shadow tables.
    public let events: Int
    /// The log position the live tables reflect after the swap.
    public let position: Int64
    public let seconds: Double
}

extension Projector {
    /// The claim (`tidemark.claim_slot`, migration 0009) that lets rebuilds and verifications
    /// run one at a time; only the service role can hold it.
    static let maintenanceClaim: (Int32, Int32) = (1_953_064_002, 0)

    /// Rebuilds projections from position zero into their shadow tables while readers keep
    /// the live ones, then swaps the rows in, in one transaction that first catches the
    /// shadows up to the head (holding the checkpoints, so the live projector waits).
    @discardableResult
    public func rebuild(_ selected: [any Projection]) async throws -> RebuildReport {
        let started = ContinuousClock.now
        return try await withMaintenanceLock {
            let target = try await self.store.headPosition()
            let events = try await self.fillShadows(selected, through: Dictionary(uniqueKeysWithValues: selected.map { ($0.name, target) }))
            let position = try await self.store.pool.withTransaction { connection -> Int64 in
                for projection in selected { _ = try Self.lockCheckpoint(projection.name, on: connection) }
                let head = try EventStore.headPosition(on: connection)
                try Self.applyRange(selected, after: target, through: head, batchSize: self.batchSize, schema: .shadow, on: connection)
                for projection in selected {
                    for table in projection.tables {
                        _ = try connection.execute("DELETE FROM \(ProjectionSchema.live.table(table))")
                        _ = try connection.execute(
                            "INSERT INTO \(ProjectionSchema.live.table(table)) SELECT * FROM \(ProjectionSchema.shadow.table(table))")
                    }
                    try Self.moveCheckpoint(projection.name, to: head, rebuilt: true, on: connection)
                }
                return head
            }
            try await self.truncateShadows(selected)
            self.logger.notice(
                "projections rebuilt",
                metadata: ["projections": "\(selected.map(\.name))", "events": "\(events)", "position": "\(position)"])
            return RebuildReport(
                projections: selected.map(\.name), events: events, position: position, seconds: Self.seconds(since: started))
        }
    }

    /// Rebuilds projections into their shadow tables up to the live checkpoints and returns
    /// every row that differs from the live tables (nothing when they agree).
    public func verify(_ selected: [any Projection]) async throws -> [ProjectionDifference] {
        try await withMaintenanceLock {
            // Each shadow is filled up to its own live checkpoint, outside any lock; only what the
            // live projector adds meanwhile is replayed under the checkpoints' share lock.
            var filled: [String: Int64] = [:]
            for projection in selected {
                filled[projection.name] = try await Self.checkpoint(of: projection.name, pool: self.store.pool)
            }
            _ = try await self.fillShadows(selected, through: filled)
            let base = filled
            let differences = try await self.store.pool.withTransaction { connection -> [ProjectionDifference] in
                var found: [ProjectionDifference] = []
                for projection in selected {
                    let result = try connection.query(
                        "SELECT position FROM projection.checkpoints WHERE projection = $1 FOR SHARE", [projection.name])
                    let live: Int64 = try result.decode(0, 0)
                    try Self.applyRange(
                        [projection], after: base[projection.name] ?? 0, through: live, batchSize: self.batchSize, schema: .shadow,
                        on: connection)
                    for table in projection.tables {
                        found += try Self.compare(projection.name, table, on: connection)
                    }
                }
                return found
            }
            try await self.truncateShadows(selected)
            return differences
        }
    }

    private func withMaintenanceLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        let lock = try await PostgresConnection.connect(store.pool.configuration.settings, logger: logger)
        do {
            let granted: Bool = try await lock.query(
                "SELECT tidemark.claim_slot($1, $2)", [Self.maintenanceClaim.0, Self.maintenanceClaim.1]
            ).decode(0, 0)
            guard granted else {
                throw ProjectionError(
                    .maintenanceRunning, "another rebuild or verification is running on this database: wait for it to finish")
            }
            // Released before the connection closes: a closed connection's server process may
            // live on for a moment, and the next maintenance would be refused.
            let value: T
            do {
                value = try await body()
            } catch {
                _ = try? await lock.query("SELECT tidemark.release_slot($1, $2)", [Self.maintenanceClaim.0, Self.maintenanceClaim.1])
                throw error
            }
            _ = try? await lock.query("SELECT tidemark.release_slot($1, $2)", [Self.maintenanceClaim.0, Self.maintenanceClaim.1])
            await lock.close()
            return value
        } catch {
            await lock.close()
            throw error
        }
    }

    /// Empties the shadows and replays the log into each up to its position in `targets`,
    /// reading the next batch while the current one is written.
    private func fillShadows(_ selected: [any Projection], through targets: [String: Int64]) async throws -> Int {
        try await truncateShadows(selected)
        let target = targets.values.max() ?? 0
        let categories = Array(Set(selected.flatMap(\.categories))).sorted()
        let batchSize = self.batchSize
        let store = self.store
        @Sendable func read(after position: Int64) async throws -> [RecordedEvent] {
            try await store.read(after: position, through: target, categories: categories, limit: batchSize)
        }
        var applied = 0
        var events = try await read(after: 0)
        while let last = events.last {
            let full = events.count == batchSize
            async let next = full ? read(after: last.position) : []
            let batch = events
            try await store.pool.withTransaction { connection in
                try Self.apply(batch, to: selected, limits: targets, schema: .shadow, on: connection)
            }
            applied += batch.count
            events = try await next
        }
        return applied
    }

    private func truncateShadows(_ selected: [any Projection]) async throws {
        let tables = selected.flatMap(\.tables).map { ProjectionSchema.shadow.table($0) }
        guard !tables.isEmpty else { return }
        _ = try await store.pool.withConnection { try await $0.execute("TRUNCATE \(tables.joined(separator: ", "))") }
    }

    /// Hands each projection the events of its categories.
    /// Hands each projection the events of its categories, up to its limit when given.
    static func apply(
        _ events: [RecordedEvent], to selected: [any Projection], limits: [String: Int64]? = nil, schema: ProjectionSchema,
        on connection: isolated PostgresConnection
    ) throws {
        let categories = events.map { Self.category(of: $0.stream) }
        for projection in selected {
            let wanted = Set(projection.categories)
            let limit = limits?[projection.name] ?? .max
            let mine = events.indices.filter { wanted.contains(categories[$0]) && events[$0].position <= limit }.map { events[$0] }
            if !mine.isEmpty { try projection.apply(mine, in: schema, on: connection) }
        }
    }

    /// Applies the events in (`after`, `through`] inside the caller's transaction.
    static func applyRange(
        _ selected: [any Projection], after: Int64, through: Int64, batchSize: Int, schema: ProjectionSchema,
        on connection: isolated PostgresConnection
    ) throws {
        let categories = Array(Set(selected.flatMap(\.categories))).sorted()
        var position = after
        while position < through {
            let events = try EventStore.events(
                inCategories: categories, after: position, through: through, limit: batchSize, on: connection)
            guard let last = events.last else { return }
            try apply(events, to: selected, schema: schema, on: connection)
            position = last.position
        }
    }

    /// Rows listed per table at most: a broken projection should not flood the terminal.
    public static let differencesShown = 1_000

    static func compare(_ projection: String, _ table: String, on connection: isolated PostgresConnection) throws -> [ProjectionDifference]
    {
        let live = ProjectionSchema.live.table(table), shadow = ProjectionSchema.shadow.table(table)
        let result = try connection.query(
            """
            SELECT 'live', row_to_json(x)::text FROM (SELECT * FROM \(live) EXCEPT ALL SELECT * FROM \(shadow)) x
            UNION ALL
            SELECT 'rebuilt', row_to_json(y)::text FROM (SELECT * FROM \(shadow) EXCEPT ALL SELECT * FROM \(live)) y
            ORDER BY 2 LIMIT \(Self.differencesShown)
            """)
        var differences: [ProjectionDifference] = []
        for row in 0..<result.rowCount {
            let side: String = try result.decode(row, 0)
            differences.append(
                ProjectionDifference(
                    projection: projection, table: table, side: side == "live" ? .onlyLive : .onlyRebuilt,
                    row: try result.decode(row, 1)))
        }
        return differences
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = (ContinuousClock.now - start).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }

    static func category(of stream: String) -> String {
        stream.firstIndex(of: "-").map { String(stream[..<$0]) } ?? stream
    }
}
