import ArgumentParser
import Catalog
import EventStore
import Foundation
import Postgres
import WorkflowEvents

/// `tidemark session replay ID`: the session told again from its events — every step and
/// decision at its time from the start, one lane per task — paced with `--speed`, or frozen
/// at one instant with `--at`.
struct SessionReplay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a session from its events: a timeline of every step and decision, one lane per task.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The session's id (or its first characters).") var id: String
    @Option(help: "Play it paced, N times faster than it happened (omit for all at once).") var speed: Double?
    @Option(help: ArgumentHelp("Show the state at this many seconds from the start instead of the timeline.", valueName: "seconds"))
    var at: Double?

    func validate() throws {
        if let speed, !(speed >= 0.01 && speed <= 1_000_000) { throw ValidationError("--speed must be from 0.01 to 1000000, such as 10") }
        if let at, at < 0 { throw ValidationError("--at counts seconds from the session's start: give 0 or more") }
    }

    func run() async throws {
        let logger = try options.makeLogger()
        let store = try await CatalogDatabase(options: options, logger: logger).openEventStore(maximumConnections: 1)
        return try await withClosing(store) { _ in
            let matches = try await store.streams(
                category: SessionEvent.category, prefix: SessionEvent.stream(of: id.lowercased()), limit: 2)
            guard matches.count == 1 else {
                throw ValidationError(
                    matches.isEmpty
                        ? "no session starts with '\(id)': see 'tidemark session list'"
                        : "'\(id)' matches several sessions: give more of the id")
            }
            let events = try await store.readStream(try StreamName(matches[0]), limit: 1_000_000)
            guard let first = events.first else { return }
            var lanes: [String] = []
            func lane(_ task: String) -> Int {
                if let index = lanes.firstIndex(of: task) { return index }
                lanes.append(task)
                return lanes.count - 1
            }
            if let at {
                print(Self.state(of: events.filter { $0.recordedAt.timeIntervalSince(first.recordedAt) <= at }, at: at))
                return
            }
            var previous = 0.0
            for event in events {
                let offset = event.recordedAt.timeIntervalSince(first.recordedAt)
                if let speed, offset > previous {
                    try await Task.sleep(for: .milliseconds(Int(min((offset - previous) / speed * 1_000, 600_000))))
                }
                previous = offset
                let fields = (try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any]) ?? [:]
                let task = fields["task_id"] as? String ?? (fields["vm_id"] as? String).map { "\($0)/*" }
                let indent = task.map { String(repeating: "    ", count: min(lane($0), 12)) } ?? ""
                print(String(format: "+%8.3fs ", offset) + indent + Self.describe(event.type, fields, task: task))
            }
        }
    }

    /// One line per event: what happened and the decision's reasons.
    static func describe(_ type: String, _ fields: [String: Any], task: String?) -> String {
        let subject = task.map { "[\($0)] " } ?? ""
        switch type {
        case "SessionStarted":
            return
                "session of job \(fields["job_name"] as? String ?? "?") (version \(fields["job_version"] ?? "?"), \(fields["trigger"] as? String ?? "?"))"
        case "ObjectsEnumerated":
            return "objects: " + ((fields["vms"] as? [[String: Any]])?.compactMap { $0["name"] as? String }.joined(separator: ", ") ?? "")
        case "RepositoryChecked":
            return
                "repository \(fields["path"] as? String ?? "?"): online \(fields["online"] ?? "?"), \(fields["free_percent"] ?? "?")% free (threshold \(fields["threshold_percent"] ?? "?")%)"
        case "ProxySelected":
            let candidates =
                (fields["candidates"] as? [[String: Any]])?.map { "\($0["proxy_name"] ?? "?") \($0["score"] ?? "?")" }.joined(
                    separator: ", ") ?? ""
            return "\(subject)proxy \(fields["proxy_name"] ?? "?") by \(fields["transport_mode"] ?? "?") (scores: \(candidates))"
        case "TransferCheckpointed", "TransferFinished":
            return
                "\(subject)\(type == "TransferFinished" ? "transfer done" : "checkpoint") at \(fields["offset"] ?? 0), read \(fields["bytes_read"] ?? 0), wrote \(fields["bytes_transferred"] ?? 0)"
        case "TaskWaited": return "\(subject)waits: \(fields["reason"] ?? "")"
        case "TaskFinished": return "\(subject)\(fields["result"] ?? "?")\((fields["message"] as? String).map { ": \($0)" } ?? "")"
        case "SessionFinished":
            return
                "session \(fields["result"] ?? "?"): bottleneck \(fields["bottleneck"] ?? "-")\((fields["reason"] as? String).map { " (\($0))" } ?? "")"
        default:
            let details = fields.filter { !["task_id", "vm_id", "candidates"].contains($0.key) }.sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            return "\(subject)\(type) \(details)"
        }
    }

    /// Where every task stood at an instant.
    static func state(of events: [RecordedEvent], at seconds: Double) -> String {
        var tasks: [String: String] = [:]
        var order: [String] = []
        var session = "running"
        for event in events {
            let fields = (try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any]) ?? [:]
            if event.type == "SessionFinished" { session = fields["result"] as? String ?? "finished" }
            guard let task = fields["task_id"] as? String else { continue }
            if tasks[task] == nil { order.append(task) }
            switch event.type {
            case "TaskStarted": tasks[task] = "started (attempt \(fields["attempt"] ?? 1))"
            case "TransferCheckpointed": tasks[task] = "transferring, at \(fields["offset"] ?? 0)"
            case "TransferFinished": tasks[task] = "transfer done"
            case "TaskFinished": tasks[task] = "\(fields["result"] ?? "?")"
            case "TaskWaited": tasks[task] = "waiting: \(fields["reason"] ?? "")"
            default: tasks[task] = tasks[task] ?? event.type
            }
        }
        let lines = order.map { "  \($0): \(tasks[$0]!)" }
        return (["at +\(String(format: "%.3f", seconds))s: session \(session), \(events.count) events so far"] + lines).joined(
            separator: "\n")
    }
}
