import Foundation
import Synchronization

/// Each job's next scheduled time after a given moment, kept between the scheduler's ticks.
/// A calendar's next date costs tens of microseconds, and every tick asks it of every
/// scheduled job from the same moment (its last handled time) until that job runs or
/// changes: with a thousand jobs that was most of an idle server's time. Kept per job and
/// definition version, so a changed schedule or time zone is computed afresh.
final class NextRunMemo: Sendable {
    private struct Kept {
        let version: Int64
        let from: Date
        let due: Date?
    }

    private let kept = Mutex<[String: Kept]>([:])

    /// `compute()`'s answer for this job, version and moment: remembered, or computed and kept.
    func nextRun(job id: String, version: Int64, after from: Date, _ compute: () -> Date?) -> Date? {
        if let known = kept.withLock({ $0[id] }), known.version == version, known.from == from { return known.due }
        let due = compute()
        kept.withLock { $0[id] = Kept(version: version, from: from, due: due) }
        return due
    }
}
