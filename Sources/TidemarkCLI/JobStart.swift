import ArgumentParser
import Catalog
import EventStore
import Foundation
import JobManager
import Server

/// `tidemark job start NAME`: runs a session of the job now, in this process, showing its
/// progress; a session of the job left unfinished (a crash, a killed command) is resumed
/// instead of starting another.
struct JobStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Run a session of the job now and show its progress (an unfinished session of the job is resumed first).",
        discussion: "Until 'tidemark server' runs jobs, the session runs in this command; if it is interrupted, the next 'job start' resumes it where the log says it stopped.")
    @OptionGroup var options: CatalogOptions
    @Argument(help: "The job's name.") var name: String
    @Flag(help: "Print only the report, not one line per step.") var quiet = false
    @Flag(help: "Wait for the session to end (the default: until 'tidemark server' runs jobs, the session runs in this command).")
    var wait = false

    func run() async throws {
        let logger = try options.global.makeLogger()
        let store = try await CatalogDatabase(options: options.global, logger: logger).openEventStore(maximumConnections: 4)
        defer { Task { await store.pool.close() } }
        let manager = JobManager(store: store, settings: JobManagerSettings.fromEnvironment(), logger: logger)
        let session: String
        if let unfinished = try await manager.unfinishedSessions(job: name).first {
            session = unfinished
            print("resuming session \(session) of job '\(name)'")
        } else {
            session = try await manager.begin(job: name, trigger: "manual")
            print("session \(session) of job '\(name)' started")
        }
        let head = try await store.headPosition()
        let follower = quiet ? nil : Task { try await SessionProgress.follow(store: store, session: session, after: head) }
        let report = try await manager.run(session: session)
        try? await Task.sleep(for: .milliseconds(50))
        follower?.cancel()
        SessionReportPrinter.print(report)
        // Jobs chained after this one begin now; a running `tidemark server` runs them.
        for chained in try await Scheduler(store: store, manager: manager, logger: logger).chain(after: report.jobID) {
            print("chained: session \(chained) begun (a running 'tidemark server' runs it)")
        }
        if report.finished.result == "failed" { throw ExitCode(2) }
    }
}

extension JobManagerSettings {
    /// Defaults, with `TIDEMARK_CHECKPOINT_BYTES` and `TIDEMARK_RETRY_WAIT_SECONDS` for tests
    /// and small labs.
    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> JobManagerSettings {
        var settings = JobManagerSettings()
        if let bytes = environment["TIDEMARK_CHECKPOINT_BYTES"].flatMap(Int64.init), bytes > 0 { settings.checkpointBytes = bytes }
        if let seconds = environment["TIDEMARK_RETRY_WAIT_SECONDS"].flatMap(Int.init), seconds >= 0 { settings.retryWait = .seconds(seconds) }
        return settings
    }
}

/// One line per step of a session, as its events arrive.
enum SessionProgress {
    static func follow(store: EventStore, session: String, after position: Int64) async throws {
        let stream = SessionEvent.stream(of: session)
        var sizes: [String: Int64] = [:]
        var last: [String: (offset: Int64, at: Date)] = [:]
        var names: [String: String] = [:]
        for try await event in store.subscribe(after: position, category: SessionEvent.category) where event.stream == stream {
            let json = try JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any] ?? [:]
            let task = json["task_id"] as? String ?? ""
            switch event.type {
            case "ObjectsEnumerated":
                let vms = json["vms"] as? [[String: Any]] ?? []
                for vm in vms { if let id = vm["id"] as? String { names[id] = vm["name"] as? String ?? id } }
                print("  objects: \(vms.compactMap { $0["name"] as? String }.joined(separator: ", "))")
            case "ProxySelected":
                print("  \(task): proxy \(json["proxy_name"] as? String ?? "?") (\(json["transport_mode"] as? String ?? "?"))")
            case "TaskStarted":
                sizes[task] = (json["size_bytes"] as? NSNumber)?.int64Value ?? 0
            case "TransferStarted":
                last[task] = (0, event.recordedAt)
                print("  \(task): \(json["mode"] as? String ?? "full") transfer into \(json["restore_point_id"] as? String ?? "?")")
            case "TransferCheckpointed", "TransferFinished":
                let offset = (json["offset"] as? NSNumber)?.int64Value ?? 0
                let size = max(1, sizes[task] ?? offset)
                let filled = Int(Double(offset) / Double(size) * 20)
                let previous = last[task] ?? (0, event.recordedAt)
                let seconds = event.recordedAt.timeIntervalSince(previous.at)
                let rate = seconds > 0 ? String(format: " %.0f MB/s", Double(offset - previous.offset) / seconds / 1e6) : ""
                last[task] = (offset, event.recordedAt)
                let phase = event.type == "TransferFinished" ? " done" : " transferring"
                print("  \(task): [\(String(repeating: "#", count: min(20, filled)))\(String(repeating: ".", count: max(0, 20 - filled)))] \(Int(Double(offset) / Double(size) * 100))%\(phase)\(rate)")
            case "TaskFinished" where json["result"] as? String == "failed":
                print("  \(task): failed: \(json["message"] as? String ?? "")")
            case "TaskWaited":
                print("  \(task): waiting: \(json["reason"] as? String ?? "")")
            case "SnapshotCreated":
                print("  \(names[json["vm_id"] as? String ?? ""] ?? "?"): snapshot \(json["name"] as? String ?? "")\(json["adopted"] as? Bool == true ? " (adopted)" : "")")
            case "RestorePointCreated":
                print("  \(json["vm_name"] as? String ?? "?"): restore point \(json["restore_point_id"] as? String ?? "")")
            case "RestorePointRemoved":
                print("  retention removed \(json["restore_point_id"] as? String ?? "")")
            case "SessionFinished":
                return
            default:
                continue
            }
        }
    }
}
