import Catalog
import CatalogStore
import CommandLineSupport
import Foundation

/// The folders the catalog names as repositories, for `restore` to refuse as destinations.
///
/// Read only when a database is configured (`--database-url`, `TIDEMARK_DATABASE_URL`,
/// `PGHOST`/`PGDATABASE`) or the private cluster is running: a restore must work when the
/// catalog is down (that may be why one restores), so a catalog that cannot be read is a
/// warning, and the repository markers on disk are still checked.
enum CatalogRepositories {
    static func paths(_ options: GlobalOptions) async -> [String] {
        do {
            let logger = try options.makeLogger()
            let database = try CatalogDatabase(options: options, logger: logger)
            if let cluster = database.privateCluster, case .running = try cluster.status() {
                // running: read it below
            } else if database.privateCluster != nil {
                return []
            }
            let store = try await database.openEventStore(maximumConnections: 1)
            let state: CatalogState
            do {
                state = try await CatalogStore(events: store, logger: logger).load()
            } catch {
                await store.pool.close()
                throw error
            }
            await store.pool.close()
            return state.repositories.values.compactMap(\.definition.folderURL?.path)
        } catch {
            FileHandle.standardError.write(
                Data("warning: could not read the catalog's repositories (\(error)); only repository markers on disk were checked\n".utf8))
            return []
        }
    }
}
