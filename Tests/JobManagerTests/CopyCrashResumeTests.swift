import Foundation
import Infrastructure
import Repository
import Testing

/// A copy session killed after every event of its stream, then resumed, ends as one that was
/// not killed: one session, a success, each VM's copy recorded once and restoring to the VM's
/// disk byte for byte.
@Suite("Copy jobs killed after every event")
struct CopyCrashResumeTests {
    /// A backed-up two-VM lab and a copy job into a second folder; the backup's end began the
    /// copy's session (immediate: it follows every session of the job it copies).
    static func world() async throws -> (environment: JobEnvironment, offsite: String) {
        let environment = try await JobEnvironment.make(vms: 2, diskSize: 2 << 20)
        let offsite = environment.folder.appendingPathComponent("offsite").path
        let repository = try environment.tidemark(["repository", "add", "offsite", "--path", offsite])
        #expect(repository.status == 0, "\(repository.output)")
        let job = try environment.tidemark(["job", "add", "copy", "--copy-of", environment.jobName, "--repository", "offsite"])
        #expect(job.status == 0, "\(job.output)")
        try await environment.runJob()
        return (environment, offsite)
    }

    struct Outcome: Equatable, CustomStringConvertible {
        var sessions: Int
        var results: [String]
        /// `<VM id>/<disk>` of each copy → SHA-256 of the disk it restores to.
        var copies: [String: String]
        var description: String { "sessions \(sessions), results \(results), copies \(copies.keys.sorted())" }
    }

    /// The copy job's sessions and copies, each copy restored from the offsite folder.
    static func outcome(_ environment: JobEnvironment, offsite: String) async throws -> Outcome {
        let database = environment.database
        let sessions = try await database.administratorQuery(
            "SELECT stream_id FROM tidemark.events WHERE event_type = 'SessionStarted' AND data ? 'copy_of_job_id'")
        let results = try await database.administratorQuery(
            "SELECT f.data->>'result' FROM tidemark.events f JOIN tidemark.events s ON s.stream_id = f.stream_id AND s.event_type = 'SessionStarted' AND s.data ? 'copy_of_job_id' WHERE f.event_type = 'SessionFinished' ORDER BY f.position"
        )
        let points = try await database.administratorQuery(
            "SELECT data->>'vm_id', data->>'restore_point_id' FROM tidemark.events WHERE event_type = 'RestorePointCreated' AND data ? 'copy_of'"
        )
        let repository = try BackupRepository.open(at: URL(fileURLWithPath: offsite))
        var copies: [String: String] = [:]
        for row in 0..<points.rowCount {
            let vm: String = try points.decode(row, 0), point: String = try points.decode(row, 1)
            for disk in try repository.disks(of: point) {
                let target = environment.folder.appendingPathComponent("copy-\(point)-\(disk).img").path
                try DiskRestore.restore(
                    try repository.manifest(restorePoint: point, disk: disk), from: repository, to: target, overwrite: true)
                copies["\(vm)/\(disk)"] = try JobEnvironment.sha256(file: target)
                try? FileManager.default.removeItem(atPath: target)
            }
        }
        return Outcome(
            sessions: sessions.rowCount, results: try (0..<results.rowCount).map { try results.decode($0, 0) as String }, copies: copies)
    }

    @Test("killed after every event of a two-VM copy session, each resumed session ends as the uninterrupted one")
    func everyBoundary() async throws {
        let (baseline, baselineOffsite) = try await Self.world()
        let run = try baseline.tidemark(["job", "start", "copy", "--quiet"])
        #expect(run.status == 0, "\(run.output)")
        let expected = try await Self.outcome(baseline, offsite: baselineOffsite)
        let lab = try await LabAdapter(root: baseline.labPath).inventory().virtualMachines
        #expect(expected.sessions == 1 && expected.results == ["success"] && expected.copies.count == 2, "\(expected)")
        for (key, hash) in expected.copies {
            let vm = String(key.prefix { $0 != "/" }), disk = key.split(separator: "-").last.map(String.init) ?? ""
            #expect(lab.contains { $0.id == vm }, "\(key)")
            #expect(hash == (try JobEnvironment.sha256(file: baseline.labPath + "/disks/\(vm)-\(disk).img")), "\(key)")
        }
        let events = Int(
            try await baseline.database.administratorQuery(
                "SELECT count(*) FROM tidemark.events e JOIN tidemark.events s ON s.stream_id = e.stream_id AND s.event_type = 'SessionStarted' AND s.data ? 'copy_of_job_id'"
            ).decode(0, 0, as: Int64.self))
        baseline.remove()

        var killed = 0
        // Version 1 (SessionStarted) was written by the backup's process: the copy's own appends begin at 2.
        for boundary in 2..<events {
            let (world, offsite) = try await Self.world()
            defer { world.remove() }
            let first = try world.tidemark(["job", "start", "copy", "--quiet"], crashAfter: boundary)
            if first.killed {
                killed += 1
                let resumed = try world.tidemark(["job", "start", "copy", "--quiet"])
                #expect(resumed.status == 0, "boundary \(boundary): \(resumed.output)")
            }
            let outcome = try await Self.outcome(world, offsite: offsite)
            #expect(outcome == expected, "boundary \(boundary): \(outcome) ≠ \(expected)")
        }
        #expect(killed >= (events - 2) * 3 / 4, "the copy died at only \(killed) of \(events - 2) boundaries")
    }
}
