import Foundation
import Postgres

extension JobManager {
    /// Of `sessions`, those a live process owns right now (its session claim held), asked in
    /// one query on the store's pool. A server polling for work asks this first and opens a
    /// session's own connection only for the others, instead of opening one per session per
    /// poll only to find it taken.
    public func sessionsOwnedElsewhere(_ sessions: [String]) async throws -> Set<String> {
        guard !sessions.isEmpty else { return [] }
        let classes = sessions.map { TaskSlots.lockClass(.session, $0) }
        let result = try await store.pool.query(
            "SELECT lock_class FROM tidemark.slots_in_use_of($1) WHERE in_use > 0", [classes])
        let owned = Set(try (0..<result.rowCount).map { try result.decode($0, 0, as: Int32.self) })
        return Set(sessions.filter { owned.contains(TaskSlots.lockClass(.session, $0)) })
    }
}
