import Catalog
import EventStore
import Foundation
import WorkflowEvents

/// What someone watching a session wants to see, folded from its events: one readable line
/// per step, and the progress of the whole session (disks done, percent, rate, time left).
///
/// Progress comes from `TransferCheckpointed` and `TransferFinished` against the disk sizes of
/// `TaskStarted`, so small disks, which finish before their first checkpoint, still move it.
/// Events recorded before the watch began (a resumed session) are folded without output, so
/// the figures include what was done before and the rate only what is done now.
struct SessionProgress {
    enum Output: Equatable {
        /// A step: a line of its own.
        case step(String)
        /// The session's progress; `final` once every disk is done.
        case progress(String, final: Bool)
    }

    private var vmNames: [String: String] = [:]
    private var disks = 0
    private var sizes: [String: Int64] = [:]
    private var offsets: [String: Int64] = [:]
    private var done: Set<String> = []
    /// Recent (time, bytes read) samples of this watch, for the rate.
    private var samples: [(at: Date, bytes: Int64)] = []
    /// How far back the rate looks.
    private static let rateWindow: TimeInterval = 10

    /// Folds one event; `live` is false for events recorded before the watch began.
    mutating func apply(_ event: RecordedEvent, live: Bool = true) -> [Output] {
        guard let kind = SessionEvent.Kind(rawValue: event.type) else { return [] }
        let data = Data(event.data.utf8)
        func decode<T: Decodable>(_ type: T.Type) -> T? { try? SessionEvent.decoder().decode(type, from: data) }
        var steps: [String] = []
        var moved = false
        switch kind {
        case .objectsEnumerated:
            guard let objects = decode(SessionEvent.ObjectsEnumerated.self) else { break }
            for vm in objects.vms { vmNames[vm.id] = vm.name }
            disks = objects.vms.reduce(0) { $0 + $1.diskKeys.count }
            steps.append("objects: \(objects.vms.map(\.name).joined(separator: ", ")) (\(Self.count(disks, "disk")))")
        case .repositoryChecked:
            guard let check = decode(SessionEvent.RepositoryChecked.self) else { break }
            steps.append(
                "repository \(check.path): \(check.online ? "online" : "offline"), \(Self.bytes(check.freeBytes)) free (\(Int(check.freePercent))%), \(Self.count(check.taskLimit, "task")) at once"
            )
        case .snapshotCreated:
            guard let snapshot = decode(SessionEvent.SnapshotCreated.self) else { break }
            let how = snapshot.quiesced == false ? ", crash-consistent" : ""
            steps.append("\(vmName(snapshot.vmId)): snapshot \(snapshot.name)\(snapshot.adopted ? " (adopted)" : "")\(how)")
        case .taskWaited:
            guard let wait = decode(SessionEvent.TaskWaited.self) else { break }
            steps.append("\(label(wait.taskId)): waiting: \(wait.reason)")
        case .proxySelected:
            guard let choice = decode(SessionEvent.ProxySelected.self) else { break }
            steps.append("\(label(choice.taskId)): proxy \(choice.proxyName) (\(choice.transportMode))")
        case .taskAssigned:
            guard let assigned = decode(SessionEvent.TaskAssigned.self) else { break }
            steps.append("\(label(assigned.taskId)): handed to proxy \(assigned.proxyName)'s process on \(assigned.host)")
        case .taskReassigned:
            guard let moved = decode(SessionEvent.TaskReassigned.self) else { break }
            steps.append("\(label(moved.taskId)): taken back from \(moved.proxyName): \(moved.reason); resumes from its last checkpoint")
        case .taskStarted:
            guard let task = decode(SessionEvent.TaskStarted.self) else { break }
            vmNames[task.vmId] = vmNames[task.vmId] ?? task.vmName
            sizes[task.taskId] = task.sizeBytes
            if task.attempt > 1 {
                // A retry reads the disk again from its saved progress.
                done.remove(task.taskId)
                steps.append("\(label(task.taskId)): attempt \(task.attempt)")
            }
        case .transferStarted:
            guard let transfer = decode(SessionEvent.TransferStarted.self) else { break }
            steps.append("\(label(transfer.taskId)): \(transfer.mode) transfer into \(transfer.restorePointId)")
        case .throttleApplied:
            guard let throttle = decode(SessionEvent.ThrottleApplied.self) else { break }
            steps.append("\(label(throttle.taskId)): throttled by '\(throttle.ruleName)' to \(Self.bytes(throttle.bytesPerSecond))/s")
        case .transferCheckpointed, .transferFinished:
            guard let progress = decode(SessionEvent.TransferProgress.self) else { break }
            offsets[progress.taskId] = progress.offset
            moved = true
            if kind == .transferFinished {
                done.insert(progress.taskId)
                steps.append(
                    "\(label(progress.taskId)): done, read \(Self.bytes(progress.bytesRead)), transferred \(Self.bytes(progress.bytesTransferred))"
                )
            }
        case .taskFinished:
            guard let task = decode(SessionEvent.TaskFinished.self), task.result == .failed else { break }
            steps.append("\(label(task.taskId)): failed: \(task.message ?? "no reason recorded")")
        case .snapshotRemoved:
            guard let removal = decode(SessionEvent.SnapshotRemoved.self) else { break }
            steps.append("\(vmName(removal.vmId)): snapshot removed")
        case .restorePointCreated:
            guard let point = decode(SessionEvent.RestorePointCreated.self) else { break }
            let copied = point.copyOf.map { " (copy of \($0)\(point.gfs.map { ", GFS " + $0.joined(separator: ", ") } ?? ""))" } ?? ""
            steps.append("\(point.vmName ?? vmName(point.vmId)): restore point \(point.restorePointId)\(copied)")
        case .copyVerified:
            guard let verified = decode(SessionEvent.CopyVerified.self) else { break }
            steps.append(
                verified.problems.isEmpty
                    ? "\(vmName(verified.vmId)): copy \(verified.restorePointId) verified at the target"
                    : "\(vmName(verified.vmId)): copy \(verified.restorePointId) NOT verified at the target: \(verified.problems.joined(separator: "; "))"
            )
        case .restorePointRemoved:
            guard let removal = decode(SessionEvent.RestorePointRemoved.self) else { break }
            steps.append("\(removal.reason) removed restore point \(removal.restorePointId)")
        case .retentionDeferred:
            guard let deferred = decode(SessionEvent.RetentionDeferred.self) else { break }
            steps.append("retention kept restore point \(deferred.restorePointId) for now: \(deferred.reason)")
        case .guestIndexFinished:
            guard let index = decode(SessionEvent.GuestIndexFinished.self) else { break }
            steps.append(
                "indexed the guest files of \(index.restorePointId): \(index.files) files in \(index.fileSystems) file system(s), \(index.added) added, \(index.changed) changed, \(index.removed) removed\(index.message.map { " (\($0))" } ?? "")"
            )
        default:
            break
        }
        guard live else { return [] }
        var outputs = steps.map(Output.step)
        if moved {
            sample(at: event.recordedAt)
            outputs.append(.progress(progressLine(at: event.recordedAt), final: disks > 0 && done.count >= disks))
        }
        return outputs
    }

    /// `progress: 1 of 3 disks done, 45% of 192.0 MB, 85.2 MB/s, about 2 s left`.
    func progressLine(at now: Date) -> String {
        let read = sizes.keys.reduce(Int64(0)) { $0 + (done.contains($1) ? sizes[$1]! : min(offsets[$1] ?? 0, sizes[$1]!)) }
        let known = sizes.values.reduce(0, +)
        // Disks not started yet count as the average of those that have.
        let unstarted = max(0, disks - sizes.count)
        let total = known + (sizes.isEmpty ? 0 : known / Int64(sizes.count) * Int64(unstarted))
        var parts = ["progress: \(done.count) of \(Self.count(max(disks, sizes.count), "disk")) done"]
        if total > 0 {
            parts.append(
                "\(min(100, Int(Double(read) / Double(total) * 100)))% of \(Self.bytes(total))\(unstarted > 0 ? " (estimated)" : "")")
        }
        if let rate = rate(at: now) {
            parts.append("\(Self.bytes(Int64(rate)))/s")
            if read < total, rate > 0 { parts.append("about \(Self.duration(Double(total - read) / rate)) left") }
        }
        return parts.joined(separator: ", ")
    }

    private mutating func sample(at time: Date) {
        let read = sizes.keys.reduce(Int64(0)) { $0 + min(offsets[$1] ?? 0, sizes[$1]!) }
        samples.append((time, read))
        while let first = samples.first, time.timeIntervalSince(first.at) > Self.rateWindow, samples.count > 2 { samples.removeFirst() }
    }

    /// Bytes per second over the recent samples, once they span a fifth of a second.
    private func rate(at now: Date) -> Double? {
        guard let first = samples.first, let last = samples.last else { return nil }
        let seconds = last.at.timeIntervalSince(first.at)
        guard seconds >= 0.2 else { return nil }
        return Double(last.bytes - first.bytes) / seconds
    }

    private func vmName(_ id: String) -> String { vmNames[id] ?? id }

    /// A task as people read it: `lab-vm-01/2000` (VM name and disk key).
    private func label(_ task: String) -> String {
        guard let slash = task.lastIndex(of: "/") else { return task }
        return vmName(String(task[..<slash])) + task[slash...]
    }

    static func count(_ number: Int, _ noun: String) -> String { "\(number) \(noun)\(number == 1 ? "" : "s")" }

    static func bytes(_ count: Int64) -> String {
        let value = Double(count)
        for (unit, factor) in [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)] where value >= factor {
            return String(format: "%.1f", value / factor) + " " + unit
        }
        return "\(count) B"
    }

    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded(.up))
        if whole < 60 { return "\(whole) s" }
        if whole < 3_600 { return "\(whole / 60) min \(whole % 60) s" }
        return "\(whole / 3_600) h \(whole % 3_600 / 60) min"
    }
}
