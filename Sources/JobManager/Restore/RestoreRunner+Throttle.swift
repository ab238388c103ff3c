import Catalog
import DataMover
import Foundation
import WorkflowEvents

extension RestoreRunner {
    /// The bucket this run's copies take from, when a throttling rule covers the link between
    /// the repository's site and the repository right now (windows read in this server's time
    /// zone: a restore has no job to take one from). The rule's rate is shared with every
    /// session under it, backups and restores alike, counted by their throttle slots; this
    /// run holds its slot until it ends. Nil: nothing is throttled.
    func throttle(_ requested: RestoreEvent.Requested) async throws -> TokenBucket? {
        let catalog = try await manager.catalog.load()
        guard let repository = catalog.repositories[requested.repositoryId]?.definition else { return nil }
        let minute = ThrottlingRule.minuteOfDay(Date(), in: .current)
        let rules = catalog.throttlingRules.map { ($0.key, $0.value.definition) }.sorted { $0.1.name < $1.1.name }
        guard
            let (id, rule) = rules.first(where: { _, rule in
                rule.covers(site: repository.site, proxy: nil, repository: requested.repositoryId, minuteOfDay: minute)
            })
        else { return nil }
        _ = try await slots.take(.throttle, id, limit: 10_000)
        let sharing = max(1, try await slots.inUse(.throttle, id))
        let rate = max(1, rule.bytesPerSecond / Int64(sharing))
        try await recorder.record(
            .throttleApplied, RestoreEvent.ThrottleApplied(ruleId: id, ruleName: rule.name, bytesPerSecond: rate, sessionsSharing: sharing))
        logger.info("restore throttled", metadata: ["rule": "\(rule.name)", "bytes_per_second": "\(rate)", "sharing": "\(sharing)"])
        return TokenBucket(bytesPerSecond: Double(rate))
    }
}
