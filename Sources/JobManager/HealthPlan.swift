import Foundation

/// Which restore points a health check verifies, and in what order: a pure decision over
/// the repository's restore points and the health stream's fold, tested without I/O.
///
/// Due: a restore point last verified (never verified: made) `everyDays` or more ago, and a
/// damaged one whenever a chunk it names has been stored again (so its heal is confirmed).
/// Order: damaged first, then the least recently verified — never verified counts as
/// oldest, in order of creation. The plan takes points while their bytes fit the budget,
/// and always at least one, so a restore point larger than the budget is not put off for
/// ever.
public struct HealthPlan: Sendable, Equatable {
    public struct Candidate: Sendable {
        public let restorePoint: String
        public let createdAt: Date
        public init(restorePoint: String, createdAt: Date) {
            self.restorePoint = restorePoint
            self.createdAt = createdAt
        }
    }

    public let planned: [String]
    public let plannedBytes: Int64
    /// Due restore points left for a later check (over the budget).
    public let deferred: Int

    public static func make<Failure: Error>(
        _ candidates: [Candidate], state: HealthState, everyDays: Int, budgetBytes: Int64, healsPending: Bool, now: Date,
        bytes: (String) throws(Failure) -> Int64
    ) throws(Failure) -> HealthPlan {
        let limit = now.addingTimeInterval(-Double(everyDays) * 86_400)
        let due = candidates.filter { candidate in
            let last = state.lastVerified[candidate.restorePoint]
            if last?.damaged == true && healsPending { return true }
            return (last?.at ?? candidate.createdAt) <= limit
        }
        let ordered = due.sorted { a, b in
            let lastA = state.lastVerified[a.restorePoint], lastB = state.lastVerified[b.restorePoint]
            let damagedA = lastA?.damaged == true, damagedB = lastB?.damaged == true
            if damagedA != damagedB { return damagedA }
            let keyA = lastA?.at ?? .distantPast, keyB = lastB?.at ?? .distantPast
            if keyA != keyB { return keyA < keyB }
            if a.createdAt != b.createdAt { return a.createdAt < b.createdAt }
            return a.restorePoint < b.restorePoint
        }
        var planned: [String] = []
        var total: Int64 = 0
        for candidate in ordered {
            let size = try bytes(candidate.restorePoint)
            if !planned.isEmpty && total + size > budgetBytes { break }
            planned.append(candidate.restorePoint)
            total += size
        }
        return HealthPlan(planned: planned, plannedBytes: total, deferred: ordered.count - planned.count)
    }
}
