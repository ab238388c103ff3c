import BlockingIO
import DataMover
import EventStore
import Foundation
import Postgres
import Repository
import WorkflowEvents

extension SessionRunner {
    /// Step 6b (the job's `index_guest_files`): the guest files of each restore point this
    /// session made, walked from the chunks and stored in the guest file index. Each point is
    /// `GuestIndexStarted`, then `GuestIndexFinished` with its counts; a file system that
    /// cannot be read makes the point's index a warning and the session a warning, never a
    /// failure. A resumed session indexes only the points without a finish (a file system
    /// already stored is not stored twice).
    func indexGuestFiles() async throws {
        let state = await recorder.state
        for (vm, point) in state.restorePoints.sorted(by: { $0.key < $1.key }) where state.guestIndexes[point] == nil {
            if !state.guestIndexStarted.contains(point) {
                try await recorder.record(.guestIndexStarted, SessionEvent.GuestIndexStarted(restorePointId: point, vmId: vm))
            }
            let started = ContinuousClock.now
            var totals = GuestFileIndex.Counts()
            var problems: [String] = []
            var fileSystems = 0
            do {
                let (volumes, found) = try await GuestDisks(store: context.store, settings: settings, logger: logger).openAll(
                    vm: vm, point: .id(point))
                problems += found
                let index = GuestFileIndex(pool: context.store.pool)
                for volume in volumes {
                    let walkStarted = ContinuousClock.now
                    do {
                        let entries = try await BlockingIOPool.shared.run { () throws in try volume.entries(under: "/", recursive: true) }
                        let counts = try await index.store(
                            entries,
                            for: GuestFileIndex.Volume(
                                restorePoint: point, vm: vm, disk: volume.disk, partition: volume.partition ?? 0, session: session,
                                fileSystem: volume.type),
                            seconds: (ContinuousClock.now - walkStarted).seconds)
                        fileSystems += 1
                        totals.files += counts.files
                        totals.added += counts.added
                        totals.changed += counts.changed
                        totals.removed += counts.removed
                    } catch let error where Self.indexProblem(error) {
                        problems.append("\(volume.name): \(error)")
                    }
                }
            } catch let error where Self.indexProblem(error) {
                problems.append("\(error)")
            }
            let finished = SessionEvent.GuestIndexFinished(
                restorePointId: point, vmId: vm, result: problems.isEmpty ? .success : .warning, fileSystems: fileSystems,
                files: totals.files, added: totals.added, changed: totals.changed, removed: totals.removed,
                seconds: ((ContinuousClock.now - started).seconds * 1_000).rounded() / 1_000,
                message: problems.isEmpty ? nil : "guest file index: " + problems.joined(separator: "; "))
            try await recorder.record(.guestIndexFinished, finished)
            logger.info(
                "guest files indexed",
                metadata: ["restore_point": "\(point)", "files": "\(totals.files)", "problems": "\(problems.count)"])
        }
    }

    /// Errors that make an index a warning; not database trouble or cancellation, which
    /// leave the session to be resumed (and the point to be indexed then).
    static func indexProblem(_ error: any Error) -> Bool {
        if Task.isCancelled || error is CancellationError || error is EventStoreError { return false }
        // PostgreSQL refusing the guest's data (a data exception, class 22, or a constraint,
        // class 23) would refuse it again on every resume: a warning, like any other damage.
        if let error = error as? PostgresError {
            guard let code = error.code?.rawValue else { return false }
            return code.hasPrefix("22") || code.hasPrefix("23")
        }
        if let error = error as? RepositoryError { return error.code != .busy }
        return true
    }
}
