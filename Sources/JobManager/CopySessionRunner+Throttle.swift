import Catalog
import CatalogStore
import DataMover
import Foundation
import WorkflowEvents

/// The throttling rule a copy session's transfers run under, and its bucket.
struct CopyThrottle: Sendable {
    let bucket: TokenBucket
    let ruleID: UUIDString
    let ruleName: String
    let bytesPerSecond: Int64
    let sessionsSharing: Int

    func applied(to taskID: String) -> SessionEvent.ThrottleApplied {
        SessionEvent.ThrottleApplied(
            taskId: taskID, ruleId: ruleID, ruleName: ruleName, bytesPerSecond: bytesPerSecond, sessionsSharing: sessionsSharing)
    }
}

extension CopySessionRunner {
    /// The first rule (by name) that covers the copy now: from the site of the repository the
    /// source job writes to, into the copy job's repository — a WAN rule for the offsite link
    /// applies to copies as to backups. Its rate is shared with the other sessions under it.
    func throttle() async throws -> CopyThrottle? {
        let catalog = try await CatalogStore(events: context.store).load()
        guard let sourceRepository = catalog.jobs[copy.source].flatMap({ catalog.repositories[$0.definition.repository] }) else {
            return nil
        }
        let minute = ThrottlingRule.minuteOfDay(Date(), in: TimeZone(identifier: job.timeZone) ?? .current)
        guard
            let (id, rule) = plan.throttlingRules.first(where: { _, rule in
                rule.covers(site: sourceRepository.definition.site, proxy: nil, repository: plan.repositoryID, minuteOfDay: minute)
            })
        else { return nil }
        _ = try await slots.take(.throttle, id, limit: 10_000)
        let sharing = max(1, try await slots.inUse(.throttle, id))
        let rate = max(1, rule.bytesPerSecond / Int64(sharing))
        logger.info("copy throttled", metadata: ["rule": "\(rule.name)", "bytes_per_second": "\(rate)", "sharing": "\(sharing)"])
        return CopyThrottle(
            bucket: TokenBucket(bytesPerSecond: Double(rate)), ruleID: id, ruleName: rule.name, bytesPerSecond: rate,
            sessionsSharing: sharing)
    }
}
