import BlockingIO
import Catalog
import Foundation
import Logging
import Repository
import WorkflowEvents

/// Whether a repository has room for a session, judged once before the first snapshot from
/// what `RepositoryChecked` records (so a resumed session judges the same way).
///
/// Free space alone said "100% free" the run before a disk filled up: the check now also
/// subtracts what the session is expected to write — the most the job's last sessions
/// wrote — and refuses the session if that would leave the repository below its threshold
/// (or out of space), or warns when one more session of that size would.
enum RepositorySpace {
    enum Verdict: Equatable {
        case enough
        /// Runs, but the session's result is a warning with this reason.
        case close(String)
        /// Does not run: the session fails with this reason.
        case refused(String)
    }

    static func assess(_ checked: SessionEvent.RepositoryChecked, name: String) -> Verdict {
        let subject = "repository '\(name)' at \(checked.path)"
        guard checked.online else {
            return .refused("repository unavailable: \(subject) cannot be written (offline, read-only or without permission)")
        }
        let threshold = Double(checked.thresholdPercent)
        guard checked.freePercent >= threshold else {
            return .refused(
                "repository unavailable: \(subject) has \(gigabytes(checked.freeBytes)) free (\(checked.freePercent)%), below its free-space threshold of \(checked.thresholdPercent)%: free space or raise the threshold"
            )
        }
        guard let estimated = checked.estimatedBytes, estimated > 0, checked.capacityBytes > 0 else { return .enough }
        let capacity = Double(checked.capacityBytes)
        let after = checked.freeBytes - estimated
        let afterPercent = (Double(after) / capacity * 1_000).rounded() / 10
        if after < 0 || afterPercent < threshold {
            return .refused(
                "not enough space: \(subject) has \(gigabytes(checked.freeBytes)) free and the job's last sessions wrote up to \(gigabytes(estimated)), which would leave \(after < 0 ? "no space" : "\(afterPercent)% free"), below its threshold of \(checked.thresholdPercent)%: free space, prune restore points or move the job to another repository"
            )
        }
        let thresholdBytes = Int64(capacity * threshold / 100)
        if after - estimated < thresholdBytes {
            return .close(
                "\(subject) will have about \(gigabytes(after)) free (\(afterPercent)%) after this session (estimated from the job's last sessions: \(gigabytes(estimated))): the next session may not fit"
            )
        }
        return .enough
    }

    /// Step 3 of a backup or copy session, recorded once: the repository's reachability and
    /// room read (`RepositoryChecked`, with the bytes the session is expected to write) and
    /// judged; a resumed session judges what was recorded. `estimatedBytes` is asked only
    /// when nothing was recorded yet.
    static func check(
        _ repository: any RepositoryStore, id: String, definition: RepositoryDefinition, recorder: SessionRecorder, logger: Logger,
        estimatedBytes: () async throws -> Int64?
    ) async throws -> Verdict {
        if let checked = await recorder.state.repositoryChecked { return assess(checked, name: definition.name) }
        let space = await BlockingIOPool.shared.run { repository.space() }
        if let problem = space.problem { logger.warning("repository offline", metadata: ["reason": "\(problem)"]) }
        var checked = SessionEvent.RepositoryChecked(
            repositoryId: id, path: repository.location, online: space.online, freeBytes: space.freeBytes,
            capacityBytes: space.capacityBytes, freePercent: space.freePercent, thresholdPercent: definition.freeSpaceThresholdPercent,
            taskLimit: definition.maxConcurrentTasks, estimatedBytes: try await estimatedBytes())
        let verdict = assess(checked, name: definition.name)
        if case .close(let warning) = verdict {
            checked.warning = warning
            logger.warning("repository space is running out", metadata: ["reason": "\(warning)"])
        }
        try await recorder.record(.repositoryChecked, checked)
        return verdict
    }

    static func gigabytes(_ bytes: Int64) -> String {
        String(format: "%.1f GB", Double(bytes) / 1e9)
    }
}
