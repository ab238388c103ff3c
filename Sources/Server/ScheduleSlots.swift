import Foundation

/// The scheduled times the schedule streams record for each job, kept so that the
/// scheduler can check them before it trusts them.
///
/// The scheduler continues from the latest time it handled, and it only ever records times
/// that have come (`due <= now`). A `RunRequested` or `RunSkipped` claiming a time that has
/// not come yet is therefore not trusted (a leader whose clock runs ahead is covered too:
/// its time is trusted once it comes, so nothing runs twice), and one beyond the job's next
/// computed run cannot have come from a scheduler at all: it is reported. Trusting the
/// highest time seen let one forged event stop a job until 2099. Each job keeps its `kept`
/// latest times, so a handful of forged events cannot push every genuine one out; with
/// none left the job continues from its last change, which runs it (as missed) rather than
/// stopping it.
struct ScheduleSlots: Sendable {
    /// Latest times kept per job.
    static let kept = 16

    struct Slot: Sendable, Equatable {
        let time: Date
        /// The position of the event that recorded it, for the warning.
        let position: Int64
    }

    /// Per job, newest first, at most `kept`.
    private var byJob: [String: [Slot]] = [:]

    mutating func record(job: String, time: Date, position: Int64) {
        var slots = byJob[job, default: []]
        let index = slots.firstIndex { $0.time < time } ?? slots.count
        guard index < Self.kept, !(slots.indices.contains(index - 1) && slots[index - 1].time == time) else { return }
        slots.insert(Slot(time: time, position: position), at: index)
        if slots.count > Self.kept { slots.removeLast() }
        byJob[job] = slots
    }

    /// The latest recorded time that has come (not after `now`), and the recorded times
    /// beyond `bound` (the job's next computed run), which no scheduler could have written.
    func latest(job: String, trustedUpTo now: Date, reportedBeyond bound: Date) -> (handled: Date?, beyond: [Slot]) {
        let slots = byJob[job] ?? []
        return (slots.first { $0.time <= now }?.time, slots.filter { $0.time > bound })
    }
}
