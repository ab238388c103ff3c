import EventStore
import Foundation
import WorkflowEvents

/// A restore's stream folded: what was asked, which VMs were created, how far each disk got,
/// which VMs were switched on. The restore runner decides every step from it, so a restore
/// run again after a crash continues where its stream stops.
struct RestoreState: Sendable {
    struct Disk: Sendable {
        var started: RestoreEvent.DiskStarted?
        /// The last checkpoint's figures, or the finish's.
        var progress: RestoreEvent.DiskProgress?
        var finished: Bool = false
    }

    private(set) var requested: RestoreEvent.Requested?
    private(set) var requestedAt: Date?
    private(set) var version: Int64 = 0
    /// By source VM id.
    private(set) var targetsRequested: [String: RestoreEvent.TargetRequested] = [:]
    private(set) var targets: [String: RestoreEvent.TargetPrepared] = [:]
    /// By task id (`<vm id>/<disk key>`).
    private(set) var disks: [String: Disk] = [:]
    private(set) var powerOnRequested: Set<String> = []
    private(set) var poweredOn: Set<String> = []
    private(set) var powerOffRequested: Set<String> = []
    private(set) var poweredOff: Set<String> = []
    /// The last run's throttle, if a rule applied.
    private(set) var throttle: RestoreEvent.ThrottleApplied?
    private(set) var filesCopied: RestoreEvent.FilesCopied?
    private(set) var overlaysApplied: Set<String> = []
    private(set) var finished: RestoreEvent.Finished?

    init() {}

    init(events: [RecordedEvent]) {
        for event in events { apply(type: event.type, data: event.data, version: event.streamVersion, at: event.recordedAt) }
    }

    static func taskID(vm: String, key: Int) -> String { "\(vm)/\(key)" }

    mutating func apply(type: String, data: String, version: Int64, at time: Date? = nil) {
        self.version = version
        guard let kind = RestoreEvent.Kind(rawValue: type) else { return }
        func decode<T: Decodable>(_ type: T.Type) -> T? { try? RestoreEvent.decoder().decode(type, from: Data(data.utf8)) }
        switch kind {
        case .requested:
            requested = decode(RestoreEvent.Requested.self)
            requestedAt = time ?? requestedAt ?? Date()
        case .targetRequested:
            if let event = decode(RestoreEvent.TargetRequested.self) { targetsRequested[event.vmId] = event }
        case .targetPrepared:
            if let event = decode(RestoreEvent.TargetPrepared.self) { targets[event.vmId] = event }
        case .diskStarted:
            if let event = decode(RestoreEvent.DiskStarted.self) { disks[event.taskId, default: Disk()].started = event }
        case .diskCheckpointed:
            if let event = decode(RestoreEvent.DiskProgress.self) { disks[event.taskId, default: Disk()].progress = event }
        case .diskFinished:
            if let event = decode(RestoreEvent.DiskProgress.self) {
                disks[event.taskId, default: Disk()].progress = event
                disks[event.taskId, default: Disk()].finished = true
            }
        case .powerOnRequested:
            if let event = decode(RestoreEvent.Power.self) { powerOnRequested.insert(event.vmId) }
        case .poweredOn:
            if let event = decode(RestoreEvent.Power.self) { poweredOn.insert(event.vmId) }
        case .powerOffRequested:
            if let event = decode(RestoreEvent.Power.self) { powerOffRequested.insert(event.vmId) }
        case .poweredOff:
            if let event = decode(RestoreEvent.Power.self) { poweredOff.insert(event.vmId) }
        case .throttleApplied:
            throttle = decode(RestoreEvent.ThrottleApplied.self)
        case .filesCopied:
            filesCopied = decode(RestoreEvent.FilesCopied.self)
        case .overlayApplied:
            if let event = decode(RestoreEvent.OverlayApplied.self) { overlaysApplied.insert(event.taskId) }
        case .finished:
            finished = decode(RestoreEvent.Finished.self)
        }
    }
}
