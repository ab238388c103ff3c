import Foundation
import Repository
import TestSupport
import Testing

/// Issue 13, finding 4: chunks are written and renamed without a flush each, and one flush of
/// the file system (`BackupRepository.makeChunksDurable`) comes before anything names them —
/// saved progress or a manifest. A Job Manager killed between chunk writes and the manifest
/// must leave every chunk its saved progress names whole, and the resumed session's restore
/// points must verify chunk by chunk.
@Suite("Chunks written without a flush each, named only after one", .tags(.crash), .timeLimit(.minutes(10)))
struct ChunkDurabilityCrashTests {
    @Test(
        "killed between chunk writes and the manifest: every chunk the saved progress names re-hashes intact, and the resumed backup verifies"
    )
    func killedBetweenChunksAndManifest() async throws {
        let environment = try await JobEnvironment.make(vms: 2, diskSize: 6 << 20, disksPerVM: 2)
        defer { environment.remove() }
        let repositoryPath = environment.repositoryPath
        let inProgress = repositoryPath + "/in-progress"
        var kills = 0
        var progressChecked = 0
        // Killed a few events further each time (a resumed run records its proxy choices again first) (right after a checkpoint's event is a moment
        // when chunks beyond the saved progress are being written), until the job completes.
        while try await environment.runJob(crashAfter: try await environment.sessionEvents() + 6) {
            kills += 1
            try #require(kills < 60, "the job should complete within 60 kills")
            let repository = try BackupRepository.open(at: URL(fileURLWithPath: repositoryPath))
            for point in (try? FileManager.default.contentsOfDirectory(atPath: inProgress)) ?? [] where !point.hasPrefix(".") {
                for file in try FileManager.default.contentsOfDirectory(atPath: inProgress + "/" + point)
                where file.hasSuffix(".json") && !file.hasPrefix(".") {
                    let progress = try #require(try repository.progress(restorePoint: point, disk: String(file.dropLast(5))))
                    for case let chunk? in Set(progress.blocks) {
                        if case .failure(let problem) = repository.chunks.read(chunk) {
                            Issue.record("after kill \(kills): \(point)/\(file) names chunk \(chunk), which is \(problem)")
                        }
                    }
                    progressChecked += 1
                }
            }
            // Killed right after its last event, the session is over: a new run would begin another.
            let finished = try await environment.database.administratorQuery(
                "SELECT count(*) FROM tidemark.events WHERE event_type = 'SessionFinished'")
            if try finished.decode(0, 0, as: Int64.self) > 0 { break }
        }
        #expect(kills > 0)
        #expect(progressChecked > 0, "some kill should have come after a checkpoint")
        let repository = try BackupRepository.open(at: URL(fileURLWithPath: repositoryPath))
        let report = try RepositoryVerifier(repository: repository).verify()
        #expect(report.restorePoints == 2)
        #expect(report.disks == 4)
        #expect(report.isClean, "\(report.problems)")
    }
}
