import Foundation
import Testing

/// The reason Tidemark exists: kill the Job Manager at any event boundary, start it again,
/// and the session ends as if nothing had happened.
@Suite("Crash resume", .serialized)
struct CrashResumeTests {
    /// Runs the job once without a crash: the outcome every interrupted run must equal.
    static func baseline(vms: Int, diskSize: Int64) async throws -> (JobEnvironment.Outcome, Int) {
        let environment = try await JobEnvironment.make(vms: vms, diskSize: diskSize)
        defer { environment.remove() }
        try environment.runJob()
        return (try await environment.outcome(), try await environment.sessionEvents())
    }

    /// Kills the job after event `boundary`, resumes it, and compares with the baseline.
    static func crashAndResume(at boundary: Int, vms: Int, diskSize: Int64, expected: JobEnvironment.Outcome) async throws {
        let environment = try await JobEnvironment.make(vms: vms, diskSize: diskSize)
        defer { environment.remove() }
        let killed = try environment.runJob(crashAfter: boundary)
        #expect(killed, "the job was expected to die after event \(boundary)")
        try environment.runJob()
        var outcome = try await environment.outcome()
        // Chunks written between the last checkpoint and the kill are stored once and found
        // again on resume: the transferred figure may miss them, never count them twice.
        #expect(outcome.transferred <= expected.transferred, "boundary \(boundary): transferred \(outcome.transferred) > \(expected.transferred)")
        outcome.transferred = expected.transferred
        #expect(outcome == expected, "boundary \(boundary): \(outcome) ≠ \(expected)")
    }

    @Test("killed after every event of a two-VM job, each resumed session ends as the uninterrupted one")
    func everyBoundaryOfASmallJob() async throws {
        let (expected, events) = try await Self.baseline(vms: 2, diskSize: 2 << 20)
        #expect(expected.result == "success" && expected.snapshotsLeft == 0 && expected.restorePointsCreated == 2)
        #expect(events > 15)
        for boundary in 1..<events {
            try await Self.crashAndResume(at: boundary, vms: 2, diskSize: 2 << 20, expected: expected)
        }
    }

    @Test("killed at a sample of 50 event boundaries of a 20-VM job")
    func sampledBoundariesOfALargerJob() async throws {
        let (expected, events) = try await Self.baseline(vms: 20, diskSize: 1 << 20)
        #expect(expected.result == "success" && expected.restorePointsCreated == 20)
        var generator = SystemRandomNumberGenerator()
        let sample = (0..<50).map { _ in Int.random(in: 1..<events, using: &generator) }.sorted()
        for boundary in sample {
            try await Self.crashAndResume(at: boundary, vms: 20, diskSize: 1 << 20, expected: expected)
        }
    }
}
