import Logging
import Synchronization

/// A bounded set of connections shared by many tasks.
///
/// At most `maximumConnections` exist at once; callers beyond that wait in order, and a
/// returned connection goes straight to the longest waiter. A connection that broke is
/// closed instead of returned, and its slot lets the next caller open a fresh one, so a
/// killed backend costs the caller one retryable error and nothing more.
///
/// The bookkeeping is a mutex, not an actor: leasing and returning cost no executor hop,
/// which matters for the one-event append whose whole budget is a fraction of a millisecond.
public final class PostgresPool: Sendable {
    /// Settings of a pool.
    public struct Configuration: Sendable {
        /// Where to connect; an empty connection string means "all from the PG* environment".
        public var settings: PostgresConnectionSettings
        /// Upper bound on open connections. Defaults to 4.
        public var maximumConnections: Int

        public init(settings: PostgresConnectionSettings, maximumConnections: Int = 4) {
            self.settings = settings
            self.maximumConnections = max(1, maximumConnections)
        }
    }

    /// What a waiting caller is resumed with.
    private enum Turn: Sendable {
        /// A connection to use.
        case use(PostgresConnection)
        /// A slot is yours: open a new connection in it.
        case open
        /// A connection or a slot came free before you queued: ask again.
        case askAgain
    }

    private typealias Waiter = CheckedContinuation<Turn, any Error>

    public let configuration: Configuration
    private let logger: Logger
    /// Who gets a connection, when one is opened, where a returned one goes.
    private let state: Mutex<ConnectionPoolStateMachine<PostgresConnection, Waiter>>

    public init(_ configuration: Configuration, logger: Logger = Logger(label: "tidemark.postgres.pool")) {
        self.configuration = configuration
        self.logger = logger
        self.state = Mutex(ConnectionPoolStateMachine(maximumConnections: configuration.maximumConnections))
    }

    /// Lends a connection to `body` and takes it back afterwards, whatever happens.
    public func withConnection<T: Sendable>(
        _ body: @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let connection = try await lease()
        do {
            let value = try await body(connection)
            await giveBack(connection)
            return value
        } catch {
            await giveBack(connection)
            throw error
        }
    }

    /// Runs `body` in a transaction on a pooled connection.
    @discardableResult
    public func withTransaction<T: Sendable>(
        _ body: @escaping @Sendable (isolated PostgresConnection) throws -> T
    ) async throws -> T {
        try await withConnection { connection in
            try await connection.withTransaction(body)
        }
    }

    /// Runs one statement on a pooled connection.
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresEncodable] = []) async throws -> PostgresResult {
        try await withConnection { try await $0.query(sql, parameters) }
    }

    /// Runs one prepared statement on a pooled connection.
    @discardableResult
    public func query(
        _ statement: PostgresStatement, _ parameters: [any PostgresEncodable] = []
    ) async throws
        -> PostgresResult
    {
        try await withConnection { try await $0.query(statement, parameters) }
    }

    /// Closes idle connections and refuses new leases; connections in use close when returned.
    public func close() async {
        let (toClose, waiters) = state.withLock { $0.closeRequested() }
        for waiter in waiters { waiter.resume(throwing: Self.closedError) }
        for connection in toClose { await connection.close() }
    }

    private static let closedError = PostgresError(.poolClosed, message: "the connection pool is closed")

    private func lease() async throws -> PostgresConnection {
        while true {
            let step = state.withLock { $0.leaseRequested() }
            switch step {
            case .closed: throw Self.closedError
            case .use(let connection): return connection
            case .discard(let connection): await connection.close()
            case .open: return try await open()
            case .wait:
                switch try await waitForTurn() {
                case .use(let connection): return connection
                case .open: return try await open()
                case .askAgain: continue
                }
            }
        }
    }

    /// Opens a connection in a slot already counted for it.
    private func open() async throws -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(configuration.settings, logger: logger)
        } catch {
            releaseSlot()
            throw error
        }
    }

    private func waitForTurn() async throws -> Turn {
        let id = state.withLock { $0.makeWaiterID() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: Waiter) in
                switch state.withLock({ $0.waiterArrived(id: id, continuation, isCancelled: Task.isCancelled) }) {
                case .wait: break
                case .askAgain: continuation.resume(returning: .askAgain)
                case .refuse(.closed): continuation.resume(throwing: Self.closedError)
                case .refuse(.cancelled): continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            state.withLock { $0.waiterCancelled(id: id) }?.resume(throwing: CancellationError())
        }
    }

    private func giveBack(_ connection: PostgresConnection) async {
        var reusable = !connection.isBroken
        if reusable && connection.needsReset {
            reusable = await connection.resetForReuse()
        }
        guard reusable else {
            await connection.close()
            logger.debug("discarded a broken connection")
            releaseSlot()
            return
        }
        switch state.withLock({ $0.connectionReturned(connection) }) {
        case .handOver(let waiter): waiter.resume(returning: .use(connection))
        case .close: await connection.close()
        case .keep: break
        }
    }

    /// A connection's slot is free: the longest waiter may open a new one in it.
    private func releaseSlot() {
        state.withLock { $0.slotReleased() }?.resume(returning: .open)
    }
}
