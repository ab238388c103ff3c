import Foundation
import Infrastructure
import JobManager
import Repository
import TestSupport
import Testing

/// The reason Tidemark exists: kill the Job Manager at any event boundary, start it again,
/// and the session ends as if nothing had happened.
@Suite("Crash resume", .serialized, .tags(.crash), .timeLimit(.minutes(20)))
struct CrashResumeTests {
    /// Runs the job once without a crash: the outcome every interrupted run must equal.
    static func baseline(vms: Int, diskSize: Int64, disksPerVM: Int = 1) async throws -> (JobEnvironment.Outcome, Int) {
        let environment = try await JobEnvironment.make(vms: vms, diskSize: diskSize, disksPerVM: disksPerVM)
        defer { environment.remove() }
        try await environment.runJob()
        return (try await environment.outcome(), try await environment.sessionEvents())
    }

    /// Kills the job after event `boundary`, resumes it, and compares with the baseline.
    static func crashAndResume(
        at boundary: Int, vms: Int, diskSize: Int64, disksPerVM: Int = 1, expected: JobEnvironment.Outcome, context: String = ""
    ) async throws {
        let environment = try await JobEnvironment.make(vms: vms, diskSize: diskSize, disksPerVM: disksPerVM)
        defer { environment.remove() }
        let killed = try await environment.runJob(crashAfter: boundary)
        #expect(killed, "the job was expected to die after event \(boundary) \(context)")
        try await environment.runJob()
        var outcome = try await environment.outcome()
        // The transferred figure depends on timing even without a crash: two parallel tasks
        // meeting the same new block both write it. What was stored is compared instead: the
        // same chunks, content-addressed.
        outcome.transferred = expected.transferred
        #expect(outcome == expected, "boundary \(boundary) \(context): \(outcome) ≠ \(expected)")
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

    @Test("killed after every event of a job whose VMs have three disks each, moved in parallel")
    func everyBoundaryOfMultiDiskVMs() async throws {
        let (expected, events) = try await Self.baseline(vms: 2, diskSize: 1 << 20, disksPerVM: 3)
        #expect(expected.result == "success" && expected.snapshotsLeft == 0 && expected.restorePointsCreated == 2)
        #expect(expected.restored.count == 6)
        for boundary in 1..<events {
            try await Self.crashAndResume(at: boundary, vms: 2, diskSize: 1 << 20, disksPerVM: 3, expected: expected)
        }
    }

    @Test("killed at a sample of 50 event boundaries of a 20-VM job")
    func sampledBoundariesOfALargerJob() async throws {
        let (expected, events) = try await Self.baseline(vms: 20, diskSize: 1 << 20)
        #expect(expected.result == "success" && expected.restorePointsCreated == 20)
        let seed = TestSeed()
        var generator = DiskImageGenerator.Generator(state: seed.value)
        let sample = (0..<50).map { _ in Int.random(in: 1..<events, using: &generator) }.sorted()
        for boundary in sample {
            try await Self.crashAndResume(at: boundary, vms: 20, diskSize: 1 << 20, expected: expected, context: "\(seed)")
        }
    }
}

@Suite("Crash resume during retention and garbage collection", .serialized, .tags(.crash), .timeLimit(.minutes(20)))
struct RetentionCrashTests {
    /// Three sessions in process, then the fourth (which removes the oldest restore point)
    /// in a child process killed after `boundary` events (nil: not killed), then resumed.
    static func fourthSession(
        crashAt boundary: Int?
    ) async throws -> (events: Int, kept: Int, removed: Int, garbage: Int, snapshots: Int, clean: Bool) {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20, retention: "3 restore points", twoPersonApproval: false)
        defer { environment.remove() }
        let manager = JobManager(store: environment.database.eventStore(), settings: JobManagerSettings(retryWait: .zero))
        for _ in 0..<3 {
            let session = try await manager.begin(job: environment.jobName, trigger: "manual")
            _ = try await manager.run(session: session)
        }
        let before = try await environment.sessionEvents()
        if let boundary {
            #expect(try await environment.runJob(crashAfter: boundary))
        }
        try await environment.runJob()
        let events = try await environment.sessionEvents() - before
        let repository = try BackupRepository.open(at: URL(fileURLWithPath: environment.repositoryPath))
        let removed = try await environment.database.administratorQuery(
            "SELECT count(*) FROM tidemark.events WHERE event_type = 'RestorePointRemoved'")
        let lab = try LabAdapter(root: environment.labPath)
        let garbage = try GarbageCollector(repository: repository).collect(wait: true).deletedChunks
        return (
            events, try repository.restorePoints().count, Int(try removed.decode(0, 0, as: Int64.self)), garbage,
            try await lab.snapshots(of: "vm-1").count, try RepositoryVerifier(repository: repository).verify().isClean
        )
    }

    @Test("killed at every event boundary of a session that applies retention, the resume removes each point once and collects its chunks")
    func everyBoundary() async throws {
        let baseline = try await Self.fourthSession(crashAt: nil)
        #expect(baseline.kept == 3 && baseline.removed == 1 && baseline.garbage == 0 && baseline.snapshots == 0 && baseline.clean)
        // The boundary counts the fourth session's own events (its stream version).
        for step in 1..<baseline.events {
            let outcome = try await Self.fourthSession(crashAt: step)
            #expect(outcome.kept == 3 && outcome.removed == 1, "step \(step): \(outcome)")
            #expect(outcome.garbage == 0 && outcome.snapshots == 0 && outcome.clean, "step \(step): \(outcome)")
        }
    }
}

@Suite("Crash resume with proxy processes", .serialized, .tags(.crash), .timeLimit(.minutes(20)))
struct ProxyCrashResumeTests {
    /// A world whose two proxies run as processes on this machine for the whole test.
    static func world(vms: Int, diskSize: Int64) async throws -> (ProxyWorld, [RunningTidemark]) {
        let world = try await ProxyWorld.make(vms: vms, diskSize: diskSize)
        let proxies = [try await world.startProxy("proxy-1", lease: 3), try await world.startProxy("proxy-2", lease: 3)]
        return (world, proxies)
    }

    @Test(
        "the Job Manager killed after every event of a two-VM job whose disks move on two proxy processes: each resumed session ends as the uninterrupted one, every transfer finished once"
    )
    func everyBoundaryWhileProxiesWork() async throws {
        let (baseline, baselineProxies) = try await Self.world(vms: 2, diskSize: 2 << 20)
        try await baseline.environment.runJob()
        let expected = try await baseline.environment.outcome()
        let events = try await baseline.environment.sessionEvents()
        let assigned = try await baseline.environment.database.administratorQuery(
            "SELECT count(*) FROM tidemark.events WHERE event_type = 'TaskAssigned'")
        #expect(try assigned.decode(0, 0, as: Int64.self) == 2, "the baseline's disks did not move on the proxies")
        #expect(expected.result == "success" && expected.restorePointsCreated == 2 && expected.snapshotsLeft == 0)
        _ = baselineProxies
        baseline.environment.remove()

        var killedCount = 0
        for boundary in 1..<events {
            let (world, proxies) = try await Self.world(vms: 2, diskSize: 2 << 20)
            defer { world.environment.remove() }
            // How many progress reports become events depends on timing: the last boundaries
            // may lie past the end of this run, which then simply finishes.
            // A run that was not killed has finished its session: running the job again would
            // begin a second one.
            if try await world.environment.runJob(crashAfter: boundary) {
                killedCount += 1
                try await world.environment.runJob()
            }
            var outcome = try await world.environment.outcome()
            outcome.transferred = expected.transferred
            #expect(outcome == expected, "boundary \(boundary): \(outcome) ≠ \(expected)")
            let session = try await world.environment.database.administratorQuery(
                "SELECT substr(stream_id, 9) FROM tidemark.events WHERE event_type = 'SessionStarted' LIMIT 1"
            ).decode(0, 0, as: String.self)
            // Each disk's transfer finished once in the log, and restores byte-identical to the lab;
            // the disks moved on the processes (not the Job Manager's own mover).
            let done = try await world.checkDone(session, tasks: 2)
            #expect(done.contains { $0.type == "TaskAssigned" }, "boundary \(boundary): no task was assigned to a proxy process")
            _ = proxies
        }
        #expect(killedCount >= (events - 1) * 3 / 4, "the Job Manager died at only \(killedCount) of \(events - 1) boundaries")
    }
}
