import Catalog
import EventStore
import Foundation
import RemoteRepository
import Repository
import RepositoryService
import WorkflowEvents

extension HealthCheck {
    /// A health check of a repository service: the same plan, events and resume as a
    /// folder's, but the chunks are re-read and re-hashed by the service on its own host
    /// (`POST restore-points/{id}/verify`), which sets corrupt chunks aside itself (so the
    /// next backup that meets their blocks sends them again), and the backup server maps what
    /// it found to the disks and offsets of the point's manifests. The budget counts the
    /// bytes the service reads. Heals are not confirmed here: the next check finds the
    /// point clean once a backup has sent the chunk again.
    func runThroughService(
        repositoryID: String, definition: RepositoryDefinition, trigger: Trigger, actor: String, everyDays: Int?, budgetBytes: Int64?,
        now: Date
    ) async throws -> Report? {
        let service = try await definition.openService(id: repositoryID, settings: settings)
        var (state, writer) = try await openStream(of: repositoryID, actor: actor)
        let resumed = state.open != nil
        if state.open == nil {
            let limits = Self.limits(of: definition, everyDays: everyDays, budgetBytes: budgetBytes)
            let (interval, budget) = limits
            let known = state
            let plan = try await Self.blocking { () throws(RepositoryError) -> HealthPlan in
                // Listed once: the plan weighs each candidate by its manifests, named by the listing.
                let listing = try service.points()
                let disks = Dictionary(listing.map { ($0.restorePoint, $0.disks) }, uniquingKeysWith: { first, _ in first })
                let candidates = listing.map { HealthPlan.Candidate(restorePoint: $0.restorePoint, createdAt: $0.createdAt) }
                return try HealthPlan.make(
                    candidates, state: known, everyDays: interval, budgetBytes: budget, healsPending: false, now: now,
                    bytes: { point throws(RepositoryError) in
                        Self.bytes(of: try Self.manifests(of: point, disks: disks[point] ?? [], in: service) ?? [])
                    })
            }
            guard !plan.planned.isEmpty else { return nil }
            try await recordStart(
                plan, repositoryID: repositoryID, definition: definition, trigger: trigger, limits: limits, state: &state, writer: writer)
        }
        guard let open = state.open else { return nil }
        let check = open.started.checkId
        var damaged: [HealthEvent.PointDamaged] = []
        var skipped = 0
        // Listed once per run (a resumed run lists again): retention may have removed a planned
        // point since the plan was made, or removes one while the check runs.
        let listing = try await Self.blocking { () throws(RepositoryError) in
            Dictionary(try service.points().map { ($0.restorePoint, $0.disks) }, uniquingKeysWith: { first, _ in first })
        }
        for point in open.started.planned where !(state.open?.verified.contains(point) ?? true) {
            let outcome = try await Self.blocking {
                () throws(RepositoryError) -> (report: RepositoryHealth.PointReport, quarantined: Set<ChunkID>)? in
                guard let disks = listing[point], let manifests = try Self.manifests(of: point, disks: disks, in: service) else {
                    return nil
                }
                let verification = try service.verify(point: point)
                let quarantined = Set((verification.chunkProblems ?? []).filter(\.quarantined).compactMap { ChunkID(hex: $0.chunk) })
                return (Self.report(point, manifests: manifests, verification: verification), quarantined)
            }
            guard let outcome else {
                skipped += 1
                continue
            }
            let quarantined = outcome.quarantined
            let entries = try Self.entries(
                for: outcome.report, quarantined: quarantined, check: check, isQuarantined: { quarantined.contains($0) })
            if let damage = entries.damage { damaged.append(damage) }
            try await writer.record(&state, entries.entries, correlation: check)
            if !outcome.report.damage.isEmpty {
                logger.error(
                    "restore point damaged", metadata: ["restore_point": "\(point)", "references": "\(outcome.report.damage.count)"])
            }
        }
        return try await recordFinish(
            skipped: skipped, damaged: damaged, healed: [], resumed: resumed, definition: definition, state: &state, writer: writer)
    }

    /// The point's manifests, nil when the service no longer has them (removed meanwhile).
    static func manifests(of point: String, disks: [String], in service: ServiceRepository) throws(RepositoryError) -> [DiskManifest]? {
        var manifests: [DiskManifest] = []
        for disk in disks.sorted() {
            do {
                manifests.append(try service.manifest(restorePoint: point, disk: disk))
            } catch {
                guard error.code == .missingManifest else { throw error }
                return nil
            }
        }
        return manifests
    }

    /// Bytes of the non-zero blocks the manifests name: what verifying them reads.
    static func bytes(of manifests: [DiskManifest]) -> Int64 {
        var total: Int64 = 0
        for manifest in manifests {
            for (index, chunk) in manifest.blocks.enumerated() where chunk != nil { total += Int64(manifest.length(ofBlock: index)) }
        }
        return total
    }

    /// The service's verdicts as a folder's check reports them: each bad chunk once, and
    /// each block that names one as damage at its disk and offset.
    static func report(
        _ point: String, manifests: [DiskManifest], verification: RepositoryProtocol.Verification
    ) -> RepositoryHealth.PointReport {
        var corrupt: [ChunkID: String] = [:]
        var missing = Set<ChunkID>()
        var problems: [ChunkID: String] = [:]
        for verdict in verification.chunkProblems ?? [] {
            guard let id = ChunkID(hex: verdict.chunk) else { continue }
            problems[id] = verdict.problem
            if verdict.missing { missing.insert(id) } else { corrupt[id] = verdict.problem }
        }
        var damage: [RepositoryHealth.Damage] = []
        for manifest in manifests {
            for (index, chunk) in manifest.blocks.enumerated() {
                guard let chunk, let problem = problems[chunk] else { continue }
                damage.append(
                    RepositoryHealth.Damage(
                        disk: manifest.disk, offset: Int64(index) * Int64(manifest.blockSize.bytes), chunk: chunk, problem: problem))
            }
        }
        if verification.chunkProblems == nil, !verification.problems.isEmpty {
            // An older service says what is wrong only in words.
            damage = verification.problems.map { RepositoryHealth.Damage(disk: "?", offset: 0, chunk: nil, problem: $0) }
        }
        return RepositoryHealth.PointReport(
            restorePoint: point, bytes: bytes(of: manifests), damage: damage, corrupt: corrupt, missing: missing)
    }
}
