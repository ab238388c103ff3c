import EventStore
import Foundation
import Repository
import Testing
import WorkflowEvents

/// What a failed session leaves of a point it never recorded, on a repository that keeps it
/// immutable (`RetentionDeferred` with `partial`): the first retention on that repository past
/// the date removes it and records the removal; before the date nothing touches it.
@Suite("Partial restore points kept while immutable")
struct PartialPointTests {
    @Test("a partial point past its date is removed by the next retention on its repository, once; one not yet due stays")
    func expire() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        try await environment.runJob()
        let database = environment.database
        let checked = try await database.administratorQuery(
            "SELECT data->>'repository_id', stream_id FROM tidemark.events WHERE event_type = 'RepositoryChecked' LIMIT 1")
        let repositoryID: String = try checked.decode(0, 0)
        let stream: String = try checked.decode(0, 1)
        let repository = try BackupRepository.open(at: URL(fileURLWithPath: environment.repositoryPath))
        let recorded = try #require(try repository.restorePoints().first)
        // Two partial points, as a failed session would leave them (a disk's manifest each).
        let folder = environment.repositoryPath + "/restore-points/"
        for point in ["vm-1-expired0", "vm-1-notyet00"] {
            try FileManager.default.createDirectory(atPath: folder + point, withIntermediateDirectories: true)
            for disk in try repository.disks(of: recorded) {
                let text = try String(contentsOfFile: folder + recorded + "/\(disk).json", encoding: .utf8)
                try text.replacingOccurrences(of: recorded, with: point).write(
                    toFile: folder + point + "/\(disk).json", atomically: true, encoding: .utf8)
            }
        }
        let formatter = ISO8601DateFormatter()
        let deferrals = try [("vm-1-expired0", -60.0), ("vm-1-notyet00", 86_400.0)].map { point, offset in
            let deferred = SessionEvent.RetentionDeferred(
                restorePointId: point, reason: "partial restore point; kept: immutable",
                removableAt: formatter.string(from: Date().addingTimeInterval(offset)), repositoryId: repositoryID, partial: true)
            return try NewEvent(
                type: SessionEvent.Kind.retentionDeferred.rawValue,
                jsonData: String(decoding: try SessionEvent.encoder().encode(deferred), as: UTF8.self),
                metadata: EventMetadata(actor: "test"))
        }
        try await database.eventStore().append(to: try StreamName(stream), events: deferrals)

        try await environment.runJob()
        let points = try repository.restorePoints()
        #expect(points.contains("vm-1-notyet00") && !points.contains("vm-1-expired0"), "\(points)")
        func removals() async throws -> [String] {
            let rows = try await database.administratorQuery(
                "SELECT data->>'reason' FROM tidemark.events WHERE event_type = 'RestorePointRemoved' AND data->>'restore_point_id' LIKE 'vm-1-%0'"
            )
            return try (0..<rows.rowCount).map { try rows.decode($0, 0) as String }
        }
        #expect(try await removals().count == 1)
        #expect(try await removals().first?.contains("past its immutability") == true)
        // The next retention removes nothing more and records nothing twice.
        try await environment.runJob()
        #expect(try await removals().count == 1)
        #expect(try repository.restorePoints().contains("vm-1-notyet00"))
    }
}
