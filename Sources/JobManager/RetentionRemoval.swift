import BlockingIO
import EventStore
import Foundation
import Logging
import Repository
import WorkflowEvents

/// Removing the restore points a retention doomed, for a backup job's session and a copy
/// job's alike: a point in use (published, or read by a restore not finished) is kept and
/// recorded as deferred; a point a hardened repository holds immutable is kept with the date
/// it becomes removable; the others are deleted and then recorded, so a crash in between
/// leaves a point the next run finds gone and records. Chunks nothing names are collected
/// after, whether or not a point went.
struct RetentionRemoval: Sendable {
    let store: EventStore
    let recorder: SessionRecorder
    let repository: any RepositoryStore
    let repositoryID: String
    let slots: TaskSlots
    let logger: Logger
    let staleProgressAge: TimeInterval?

    /// Removes `doomed` (id, reason), in id order.
    func remove(_ doomed: [(String, String)]) async throws {
        let repository = self.repository
        let existing: Set<String>
        do {
            existing = Set(try await BlockingIOPool.shared.run { () throws(RepositoryError) in try repository.restorePoints() })
        } catch {
            guard error.code == .unreachable else { throw error }
            // Nothing is lost by waiting: the next session's retention finds the same points.
            logger.warning("retention postponed: the repository cannot be reached", metadata: ["reason": "\(error.message)"])
            return
        }
        try await removeExpiredPartials(existing)
        let held = doomed.isEmpty ? [:] : try await heldRestorePoints()
        for (id, reason) in doomed.sorted(by: { $0.0 < $1.0 }) {
            if let use = held[id] {
                // In use right now: kept, and removed by a later retention once free.
                try await recorder.record(
                    .retentionDeferred, SessionEvent.RetentionDeferred(restorePointId: id, reason: "\(reason); kept while \(use)"))
                continue
            }
            if existing.contains(id) {
                // Out of reach midway: the rest waits for the next session's retention.
                guard let removal = try await removal(of: id) else { return }
                if case .immutable(let until) = removal {
                    // A hardened repository refuses until the point's immutability ends: kept,
                    // with that date, and removed by the first retention after it.
                    let date = ISO8601DateFormatter().string(from: until)
                    try await recorder.record(
                        .retentionDeferred,
                        SessionEvent.RetentionDeferred(
                            restorePointId: id, reason: "\(reason); kept: immutable on the repository service until \(date)",
                            removableAt: date))
                    continue
                }
            }
            try await recorder.record(.restorePointRemoved, SessionEvent.RestorePointRemoved(restorePointId: id, reason: reason))
        }
        // Collected after every retention, whether or not it removed a restore point: a failed
        // or stopped session of any job leaves chunks nothing references (written after its
        // last checkpoint, or named only by progress its end dropped), and saved progress of
        // sessions that never finished expires after `staleProgressAge`. Never blocks a thread
        // on the repository's lock: if transfers hold it, the next retention collects instead.
        do {
            let staleAge = staleProgressAge
            let freed = try await BlockingIOPool.shared.run { () throws(RepositoryError) in
                try repository.collectGarbage(dropProgressOlderThan: staleAge)
            }
            logger.info("retention applied", metadata: ["removed": "\(doomed.count)", "freed_bytes": "\(freed)"])
        } catch {
            guard error.code == .busy || error.code == .unreachable else { throw error }
            logger.notice(
                "garbage collection postponed: the repository is in use or out of reach",
                metadata: ["removed": "\(doomed.count)", "reason": "\(error.message)"])
        }
    }

    /// The partial points failed sessions left on this repository, kept while immutable
    /// (`RetentionDeferred` with `partial`): removed once their date has passed, and recorded
    /// removed; one the repository still refuses waits for the next retention.
    func removeExpiredPartials(_ existing: Set<String>) async throws {
        let rows = try await store.live(
            SessionEvent.logKind(.retentionDeferred), field: SessionEvent.Field.deferredRepositoryId, equals: repositoryID,
            cancelledBy: SessionEvent.Kind.restorePointRemoved.rawValue, key: SessionEvent.Field.restorePointId)
        let now = Date()
        var due: [String: String] = [:]
        for row in rows {
            guard let deferred = try? SessionEvent.decoder().decode(SessionEvent.RetentionDeferred.self, from: Data(row.data.utf8)),
                deferred.partial == true, let text = deferred.removableAt, let date = ISO8601DateFormatter().date(from: text), date <= now
            else { continue }
            due[deferred.restorePointId] = SessionEvent.session(inStream: row.stream).map { String($0.prefix(8)) } ?? row.stream
        }
        for (id, session) in due.sorted(by: { $0.key < $1.key }) {
            if existing.contains(id) {
                guard let removal = try await removal(of: id) else { return }
                guard removal == .removed else { continue }
            }
            try await recorder.record(
                .restorePointRemoved,
                SessionEvent.RestorePointRemoved(
                    restorePointId: id, reason: "partial restore point of session \(session), past its immutability"))
        }
    }

    /// Asks the repository to remove `id`; nil when it cannot be reached (said in the log:
    /// what is left waits for the next retention).
    private func removal(of id: String) async throws -> RestorePointRemoval? {
        let repository = self.repository
        do {
            return try await BlockingIOPool.shared.run { () throws(RepositoryError) in try repository.removeRestorePoint(id) }
        } catch {
            guard error.code == .unreachable else { throw error }
            logger.warning("retention postponed: the repository cannot be reached", metadata: ["reason": "\(error.message)"])
            return nil
        }
    }

    /// Restore points in use, with how: published over NBD and not stopped — served now, or
    /// to be served again by a server after its process died (`publish stop` releases it);
    /// and read by a restore not finished (a folder's lock keeps its collection away while a
    /// restore reads, but not retention's removal of the manifests, and a repository service
    /// has no lock at all: it would collect the chunks of a point removed under a restore).
    func heldRestorePoints() async throws -> [String: String] {
        var held: [String: String] = [:]
        let restores = try await store.openStreams(
            opened: RestoreEvent.logKind(.requested), closedBy: RestoreEvent.Kind.finished.rawValue, field: RestoreEvent.Field.restoreId)
        for (stream, _) in restores {
            guard let restore = RestoreEvent.restore(inStream: stream),
                let requested = RestoreState(events: try await store.readStream(try StreamName(stream), limit: 1)).requested
            else { continue }
            for machine in requested.vms {
                held[machine.restorePointId] =
                    "read by restore \(restore.prefix(8)), not finished ('tidemark restore resume \(restore.prefix(8))' finishes it)"
            }
        }
        let open = try await store.openStreams(
            opened: PublishEvent.logKind(.requested), closedBy: PublishEvent.Kind.stopped.rawValue, field: PublishEvent.Field.restorePointId
        )
        for (stream, point) in open {
            guard let point, let publish = PublishEvent.publish(inStream: stream) else { continue }
            held[point] =
                try await slots.inUse(.session, publish) > 0
                ? "published (publish \(publish.prefix(8)))"
                : "published and not stopped (publish \(publish.prefix(8)), not served now: 'tidemark publish stop \(publish.prefix(8))' releases it)"
        }
        return held
    }
}
