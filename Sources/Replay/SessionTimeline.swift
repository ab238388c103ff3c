import EventStore
import Foundation
import WorkflowEvents

/// A session's events told as lines for people (`tidemark session replay`), each decoded with
/// the session contract's own types: what happened, with the decision's reasons. An event this
/// build does not describe, or cannot decode, is listed with its fields as recorded.
public enum SessionTimeline {
    /// The lane an event belongs to: its task, or all of a VM's tasks (`vm-1/*`), or none.
    public static func task(of event: RecordedEvent) -> String? {
        let fields = Self.fields(event)
        return fields[SessionEvent.Field.taskId] as? String ?? (fields[SessionEvent.Field.vmId] as? String).map { "\($0)/*" }
    }

    /// One line for the event.
    public static func describe(_ event: RecordedEvent, task: String?) -> String {
        let subject = task.map { "[\($0)] " } ?? ""
        if let line = RestoreTimeline.describe(event, subject: subject) { return line }
        switch SessionEvent.Kind(rawValue: event.type) {
        case .sessionStarted?:
            if let started = decode(SessionEvent.Started.self, event) {
                return
                    "session of job \(started.jobName ?? "?") (version \(started.jobVersion.map(String.init) ?? "?"), \(started.trigger?.rawValue ?? "?"))"
            }
        case .objectsEnumerated?:
            if let objects = decode(SessionEvent.ObjectsEnumerated.self, event) {
                return "objects: " + objects.vms.map(\.name).joined(separator: ", ")
            }
        case .repositoryChecked?:
            if let checked = decode(SessionEvent.RepositoryChecked.self, event) {
                return
                    "repository \(checked.path): online \(checked.online), \(number(checked.freePercent))% free (threshold \(checked.thresholdPercent)%)"
            }
        case .proxySelected?:
            if let selected = decode(SessionEvent.ProxySelected.self, event) {
                let scores = selected.candidates.map { "\($0.proxyName) \(number($0.score))" }.joined(separator: ", ")
                return "\(subject)proxy \(selected.proxyName) by \(selected.transportMode) (scores: \(scores))"
            }
        case .transferCheckpointed?, .transferFinished?:
            if let progress = decode(SessionEvent.TransferProgress.self, event) {
                let what = event.type == SessionEvent.Kind.transferFinished.rawValue ? "transfer done" : "checkpoint"
                return "\(subject)\(what) at \(progress.offset), read \(progress.bytesRead), wrote \(progress.bytesTransferred)"
            }
        case .taskAssigned?:
            if let assigned = decode(SessionEvent.TaskAssigned.self, event) {
                return
                    "\(subject)assigned to proxy \(assigned.proxyName) on \(assigned.host) (process \(assigned.instanceId), token \(assigned.token))"
            }
        case .taskReassigned?:
            if let moved = decode(SessionEvent.TaskReassigned.self, event) {
                return "\(subject)taken back from proxy \(moved.proxyName) (token \(moved.token)): \(moved.reason)"
            }
        case .taskWaited?:
            if let waited = decode(SessionEvent.TaskWaited.self, event) { return "\(subject)waits: \(waited.reason)" }
        case .taskFinished?:
            if let finished = decode(SessionEvent.TaskFinished.self, event) {
                return "\(subject)\(finished.result)\(finished.message.map { ": \($0)" } ?? "")"
            }
        case .sessionFinished?:
            if let finished = decode(SessionEvent.Finished.self, event) {
                return "session \(finished.result): bottleneck \(finished.bottleneck ?? "-")\(finished.reason.map { " (\($0))" } ?? "")"
            }
        default:
            break
        }
        let shown: Set = [SessionEvent.Field.taskId, SessionEvent.Field.vmId, SessionEvent.Field.candidates]
        let details = fields(event).filter { !shown.contains($0.key) }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return "\(subject)\(event.type) \(details.joined(separator: " "))"
    }

    /// Where every task stood at an instant, from the events up to it.
    public static func state(of events: [RecordedEvent], at seconds: Double) -> String {
        var tasks: [String: String] = [:]
        var order: [String] = []
        var session = "running"
        for event in events {
            if event.type == SessionEvent.Kind.sessionFinished.rawValue || event.type == RestoreEvent.Kind.finished.rawValue {
                session = decode(SessionEvent.Finished.self, event)?.result.rawValue ?? "finished"
            }
            guard let task = fields(event)[SessionEvent.Field.taskId] as? String else { continue }
            if tasks[task] == nil { order.append(task) }
            switch SessionEvent.Kind(rawValue: event.type) {
            case .taskStarted?: tasks[task] = "started (attempt \(decode(SessionEvent.TaskStarted.self, event)?.attempt ?? 1))"
            case .transferCheckpointed?: tasks[task] = "transferring, at \(decode(SessionEvent.TransferProgress.self, event)?.offset ?? 0)"
            case .transferFinished?: tasks[task] = "transfer done"
            case .taskFinished?: tasks[task] = decode(SessionEvent.TaskFinished.self, event)?.result.rawValue ?? "?"
            case .taskWaited?: tasks[task] = "waiting: \(decode(SessionEvent.TaskWaited.self, event)?.reason ?? "")"
            default: tasks[task] = RestoreTimeline.state(of: event) ?? tasks[task] ?? event.type
            }
        }
        let lines = order.map { "  \($0): \(tasks[$0]!)" }
        return (["at +\(String(format: "%.3f", seconds))s: session \(session), \(events.count) events so far"] + lines)
            .joined(separator: "\n")
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ event: RecordedEvent) -> T? {
        try? SessionEvent.decoder().decode(type, from: Data(event.data.utf8))
    }

    /// The event's fields as recorded, for what has no line of its own.
    private static func fields(_ event: RecordedEvent) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any]) ?? [:]
    }

    /// A figure without a needless ".0".
    private static func number(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
