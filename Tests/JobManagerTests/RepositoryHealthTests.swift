import Catalog
import CatalogStore
import EventStore
import Foundation
import Infrastructure
import JobManager
import Projections
import Repository
import Server
import TestSupport
import Testing
import WorkflowEvents

/// Issue 12, findings 4 and 9 through real sessions: a corrupt chunk found by a health check
/// is stored again by the next incremental and the heal recorded; scheduled checks work
/// oldest first within their budget; a session that would not fit is refused up front; a
/// failed session's garbage goes at the next retention.
@Suite("Repository health: checks, heals, free-space estimates, garbage of failed sessions", .serialized)
struct RepositoryHealthTests {
    func repositoryID(_ environment: JobEnvironment) async throws -> String {
        let state = try await CatalogStore(events: environment.database.eventStore()).load()
        return try state.require(RepositoryDefinition.self, named: "repo")
    }

    func definition(_ environment: JobEnvironment) async throws -> RepositoryDefinition {
        let state = try await CatalogStore(events: environment.database.eventStore()).load()
        return try #require(state.repositories[try state.require(RepositoryDefinition.self, named: "repo")]?.definition)
    }

    func healthEvents(_ environment: JobEnvironment, _ type: String) async throws -> [String] {
        let result = try await environment.database.administratorQuery(
            "SELECT data::text FROM tidemark.events WHERE category = 'health' AND event_type = $1 ORDER BY position", [type])
        return try (0..<result.rowCount).map { try result.decode($0, 0) }
    }

    @Test(
        "flip 8 bytes of a chunk: the check records and quarantines it, the next incremental stores the block again, the next check records the heal"
    )
    func corruptChunkHealed() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 4 << 20)
        defer { environment.remove() }
        try await environment.runJob()
        let repository = try BackupRepository.open(at: URL(fileURLWithPath: environment.repositoryPath))
        let first = try #require(try repository.restorePoints().first)
        let manifest = try repository.manifest(restorePoint: first, disk: try #require(try repository.disks(of: first).first))
        let chunk = try #require(manifest.blocks.compactMap { $0 }.first)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: repository.chunks.path(of: chunk))))
        for index in (bytes.count / 2)..<(bytes.count / 2 + 8) { bytes[index] ^= 0xFF }
        try Data(bytes).write(to: URL(fileURLWithPath: repository.chunks.path(of: chunk)))

        let store = environment.database.eventStore()
        let check = HealthCheck(store: store, logger: quietLogger)
        let id = try await repositoryID(environment)
        let found = try #require(
            try await check.run(
                repositoryID: id, definition: try await definition(environment), trigger: .manual, actor: "test", everyDays: 0))
        #expect(found.finished.result == "damaged")
        #expect(found.finished.corruptChunks == 1)
        #expect(found.damaged.map(\.restorePointId) == [first])
        let corrupt = try await environment.database.administratorQuery(
            "SELECT count(*) FROM tidemark.events WHERE event_type = 'ChunkCorrupt' AND data->>'chunk' = $1 AND data->>'quarantined' = 'true'",
            [chunk.hex])
        #expect(try corrupt.decode(0, 0, as: Int64.self) == 1)
        #expect(repository.chunks.isQuarantined(chunk))
        try await Projector(store: store, logger: quietLogger).catchUp()
        let flagged = try await environment.database.administratorQuery(
            "SELECT damaged, last_verified_at IS NOT NULL FROM reporting.restore_points WHERE restore_point_id = $1", [first])
        #expect(try flagged.decode(0, 0, as: Bool.self) && flagged.decode(0, 1, as: Bool.self))

        try await environment.runJob()
        let second = try #require(try repository.restorePoints().first { $0 != first })
        let secondManifest = try repository.manifest(restorePoint: second, disk: manifest.disk)
        #expect(secondManifest.blocks.contains(chunk))
        guard case .success = repository.chunks.read(chunk) else {
            Issue.record("the incremental referenced the corrupt chunk instead of storing its block again")
            return
        }
        let healed = try #require(
            try await check.run(
                repositoryID: id, definition: try await definition(environment), trigger: .manual, actor: "test", everyDays: 0))
        #expect(healed.healed == [chunk.hex])
        #expect(healed.finished.result == "clean")
        #expect(try await healthEvents(environment, "ChunkHealed").count == 1)
        try await Projector(store: store, logger: quietLogger).catchUp()
        let now = try await environment.database.administratorQuery("SELECT count(*) FROM reporting.restore_points WHERE damaged")
        #expect(try now.decode(0, 0, as: Int64.self) == 0)
    }

    @Test("the scheduled check verifies the oldest restore points first, within its budget, each run the next ones, and records who ran it")
    func scheduledWithBudget() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 2 << 20, parallel: false)
        defer { environment.remove() }
        for _ in 0..<3 { try await environment.runJob() }
        let update = try environment.tidemark(["repository", "update", "repo", "--verify-every", "7d", "--verify-budget", "1MiB"])
        #expect(update.status == 0, "\(update.output)")
        let bad = try environment.tidemark(["repository", "update", "repo", "--verify-every", "fortnightly"])
        #expect(bad.status != 0 && bad.output.contains("--verify-every 'fortnightly'"), "\(bad.output)")
        #expect(try await definition(environment).verifyBudgetBytes == 1 << 20)

        let repository = try BackupRepository.open(at: URL(fileURLWithPath: environment.repositoryPath))
        let byAge = try repository.restorePoints().sorted {
            try repository.createdAt(restorePoint: $0) < repository.createdAt(restorePoint: $1)
        }
        try #require(byAge.count == 3)
        let service = HealthCheckService(store: environment.database.eventStore(), logger: quietLogger)
        // Nothing is due today: every restore point was made less than 7 days ago.
        #expect(await service.tick().isEmpty)
        let later = Date().addingTimeInterval(8 * 86_400)
        var verified: [String] = []
        for _ in 0..<3 {
            let report = try #require(await service.tick(now: later)["repo"])
            #expect(report.finished.verified == 1, "a point is larger than 1 MiB: one per run")
            verified += try await healthEvents(environment, "RestorePointVerified").dropFirst(verified.count).compactMap {
                try JSONDecoder().decode(HealthEvent.PointVerified.self, from: Data($0.utf8)).restorePointId
            }
        }
        #expect(verified == byAge)
        // All three were verified today, which is 8 days before `later`: the rotation starts over
        // with the least recently verified.
        #expect(try #require(await service.tick(now: later)["repo"]).finished.verified == 1)
        let fourth = try #require(try await healthEvents(environment, "RestorePointVerified").last)
        #expect(try JSONDecoder().decode(HealthEvent.PointVerified.self, from: Data(fourth.utf8)).restorePointId == byAge[0])
        let actors = try await environment.database.administratorQuery(
            "SELECT DISTINCT metadata->>'actor' FROM tidemark.events WHERE event_type = 'HealthCheckStarted'")
        #expect(actors.rowCount == 1)
        #expect(try actors.decode(0, 0, as: String.self) == "health-check")
    }

    @Test("a session that the job's last sessions' growth would not fit is refused up front, with the reason, before any snapshot")
    func freeSpaceEstimateRefuses() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        let store = environment.database.eventStore()
        let state = try await CatalogStore(events: store).load()
        let job = try state.require(JobDefinition.self, named: environment.jobName)
        // An earlier session of this job that wrote 100 PB.
        let earlier = UUID().uuidString.lowercased()
        try await store.append(
            to: try StreamName(SessionEvent.stream(of: earlier)),
            events: [
                try NewEvent(
                    type: "SessionStarted",
                    payload: SessionEvent.Started(
                        sessionId: earlier, jobId: job, jobName: environment.jobName, jobVersion: 1, trigger: "manual")),
                try NewEvent(
                    type: "SessionFinished",
                    payload: SessionEvent.Finished(
                        result: "success", processedBytes: 0, readBytes: 0, transferredBytes: 100_000_000_000_000_000, dedupeRatio: nil,
                        compressionRatio: nil, durationSeconds: 1, busy: nil, bottleneck: nil)),
            ])
        let run = try environment.tidemark(["job", "start", environment.jobName, "--quiet"])
        #expect(run.status == 2, "\(run.output)")
        let finished = try await environment.database.administratorQuery(
            "SELECT data->>'result', data->>'reason' FROM tidemark.events WHERE event_type = 'SessionFinished' ORDER BY position DESC LIMIT 1"
        )
        #expect(try finished.decode(0, 0, as: String.self) == "failed")
        #expect(try finished.decode(0, 1, as: String.self).contains("not enough space"))
        let checked = try await environment.database.administratorQuery(
            "SELECT (data->>'estimated_bytes')::bigint FROM tidemark.events WHERE event_type = 'RepositoryChecked'")
        #expect(try checked.decode(0, 0, as: Int64.self) == 100_000_000_000_000_000)
        let snapshots = try await environment.database.administratorQuery(
            "SELECT count(*) FROM tidemark.events WHERE event_type = 'SnapshotRequested'")
        #expect(try snapshots.decode(0, 0, as: Int64.self) == 0)
    }

    @Test("a session that ends without finishing its transfers leaves no saved progress, and the next retention collects its chunks")
    func failedSessionGarbageCollected() async throws {
        let environment = try await JobEnvironment.make(vms: 2, diskSize: 6 << 20)
        defer { environment.remove() }
        // Kill the Job Manager once a transfer has saved progress and written chunks.
        var killedMidTransfer = false
        let repositoryPath = environment.repositoryPath
        // Each resumed run records a few events (proxy choices) before its transfers go on, so
        // each run is let go a few events further than the log already holds.
        for _ in 0..<30 {
            guard try await environment.runJob(crashAfter: try await environment.sessionEvents() + 5) else { break }
            let saved = (try? FileManager.default.contentsOfDirectory(atPath: repositoryPath + "/in-progress")) ?? []
            if !saved.isEmpty {
                killedMidTransfer = true
                break
            }
        }
        try #require(killedMidTransfer)
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: repositoryPath + "/in-progress")).isEmpty)
        let stop = try environment.tidemark(["job", "stop", environment.jobName, "--immediate"])
        #expect(stop.status == 0, "\(stop.output)")
        let left = try FileManager.default.subpathsOfDirectory(atPath: repositoryPath + "/in-progress")
        #expect(left.isEmpty, "the stopped session's progress is dropped, with any write its kill cut short: \(left)")
        let repository = try BackupRepository.open(at: URL(fileURLWithPath: repositoryPath))
        #expect(try repository.restorePoints().isEmpty, "no partial restore point is kept")
        let garbage = chunkFiles(repositoryPath)
        #expect(!garbage.isEmpty, "the stopped session's chunks are garbage now")

        // Guest writes change most blocks, so the next backup cannot reuse most of that garbage.
        _ = try LabAdapter(root: environment.labPath).mutate(percent: 90)
        try await environment.runJob()
        var referenced = Set<String>()
        for point in try repository.restorePoints() {
            for disk in try repository.disks(of: point) {
                for case let chunk? in try repository.manifest(restorePoint: point, disk: disk).blocks { referenced.insert(chunk.hex) }
            }
        }
        #expect(chunkFiles(repositoryPath) == referenced, "every chunk left is referenced by a restore point")
        #expect(!garbage.isSubset(of: referenced), "some of the stopped session's chunks were collected")
    }

    func chunkFiles(_ repository: String) -> Set<String> {
        Set(
            (FileManager.default.enumerator(atPath: repository + "/chunks")?.allObjects as? [String] ?? [])
                .map { ($0 as NSString).lastPathComponent }.filter { $0.count == 64 })
    }
}
