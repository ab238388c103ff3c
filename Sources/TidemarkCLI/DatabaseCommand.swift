import ArgumentParser
import CommandLineSupport
import EventStore
import Foundation
import Postgres
import PrivateCluster
import Projections

struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the catalog database: the private cluster and the schema migrations.",
        subcommands: [Start.self, Stop.self, Status.self, Migrate.self]
    )

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create (first time) and start the private PostgreSQL cluster, and migrate its catalog.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let database = try CatalogDatabase(options: options, logger: try options.makeLogger())
            let cluster = try database.requirePrivateCluster(for: "db start")
            let applied = try await Migrator.bundled(logger: database.logger).migrate(try await database.administratorSettings())
            print("private PostgreSQL cluster running in \(cluster.dataDirectory.path) (socket in \(cluster.socketDirectory.path))")
            if !applied.isEmpty { print("applied migrations: \(applied.joined(separator: ", "))") }
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the private PostgreSQL cluster.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let database = try CatalogDatabase(options: options, logger: try options.makeLogger())
            let cluster = try database.requirePrivateCluster(for: "db stop")
            try await cluster.stopInBackground()
            print("private PostgreSQL cluster in \(cluster.dataDirectory.path) is stopped")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show whether the private cluster runs and which migrations are applied.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let database = try CatalogDatabase(options: options, logger: try options.makeLogger())
            if let cluster = database.privateCluster {
                let status = try cluster.status()
                switch status {
                case .notCreated:
                    print("private cluster: not created yet in \(cluster.dataDirectory.path) (tidemark db start creates it)")
                    return
                case .stopped:
                    print("private cluster: stopped (\(cluster.dataDirectory.path)); tidemark db start starts it")
                    return
                case .running(let pid):
                    print("private cluster: running, pid \(pid), socket in \(cluster.socketDirectory.path)")
                }
            }
            let migrator = try Migrator.bundled(logger: database.logger)
            let settings: PostgresConnectionSettings
            if let cluster = database.privateCluster {
                settings = cluster.settings(user: PrivateCluster.superuser)
            } else {
                settings = try await database.administratorSettings()
            }
            let statuses = try await migrator.status(settings)
            print("migrations:")
            for status in statuses {
                let state: String
                switch status.state {
                case .applied(let at): state = "applied \(at.formatted(.iso8601))"
                case .pending: state = "pending"
                case .changed(let at): state = "CHANGED after it was applied \(at.formatted(.iso8601))"
                case .unknownToThisBuild(let at): state = "applied \(at.formatted(.iso8601)) by a newer Tidemark"
                }
                print("  \(status.name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(state)")
            }
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the pending schema migrations (as a role that may create roles and schemas).")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let database = try CatalogDatabase(options: options, logger: try options.makeLogger())
            let settings = try await database.administratorSettings()
            let applied = try await Migrator.bundled(logger: database.logger).migrate(settings)
            // A migrated schema whose checkpoint rows were deleted is not "up to date": every
            // projection without one gets it back at position 0 and is rebuilt from the log.
            let pool = PostgresPool(PostgresPool.Configuration(settings: settings, maximumConnections: 1), logger: database.logger)
            let recreated: [String]
            do {
                recreated = try await Projector.recreateMissingCheckpoints(pool: pool)
                if !recreated.isEmpty { try await Projector(store: EventStore(pool: pool), logger: database.logger).catchUp() }
            } catch {
                await pool.close()
                throw error
            }
            await pool.close()
            if applied.isEmpty && recreated.isEmpty {
                print("the catalog schema is up to date")
            } else {
                for name in applied { print("applied \(name)") }
                for name in recreated { print("recreated the missing checkpoint of projection '\(name)' and rebuilt it from the log") }
            }
        }
    }
}
