import Catalog
import EventStore
import Foundation
import WorkflowEvents

/// A restore's events as replay lines, decoded with the restore contract's types; nil for an
/// event that is not a restore's (or does not decode: the replay then lists its fields).
enum RestoreTimeline {
    static func describe(_ event: RecordedEvent, subject: String) -> String? {
        guard let kind = RestoreEvent.Kind(rawValue: event.type) else { return nil }
        let decoder = RestoreEvent.decoder()
        let data = Data(event.data.utf8)
        switch kind {
        case .requested:
            guard let requested = try? decoder.decode(RestoreEvent.Requested.self, from: data) else { return nil }
            let what = requested.vms.map { "\($0.vmName) (\($0.restorePointId))" }.joined(separator: ", ")
            let to =
                requested.target.map { "\($0.serverName) \($0.folderPath) on \($0.datastoreName)" }
                ?? requested.guestFiles.map { "\($0.folder) (\($0.paths.joined(separator: ", ")) from \($0.disk))" }
                ?? requested.vms.flatMap { $0.disks.compactMap(\.path) }.joined(separator: ", ")
            let actor = (try? event.metadata())?.actor ?? "?"
            return "restore (\(requested.what)) of \(what) to \(to), asked by \(actor)\(requested.reason.map { ": \($0)" } ?? "")"
        case .targetRequested:
            guard let intent = try? decoder.decode(RestoreEvent.TargetRequested.self, from: data) else { return nil }
            return "\(subject)create VM \(intent.name) (marked \(intent.annotation))"
        case .targetPrepared:
            guard let prepared = try? decoder.decode(RestoreEvent.TargetPrepared.self, from: data) else { return nil }
            return "\(subject)VM \(prepared.targetVmName) (\(prepared.targetVmId)) \(prepared.adopted ? "adopted" : "created")"
        case .diskStarted:
            guard let started = try? decoder.decode(RestoreEvent.DiskStarted.self, from: data) else { return nil }
            let mode = started.mode.map { " (\($0)\(started.areaBytes.map { ", \($0) bytes changed" } ?? ""))" } ?? ""
            return "\(subject)\(started.disk) (\(started.sizeBytes) bytes) to \(started.target)\(mode)"
        case .diskCheckpointed, .diskFinished:
            guard let progress = try? decoder.decode(RestoreEvent.DiskProgress.self, from: data) else { return nil }
            let what = kind == .diskFinished ? "\(progress.result?.rawValue ?? "done")" : "checkpoint"
            return
                "\(subject)\(what) at \(progress.offset), read \(progress.readBytes), wrote \(progress.writtenBytes), skipped \(progress.skippedBytes)\(progress.message.map { ": \($0)" } ?? "")"
        case .powerOnRequested, .poweredOn, .powerOffRequested, .poweredOff:
            guard let power = try? decoder.decode(RestoreEvent.Power.self, from: data) else { return nil }
            let words: [RestoreEvent.Kind: String] = [
                .powerOnRequested: "power on", .poweredOn: "powered on", .powerOffRequested: "power off", .poweredOff: "powered off",
            ]
            return "\(subject)\(words[kind] ?? kind.rawValue) \(power.targetVmId)"
        case .throttleApplied:
            guard let throttle = try? decoder.decode(RestoreEvent.ThrottleApplied.self, from: data) else { return nil }
            return
                "throttled by rule '\(throttle.ruleName)' to \(Rate.describe(throttle.bytesPerSecond)) (\(throttle.sessionsSharing) session\(throttle.sessionsSharing == 1 ? "" : "s") under it)"
        case .overlayApplied:
            guard let applied = try? decoder.decode(RestoreEvent.OverlayApplied.self, from: data) else { return nil }
            return
                "\(subject)wrote the publish overlay's \(applied.sectors) sectors (\(applied.bytes) bytes) from \(applied.overlay) over it"
        case .filesCopied:
            guard let copied = try? decoder.decode(RestoreEvent.FilesCopied.self, from: data) else { return nil }
            return
                "copied \(copied.files) files, \(copied.directories) folders, \(copied.links) links (\(copied.bytes) bytes; \(copied.storedBytes) bytes of chunks read)\(copied.skipped.isEmpty ? "" : ", \(copied.skipped.count) left out")"
        case .finished:
            guard let finished = try? decoder.decode(RestoreEvent.Finished.self, from: data) else { return nil }
            return "restore \(finished.result): bottleneck \(finished.bottleneck ?? "-")\(finished.reason.map { " (\($0))" } ?? "")"
        }
    }

    /// A restore task's state after the event, for `replay --at`.
    static func state(of event: RecordedEvent) -> String? {
        switch RestoreEvent.Kind(rawValue: event.type) {
        case .diskStarted?: return "started"
        case .diskCheckpointed?:
            return
                "writing, at \((try? RestoreEvent.decoder().decode(RestoreEvent.DiskProgress.self, from: Data(event.data.utf8)))?.offset ?? 0)"
        case .diskFinished?:
            return (try? RestoreEvent.decoder().decode(RestoreEvent.DiskProgress.self, from: Data(event.data.utf8)))?.result?.rawValue
                ?? "done"
        default: return nil
        }
    }
}
