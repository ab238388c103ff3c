import EventStore
import Foundation
import Logging
import Postgres

/// A database of its own for one test, in the throwaway cluster that `Tools/test` starts.
///
/// The cluster's superuser settings come from `TIDEMARK_TEST_DATABASE_URL`; each test gets
/// a new database (migrated unless asked otherwise), so tests run in parallel without
/// seeing each other's events.
public struct TestDatabase: Sendable {
    public let name: String
    /// The cluster superuser, on this database.
    public let administrator: PostgresConnectionSettings
    /// `tidemark_app`, the role the service connects as, on this database.
    public let service: PostgresConnectionSettings

    /// The superuser's key/value connection string for this database, for psql and pg_dump.
    public var administratorConnectionString: String {
        administrator.connectionString + " dbname=\(name)"
    }

    public static func clusterAdministrator() throws -> PostgresConnectionSettings {
        guard let url = ProcessInfo.processInfo.environment["TIDEMARK_TEST_DATABASE_URL"], !url.isEmpty else {
            throw TestSetupError(
                "TIDEMARK_TEST_DATABASE_URL is not set: run the tests with Tools/test, which starts a throwaway PostgreSQL cluster and sets it"
            )
        }
        return PostgresConnectionSettings(url)
    }

    /// Creates a fresh database; migrates it unless `migrated` is false. `cluster`: another
    /// cluster's superuser (a test's own, `NamespaceCluster`); the suite's by default.
    public static func create(migrated: Bool = true, cluster given: PostgresConnectionSettings? = nil) async throws -> TestDatabase {
        let cluster = try given ?? clusterAdministrator()
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        let maintenance = try await PostgresConnection.connect(cluster)
        try await maintenance.execute("CREATE DATABASE \(name)")
        await maintenance.close()
        let database = TestDatabase(
            name: String(name), administrator: cluster.with("dbname", String(name)),
            service: cluster.with("dbname", String(name)).with("user", "tidemark_app"))
        if migrated {
            try await Migrator.bundled(logger: quietLogger).migrate(database.administrator)
        }
        return database
    }

    /// A pool on the service role.
    public func servicePool(maximumConnections: Int = 4) -> PostgresPool {
        PostgresPool(.init(settings: service, maximumConnections: maximumConnections), logger: quietLogger)
    }

    /// A pool on `tidemark_proxy`, the login a proxy host connects as.
    public func proxyPool(maximumConnections: Int = 2) -> PostgresPool {
        PostgresPool(.init(settings: service.with("user", "tidemark_proxy"), maximumConnections: maximumConnections), logger: quietLogger)
    }

    /// A pool on the superuser.
    public func administratorPool(maximumConnections: Int = 2) -> PostgresPool {
        PostgresPool(.init(settings: administrator, maximumConnections: maximumConnections), logger: quietLogger)
    }

    /// An event store on the service role.
    public func eventStore(
        configuration: EventStore.Configuration = .init(pollInterval: .milliseconds(200)), maximumConnections: Int = 4
    ) -> EventStore {
        EventStore(pool: servicePool(maximumConnections: maximumConnections), configuration: configuration, logger: quietLogger)
    }

    /// Runs one statement as the superuser on a connection of its own.
    @discardableResult
    public func administratorQuery(
        _ sql: String, _ parameters: [any PostgresEncodable] = []
    ) async throws
        -> PostgresResult
    {
        let connection = try await PostgresConnection.connect(administrator)
        do {
            let result = try await connection.query(sql, parameters)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    /// A connection as a login role granted `tidemark_reader` (made on first use): what an
    /// auditor's SQL tool, or an attacker holding a read-only login, connects as.
    public func readerConnection() async throws -> PostgresConnection {
        let role = "reader_" + name
        try await administratorQuery(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '\(role)') THEN CREATE ROLE \(role) LOGIN; GRANT tidemark_reader TO \(role); END IF; END $$"
        )
        return try await PostgresConnection.connect(administrator.with("user", role))
    }

    /// Number of events in the log, counted by the superuser.
    public func eventCount() async throws -> Int64 {
        try await administratorQuery("SELECT count(*) FROM tidemark.events").decode(0, 0)
    }
}

public let quietLogger: Logger = {
    var logger = Logger(label: "tidemark.test")
    logger.logLevel = .critical
    return logger
}()

public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
