import Catalog
import Foundation
import WorkflowEvents

/// Which of one VM's restore points "keep N restore points" removes.
///
/// Without two-person approval, the newest N are kept, whoever made them. With it, removing
/// restore points is an action a second administrator must approve, and retention must not
/// be a way around that: a person who may start jobs could otherwise start one N times in an
/// hour and push out the whole history. So under approval a restore point made by a session
/// a person began (``SessionEvent/Trigger/isByHand``) does not count toward N:
///
/// - in a job that starts on its own (a schedule of times, or after a job that does, however
///   long the chain), it never counts: it is an extra, kept until it is older than the oldest
///   point kept, and only the schedule's own runs push points out;
/// - in a job started only by hand, it counts once it is ``maturity`` old: repeated starts
///   can push out at most what is older than a day, and only a day after they happened,
///   which leaves the administrators a day to see the sessions in the log.
struct CountRetention {
    /// One live restore point of the VM, with what began the session that made it.
    struct Point: Sendable {
        let id: String
        let recordedAt: Date
        let byHand: Bool
    }

    /// How long a hand-made point of a job without a schedule waits before it counts.
    static let maturity: TimeInterval = 86_400

    let keep: Int
    /// Two-person approval is on.
    let guarded: Bool
    /// The job starts on its own (a schedule of times, or after another job).
    let scheduled: Bool

    /// Whether the job starts on its own: its schedule has times, or it follows a job that
    /// starts on its own. A chain that ends at a job started only by hand (or at a job no
    /// longer in the catalog) does not: all its sessions are begun by a person.
    static func startsOnItsOwn(_ job: UUIDString, in catalog: CatalogState) -> Bool {
        var current = job
        for _ in 0...catalog.jobs.count {
            guard let schedule = catalog.jobs[current]?.definition.schedule else { return false }
            switch schedule {
            case .manual: return false
            case .after(let predecessor): current = predecessor
            default: return true
            }
        }
        return false
    }

    /// The ids to remove, oldest first; `points` oldest first.
    func doomed(_ points: [Point], now: Date) -> [String] {
        let keep = max(1, self.keep)
        guard guarded else { return points.dropLast(keep).map(\.id) }
        let counted = points.indices.filter { index in
            let point = points[index]
            return !point.byHand || (!scheduled && now.timeIntervalSince(point.recordedAt) >= Self.maturity)
        }
        guard counted.count > keep else { return [] }
        let oldestKept = counted[counted.count - keep]
        return points[..<oldestKept].map(\.id)
    }

    /// What a removal records as its reason.
    var reason: String {
        guarded
            ? "retention: keep \(keep) restore points (two-person approval: those of sessions started by hand do not count)"
            : "retention: keep \(keep) restore points"
    }
}
