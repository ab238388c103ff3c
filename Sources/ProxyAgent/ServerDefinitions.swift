import Catalog
import CatalogStore
import EventStore
import Logging
import Synchronization

/// The managed servers a proxy process opens, from a catalog it keeps in memory.
///
/// Folding the catalog for every task cost a small disk's transfer as much again (about
/// 20 ms of 35 on the bench's 1 MiB disks): the order says which version of the server its
/// session planned with, and the catalog is read again only when the copy held here is older
/// (or the order predates versions).
final class ServerDefinitions: Sendable {
    private let store: EventStore
    private let logger: Logger
    private let catalog = Mutex<CatalogState?>(nil)

    init(store: EventStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// The server's definition, at least of `version` (the catalog is read again only when
    /// the copy held here is older, or the order names no version), or nil when the catalog
    /// no longer has it. A server changed since the session planned is opened as it is now,
    /// as the Job Manager's own adapter would be on its next session.
    func server(_ id: UUIDString, version: Int64?) async throws -> ManagedServer? {
        if let version, let held = catalog.withLock({ $0?.servers[id] }), held.version >= version {
            return held.definition
        }
        let fresh = try await CatalogStore(events: store, logger: logger).load()
        catalog.withLock { $0 = fresh }
        return fresh.servers[id]?.definition
    }
}
