import Catalog
import Foundation

/// A backup copy job's retention, per VM: its own count (or days) of newest points, plus the
/// GFS points — flagged when recorded as the first copy of their week, month or year — the
/// newest `weekly` weekly ones, `monthly` monthly ones and `yearly` yearly ones kept whatever
/// the count says. Pure, so the rules are tested without a repository.
struct CopyRetention: Sendable {
    let keep: JobRetention
    let gfs: GFSRetention?
    let timeZone: TimeZone

    struct Point: Sendable, Equatable {
        let id: String
        let recordedAt: Date
        let flags: Set<GFSPeriod>
    }

    /// The flags a new copy recorded at `now` earns: each GFS period it is the first flagged
    /// point of, among `existing` (the VM's live copies).
    func flags(at now: Date, existing: [Point]) -> Set<GFSPeriod> {
        guard let gfs else { return [] }
        var earned = Set<GFSPeriod>()
        for (period, _) in gfs.counts {
            let key = period.key(of: now, in: timeZone)
            let taken = existing.contains { $0.flags.contains(period) && period.key(of: $0.recordedAt, in: timeZone) == key }
            if !taken { earned.insert(period) }
        }
        return earned
    }

    /// The points of one VM to remove (oldest first in, ids out), each with the reason.
    func doomed(_ points: [Point], now: Date) -> [(id: String, reason: String)] {
        let ordered = points.sorted { ($0.recordedAt, $0.id) < ($1.recordedAt, $1.id) }
        var kept = Set<String>()
        switch keep.unit {
        case .restorePoints:
            kept.formUnion(ordered.suffix(keep.count).map(\.id))
        case .days:
            let limit = now.addingTimeInterval(-Double(keep.count) * 86_400)
            kept.formUnion(ordered.filter { $0.recordedAt >= limit }.map(\.id))
            if let newest = ordered.last { kept.insert(newest.id) }
        }
        for (period, count) in gfs?.counts ?? [] {
            kept.formUnion(ordered.filter { $0.flags.contains(period) }.suffix(count).map(\.id))
        }
        let reason = "retention: keep \(keep)" + (gfs.map { " and GFS \($0)" } ?? "")
        return ordered.filter { !kept.contains($0.id) }.map { ($0.id, reason) }
    }
}
