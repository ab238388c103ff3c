import Catalog
import EventStore
import Foundation
import Repository
import TestSupport
import Testing

/// The log's integrity through the binary, as the attacks of issue 12 were made: forged
/// workflow events through `events append`, and a database superuser editing, deleting or
/// forging events (with or without recomputing the hash chain) behind Tidemark's back.
@Suite("Log integrity through the command line")
struct LogIntegrityTests {
    @Test(
        "events append writes only note- and custom- streams; a forged schedule event is refused and nothing is written",
        arguments: [
            ("schedule-3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e", "RunSkipped", "only the scheduler"),
            ("control-3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e", "StopRequested", "use 'tidemark job stop'"),
            ("health-3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e", "ChunkHealed", "use note-<name> or custom-<name>"),
            ("orders-1", "OrderPlaced", "use note-<name> or custom-<name>"),
        ] as [(String, String, String)])
    func appendNamespace(stream: String, type: String, reason: String) async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        let before = try await environment.eventCount()
        let refused = try environment.tidemark([
            "events", "append", "--stream", stream, "--type", type, "--data", #"{"scheduled_for":"2099-01-01T00:00:00Z"}"#,
        ])
        #expect(refused.status == 64, "\(refused.output)")
        #expect(refused.output.contains(reason), "\(refused.output)")
        #expect(try await environment.eventCount() == before)
        let accepted = try environment.tidemark(["events", "append", "--stream", "note-tape", "--type", "NoteWritten", "--data", "{}"])
        #expect(accepted.status == 0, "\(accepted.output)")
    }

    @Test("every manifest of a job's restore points records the chain head; events verify checks the log and the heads")
    func headsRecorded() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        try await environment.runJob()
        let repository = try BackupRepository.open(at: URL(fileURLWithPath: environment.repositoryPath))
        let points = try repository.restorePoints()
        #expect(!points.isEmpty)
        for point in points {
            for disk in try repository.disks(of: point) {
                let head = try #require(try repository.manifest(restorePoint: point, disk: disk).logHead)
                #expect(head.position > 0 && head.hash.count == 64)
            }
        }
        let verify = try environment.tidemark(["events", "verify", "--repository", environment.repositoryPath])
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.output.contains("the log matches its hash chain"), "\(verify.output)")
        #expect(verify.output.contains("match the chain"), "\(verify.output)")
    }

    @Test("a superuser's edit, deletion or forged insert is named by events verify; projections rebuild refuses until told")
    func superuserForgery() async throws {
        for attack in ["edit", "delete", "insert"] {
            let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
            defer { environment.remove() }
            try await environment.runJob()
            let forgery = LogForgery(environment.database)
            let expected: Int64
            switch attack {
            case "edit":
                expected = 7
                try await forgery.edit(position: expected, data: #"{"result": "success"}"#)
            case "delete":
                expected = 5
                try await forgery.delete(position: expected)
            default:
                expected = try await environment.database.administratorQuery("SELECT last_value + 1 FROM tidemark.event_position_seq")
                    .decode(0, 0)
                try await forgery.insert(stream: "job-3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e", type: "JobRemoved")
            }
            let verify = try environment.tidemark(["events", "verify"])
            #expect(verify.status == 1, "\(attack): \(verify.output)")
            #expect(verify.output.contains("broken at position \(expected)"), "\(attack): \(verify.output)")
            let rebuild = try environment.tidemark(["projections", "rebuild"])
            #expect(rebuild.status == 1, "\(attack): \(rebuild.output)")
            #expect(rebuild.output.contains("--ignore-broken-chain"), "\(attack): \(rebuild.output)")
            let forced = try environment.tidemark(["projections", "rebuild", "--ignore-broken-chain"])
            #expect(forced.status == 0, "\(attack): \(forced.output)")
        }
    }

    @Test("a chain recomputed after a forgery passes inside the database and is caught by the heads in the repository")
    func recomputedChain() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        try await environment.runJob()
        try await LogForgery(environment.database).editAndRecomputeChain(position: 3)
        let inside = try environment.tidemark(["events", "verify"])
        #expect(inside.status == 0, "\(inside.output)")
        let outside = try environment.tidemark(["events", "verify", "--repository", environment.repositoryPath])
        #expect(outside.status == 1, "\(outside.output)")
        #expect(outside.output.contains("the log was rewritten at or before position"), "\(outside.output)")
    }
}
