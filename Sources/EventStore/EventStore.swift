import Foundation
import Logging
import Metrics
import Postgres

/// Tidemark's memory: an append-only log of events in PostgreSQL.
///
/// Appends from concurrent tasks of this process are grouped into one transaction (one
/// WAL flush for many writers); positions are commit-ordered, so readers and
/// subscriptions that follow positions never skip an event.
public final class EventStore: Sendable {
    /// Settings of an event store.
    public struct Configuration: Sendable {
        /// Most events sent in one append call (one transaction). Defaults to 1,000.
        public var maximumEventsPerBatch: Int
        /// Events fetched per round trip when reading the log or catching up. Defaults to 1,000.
        public var readBatchSize: Int
        /// Append transactions of this store in flight at once: one committing, the next waiting
        /// at the log's write lock. Defaults to 2; 1 turns pipelining off.
        public var maximumBatchesInFlight: Int
        /// How long a subscription waits for a notification before it polls anyway. Defaults to 1 second.
        public var pollInterval: Duration

        public init(
            maximumEventsPerBatch: Int = 1_000, maximumBatchesInFlight: Int = 2, readBatchSize: Int = 1_000,
            pollInterval: Duration = .seconds(1)
        ) {
            self.maximumEventsPerBatch = max(1, maximumEventsPerBatch)
            self.maximumBatchesInFlight = max(1, maximumBatchesInFlight)
            self.readBatchSize = max(1, readBatchSize)
            self.pollInterval = pollInterval
        }
    }

    /// The channel `tidemark.append_events` notifies after every commit that appended.
    public static let notificationChannel = "tidemark_events"

    public let pool: PostgresPool
    public let configuration: Configuration
    let logger: Logger
    let batcher: AppendBatcher

    public init(pool: PostgresPool, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "tidemark.eventstore")) {
        self.pool = pool
        self.configuration = configuration
        self.logger = logger
        self.batcher = AppendBatcher(
            pool: pool, maximumEvents: configuration.maximumEventsPerBatch,
            maximumInFlight: configuration.maximumBatchesInFlight)
    }

    /// Appends events to one stream if the stream is at the expected version.
    ///
    /// Throws `EventStoreError` `.wrongExpectedVersion` naming the stream, the expected and
    /// the actual version. Sending the same event ids again (after a lost reply) returns the
    /// original positions with `wasAlreadyStored` set, and writes nothing.
    @discardableResult
    public func append(
        to stream: StreamName, expectedVersion: ExpectedVersion = .any, events: [NewEvent]
    ) async throws
        -> AppendResult
    {
        guard !events.isEmpty else {
            throw EventStoreError.invalid("an append to '\(stream)' needs at least one event", stream: stream.rawValue)
        }
        if case .exact(let version) = expectedVersion, version < 0 {
            _ = try ExpectedVersion.exactly(version)
        }
        var seen = Set<UUID>()
        for event in events where !seen.insert(event.id).inserted {
            throw EventStoreError.invalid(
                "event id \(event.id) appears twice in one append to '\(stream)': give each event its own id",
                stream: stream.rawValue)
        }
        let started = ContinuousClock.now
        defer {
            let elapsed = (ContinuousClock.now - started).components
            Self.appendDuration.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        }
        return try await batcher.append(AppendRequest(stream: stream, expected: expectedVersion, events: events))
    }

    /// How long appends wait, group commit included: a histogram in `tidemark server`'s
    /// `/metrics` (swift-metrics; a no-op where no metrics backend is bootstrapped).
    static let appendDuration = Metrics.Timer(label: "tidemark_event_append_duration_seconds")

    /// The position of the last committed event in the log (0 for an empty log).
    public func headPosition() async throws -> Int64 {
        let result = try await pool.query(Statements.head)
        return try result.decode(0, 0)
    }

    /// A stream's events, oldest first from `version`, or newest first down from it.
    public func readStream(
        _ stream: StreamName, from version: Int64? = nil, direction: ReadDirection = .forward, limit: Int = 1_000
    ) async throws -> [RecordedEvent] {
        let result: PostgresResult
        switch direction {
        case .forward:
            result = try await pool.query(Statements.streamForward, [stream.rawValue, version ?? 1, limit])
        case .backward:
            result = try await pool.query(Statements.streamBackward, [stream.rawValue, version ?? Int64.max, limit])
        }
        return try RecordedEvent.all(in: result)
    }

    /// The stream's current version: its event count, 0 when it does not exist.
    public func streamVersion(_ stream: StreamName) async throws -> Int64 {
        let result = try await pool.query(Statements.streamVersion, [stream.rawValue])
        return try result.decode(0, 0)
    }

    /// Up to `limit` events of the whole log after `position`, in position order.
    public func readAll(after position: Int64 = 0, limit: Int? = nil) async throws -> [RecordedEvent] {
        let result = try await pool.query(Statements.allForward, [position, limit ?? configuration.readBatchSize])
        return try RecordedEvent.all(in: result)
    }

    /// Up to `limit` events of every stream in a category (`job` for `job-*`) after `position`.
    public func readCategory(
        _ category: String, after position: Int64 = 0, limit: Int? = nil
    ) async throws
        -> [RecordedEvent]
    {
        let result = try await pool.query(
            Statements.categoryForward, [category, position, limit ?? configuration.readBatchSize])
        return try RecordedEvent.all(in: result)
    }

    /// Up to `limit` events after `position` and at most `last`, of the given categories only
    /// (every category when nil), recorded no later than `recordedBy` when given.
    ///
    /// Projections read through `last` = a head position read earlier: every event up to a
    /// committed head is visible (positions are commit-ordered), so the range is complete.
    public func read(
        after position: Int64, through last: Int64 = .max, categories: [String]? = nil, recordedBy: Date? = nil,
        limit: Int? = nil
    ) async throws -> [RecordedEvent] {
        let limit = limit ?? configuration.readBatchSize
        let result: PostgresResult
        if let categories {
            result = try await pool.query(Statements.categoriesForward, [position, last, categories, recordedBy, limit])
        } else {
            result = try await pool.query(Statements.rangeForward, [position, last, recordedBy, limit])
        }
        return try RecordedEvent.all(in: result)
    }

    /// Follows the log from `position` (exclusive): catches up, then waits for new events.
    ///
    /// It opens one connection of its own (with the pool's settings) to LISTEN for appends;
    /// while that connection is down it polls every `pollInterval`.
    public func subscribe(after position: Int64 = 0, category: String? = nil) -> EventSubscription {
        EventSubscription(store: self, start: position, category: category, listenSettings: pool.configuration.settings)
    }

    /// Checks that the database holds the event log this build writes to.
    public func checkSchema() async throws {
        let result = try await pool.query(
            "SELECT to_regprocedure('tidemark.append_events(text[],bigint[],integer[],uuid[],text[],integer[],jsonb[],jsonb[])') IS NOT NULL"
        )
        guard try result.decode(0, 0, as: Bool.self) else {
            throw EventStoreError(
                .schemaNotReady, "this database has no Tidemark event log: run 'tidemark db migrate' first")
        }
    }
}

/// Which way a stream is read.
public enum ReadDirection: Sendable {
    case forward
    case backward
}

/// The event store's SQL, prepared once per connection.
enum Statements {
    static let head = PostgresStatement(
        name: "tidemark_head", sql: "SELECT coalesce(max(position), 0) FROM tidemark.events")
    static let streamVersion = PostgresStatement(
        name: "tidemark_stream_version",
        sql: "SELECT coalesce(max(stream_version), 0) FROM tidemark.events WHERE stream_id = $1")
    static let streamForward = PostgresStatement(
        name: "tidemark_stream_forward",
        sql: """
            SELECT \(RecordedEvent.columns) FROM tidemark.events
             WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3
            """)
    static let streamBackward = PostgresStatement(
        name: "tidemark_stream_backward",
        sql: """
            SELECT \(RecordedEvent.columns) FROM tidemark.events
             WHERE stream_id = $1 AND stream_version <= $2 ORDER BY stream_version DESC LIMIT $3
            """)
    static let allForward = PostgresStatement(
        name: "tidemark_all_forward",
        sql: """
            SELECT \(RecordedEvent.columns) FROM tidemark.events
             WHERE position > $1 ORDER BY position LIMIT $2
            """)
    static let categoryForward = PostgresStatement(
        name: "tidemark_category_forward",
        sql: """
            SELECT \(RecordedEvent.columns) FROM tidemark.events
             WHERE category = $1 AND position > $2 ORDER BY position LIMIT $3
            """)
    static let rangeForward = PostgresStatement(
        name: "tidemark_range_forward",
        sql: """
            SELECT \(RecordedEvent.columns) FROM tidemark.events
             WHERE position > $1 AND position <= $2
               AND ($3::timestamptz IS NULL OR recorded_at <= $3::timestamptz)
             ORDER BY position LIMIT $4
            """)
    /// One index range per category (`events_category_position_idx`), merged: with
    /// `category = ANY(...)` PostgreSQL walks the position index and filters, which on a log
    /// of millions reads it all to find a small category's few events. The range is written
    /// as row comparisons on (category, position), which only that index can answer: with
    /// `position > $1` the prepared statement's generic plan (the category is a lateral
    /// value, its rarity unknown) walked the position index too, 3 s per call on 1.4 million
    /// events for a category of a few hundred.
    static let categoriesForward = PostgresStatement(
        name: "tidemark_categories_forward",
        sql: """
            SELECT \(RecordedEvent.columns) FROM unnest($3::text[]) AS wanted(name)
             CROSS JOIN LATERAL (
                   SELECT \(RecordedEvent.columns) FROM tidemark.events
                    WHERE category = wanted.name
                      AND (category, position) > (wanted.name, $1) AND (category, position) <= (wanted.name, $2)
                      AND ($4::timestamptz IS NULL OR recorded_at <= $4::timestamptz)
                    ORDER BY position LIMIT $5) e
             ORDER BY position LIMIT $5
            """)
    static let appendOne = PostgresStatement(
        name: "tidemark_append_one",
        sql: "SELECT request, outcome, positions, stream_version FROM tidemark.append_event($1, $2, $3, $4, $5, $6, $7)")
    static let append = PostgresStatement(
        name: "tidemark_append",
        sql: "SELECT request, outcome, positions, stream_version FROM tidemark.append_events($1, $2, $3, $4, $5, $6, $7, $8)")
}

/// Closing a store closes its pool.
extension EventStore: AsyncClosable {
    public func close() async { await pool.close() }
}
