import Postgres
import Synchronization

/// The connection a proxy process heartbeats on, its own: a busy process's reports and
/// catalog reads fill its pool, and a heartbeat waiting for a free connection there could
/// miss the lease and stop every task. Made on first use, and again after a failure (a call
/// that failed or was given up on may have left it mid-query).
final class HeartbeatLine: Sendable {
    private let settings: PostgresConnectionSettings
    private let current = Mutex<PostgresConnection?>(nil)

    init(settings: PostgresConnectionSettings) {
        self.settings = settings
    }

    func beat(instance: String, running: Int) async throws -> Bool {
        let connection: PostgresConnection
        if let open = current.withLock({ $0 }) {
            connection = open
        } else {
            connection = try await PostgresConnection.connect(settings)
            current.withLock { $0 = connection }
        }
        do {
            return try await connection.query("SELECT tidemark.proxy_heartbeat($1::uuid, $2)", [instance, Int32(running)]).decode(0, 0)
        } catch {
            drop(connection)
            throw error
        }
    }

    /// Forgets the connection (closed in the background: a hung one would not answer).
    func drop(_ connection: PostgresConnection? = nil) {
        let dropped = current.withLock { slot -> PostgresConnection? in
            guard connection == nil || slot === connection else { return nil }
            defer { slot = nil }
            return slot
        }
        if let dropped { Task { await dropped.close() } }
    }
}
