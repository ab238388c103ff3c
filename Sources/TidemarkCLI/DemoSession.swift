import ArgumentParser
import Catalog
import EventStore
import Foundation
import JobManager
import WorkflowEvents

/// One session of the demo's job, followed live: the steps as `job start` prints them (the
/// same printer), or every raw event with `--events`; then the report.
struct DemoSession {
    let store: EventStore
    let manager: JobManager
    let job: DemoCatalog.Job
    /// Print the raw events instead of the steps.
    let rawEvents: Bool

    /// Runs session `number` of `total` of this run, resuming one left unfinished first. Its
    /// heading says what it does: a session after an earlier restore point of the job reads
    /// only the changed blocks, whichever run of the demo it is.
    func run(_ number: Int, of total: Int) async throws -> SessionReport {
        let head = try await store.headPosition()
        let heading = "session \(number) of \(total) of this run"
        let session: String
        if let unfinished = try await manager.unfinishedSessions(job: job.name).first {
            session = unfinished
            print("\n\(heading): resuming session \(session), interrupted earlier")
        } else {
            let kind = try await hasRestorePoint() ? "incremental (changed blocks only)" : "full (the job's first backup reads every block)"
            session = try await manager.begin(job: job.name, trigger: .manual)
            print("\n\(heading): \(kind), id \(session)")
        }
        let follower = Task {
            if rawEvents {
                for try await event in store.subscribe(after: head, category: SessionEvent.category)
                where event.stream == SessionEvent.stream(of: session) {
                    print("  " + EventPrinter.textLine(event))
                    if event.type == SessionEvent.Kind.sessionFinished.rawValue { return }
                }
            } else {
                try await SessionProgressPrinter.follow(store: store, session: session, after: head)
            }
        }
        let report = try await manager.run(session: session)
        await SessionProgressPrinter.finish(follower)
        SessionReportPrinter.print(report)
        guard report.finished.result != .failed else { throw ExitCode(2) }
        return report
    }

    /// Whether a session of the job ever recorded a restore point (the base of an incremental).
    private func hasRestorePoint() async throws -> Bool {
        try await store.contains(SessionEvent.logKind(.restorePointCreated), field: SessionEvent.Field.jobId, equals: job.id)
    }
}
