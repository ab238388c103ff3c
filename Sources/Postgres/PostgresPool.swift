import Logging

/// A bounded set of connections shared by many tasks.
///
/// At most `maximumConnections` exist at once; a caller beyond that waits its turn in order.
/// A connection that broke is closed instead of returned, and the next caller gets a fresh
/// one, so a killed backend costs the caller one retryable error and nothing more.
public actor PostgresPool {
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

    public nonisolated let configuration: Configuration
    private let logger: Logger
    private var idle: [PostgresConnection] = []
    private var openCount = 0
    private var waiters: [(id: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextWaiterID = 0
    private var closed = false

    public init(_ configuration: Configuration, logger: Logger = Logger(label: "tidemark.postgres.pool")) {
        self.configuration = configuration
        self.logger = logger
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
    public func query(_ statement: PostgresStatement, _ parameters: [any PostgresEncodable] = []) async throws
        -> PostgresResult
    {
        try await withConnection { try await $0.query(statement, parameters) }
    }

    /// Closes idle connections and refuses new leases; connections in use close when returned.
    public func close() async {
        closed = true
        let toClose = idle
        idle.removeAll()
        openCount -= toClose.count
        for connection in toClose { await connection.close() }
        let pending = waiters
        waiters.removeAll()
        for waiter in pending { waiter.continuation.resume(throwing: Self.closedError) }
    }

    private static let closedError = PostgresError(.poolClosed, message: "the connection pool is closed")

    private func lease() async throws -> PostgresConnection {
        while true {
            if closed { throw Self.closedError }
            if let connection = idle.popLast() {
                if connection.isBroken {
                    openCount -= 1
                    await connection.close()
                    continue
                }
                return connection
            }
            if openCount < configuration.maximumConnections {
                openCount += 1
                do {
                    return try await PostgresConnection.connect(configuration.settings, logger: logger)
                } catch {
                    openCount -= 1
                    wakeNextWaiter()
                    throw error
                }
            }
            try await waitForRelease()
        }
    }

    private func waitForRelease() async throws {
        let id = nextWaiterID
        nextWaiterID += 1
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiters.append((id, continuation))
                }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    private func cancelWaiter(_ id: Int) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    private func giveBack(_ connection: PostgresConnection) async {
        let reusable = await connection.resetForReuse()
        if reusable && !closed {
            idle.append(connection)
        } else {
            openCount -= 1
            await connection.close()
            if !closed && !reusable {
                logger.debug("discarded a broken connection")
            }
        }
        wakeNextWaiter()
    }

    private func wakeNextWaiter() {
        guard !waiters.isEmpty else { return }
        waiters.removeFirst().continuation.resume()
    }
}
