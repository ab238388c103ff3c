import Logging
import Postgres

extension PrivateCluster {
    /// Starts the cluster (creating it on first use) and makes sure the Tidemark database
    /// exists. Returns the superuser's settings for that database. `started` hears of a start
    /// (the command line says so on stderr: a server someone stopped does not come back
    /// silently).
    public func prepare(logger: Logger, started: (PrivateCluster) -> Void = { _ in }) async throws -> PostgresConnectionSettings {
        if try await startInBackground() {
            logger.info("started the private PostgreSQL cluster", metadata: ["cluster.path": "\(dataDirectory.path)"])
            started(self)
        }
        let maintenance = try await PostgresConnection.connect(
            settings(database: "postgres", user: Self.superuser), logger: logger)
        do {
            try await createDatabaseIfMissing(on: maintenance, logger: logger)
        } catch {
            await maintenance.close()
            throw error
        }
        await maintenance.close()
        return settings(database: Self.databaseName, user: Self.superuser)
    }

    private func createDatabaseIfMissing(on connection: PostgresConnection, logger: Logger) async throws {
        let exists = try await connection.query(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", [Self.databaseName])
        guard try !exists.decode(0, 0, as: Bool.self) else { return }
        do {
            try await connection.execute("CREATE DATABASE \(Self.databaseName)")
            logger.info("created the Tidemark database", metadata: ["database": "\(Self.databaseName)"])
        } catch {
            // 42P04: another process created it at the same moment.
            guard error.code == PostgresError.Code("42P04") else { throw error }
        }
    }
}
