import ArgumentParser
import EventStore
import Foundation
import Logging
import Postgres
import PrivateCluster

/// Which PostgreSQL holds the catalog, decided once at the command line's edge.
///
/// Order: `--database-url`, then `TIDEMARK_DATABASE_URL`, then libpq's own `PGHOST` /
/// `PGDATABASE`; with none of them, the private cluster in the data folder.
public struct CatalogDatabase {
    public enum Location {
        case external(PostgresConnectionSettings)
        case privateCluster(PrivateCluster)
    }

    public let location: Location
    public let logger: Logger
    /// Tidemark's data folder (the private cluster, the demo's lab and repository).
    public let dataDirectory: URL

    public init(
        options: GlobalOptions, logger: Logger, environment: [String: String] = ProcessInfo.processInfo.environment
    )
        throws
    {
        self.logger = logger
        let directory =
            options.dataDirectory.map { URL(fileURLWithPath: $0) }
            ?? Self.defaultDataDirectory(environment: environment)
        self.dataDirectory = directory
        if let url = options.databaseURL ?? environment["TIDEMARK_DATABASE_URL"] {
            location = .external(PostgresConnectionSettings(url))
        } else if environment["PGHOST"] != nil || environment["PGDATABASE"] != nil {
            location = .external(PostgresConnectionSettings(""))
        } else {
            location = .privateCluster(try PrivateCluster(dataDirectory: directory))
        }
    }

    public static func defaultDataDirectory(environment: [String: String]) -> URL {
        if geteuid() == 0 {
            return URL(fileURLWithPath: "/var/lib/tidemark")
        }
        if let dataHome = environment["XDG_DATA_HOME"], !dataHome.isEmpty {
            return URL(fileURLWithPath: dataHome).appendingPathComponent("tidemark")
        }
        return FileManager.default.homeDirectoryForCurrentUser
            .appendingPathComponent(".local/share/tidemark")
    }

    public var privateCluster: PrivateCluster? {
        if case .privateCluster(let cluster) = location { return cluster }
        return nil
    }

    /// The private cluster, for commands that only manage it.
    public func requirePrivateCluster(for command: String) throws -> PrivateCluster {
        guard let privateCluster else {
            throw CommandFailure(
                "\(command) manages the private cluster, but a database is configured (--database-url, TIDEMARK_DATABASE_URL, PGHOST or PGDATABASE): manage that server with its own tools"
            )
        }
        return privateCluster
    }

    /// Settings for migrations: the configured role, or the private cluster's superuser
    /// (starting the cluster if needed).
    public func administratorSettings() async throws -> PostgresConnectionSettings {
        switch location {
        case .external(let settings): return settings
        case .privateCluster(let cluster): return try await cluster.prepare(logger: logger, started: Self.announceStart)
        }
    }

    /// Settings for everything else: the configured role, or `tidemark_app` on the private
    /// cluster, which is started and migrated on first use.
    /// `role`: the login on the private cluster (a proxy process connects as `tidemark_proxy`).
    public func serviceSettings(role: String = PrivateCluster.serviceRole) async throws -> PostgresConnectionSettings {
        switch location {
        case .external(let settings):
            return settings
        case .privateCluster(let cluster):
            let administrator = try await cluster.prepare(logger: logger, started: Self.announceStart)
            try await Migrator.bundled(logger: logger).migrate(administrator)
            return cluster.settings(user: role)
        }
    }

    /// Says on stderr that this command started the private cluster, where, and how to stop
    /// it: a cluster someone stopped with `db stop` does not come back unnoticed.
    public static func announceStart(_ cluster: PrivateCluster) {
        FileHandle.standardError.write(
            Data(
                "started Tidemark's private PostgreSQL cluster in \(cluster.dataDirectory.path) (it keeps running; stop it with 'tidemark db stop --data-dir \(cluster.dataDirectory.path)')\n"
                    .utf8))
    }

    /// An event store on the service settings (`role` on the private cluster), its schema checked.
    public func openEventStore(maximumConnections: Int = 4, role: String = PrivateCluster.serviceRole) async throws -> EventStore {
        let pool = PostgresPool(
            PostgresPool.Configuration(settings: try await serviceSettings(role: role), maximumConnections: maximumConnections),
            logger: logger)
        let store = EventStore(pool: pool, logger: logger)
        do {
            try await store.checkSchema()
        } catch {
            await pool.close()
            throw error
        }
        return store
    }
}
