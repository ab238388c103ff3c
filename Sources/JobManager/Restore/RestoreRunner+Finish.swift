import Foundation
import WorkflowEvents

extension RestoreRunner {
    /// `RestoreFinished` from the recorded disk ends (never from memory, so a resumed restore
    /// reports what an uninterrupted one would): bytes read, written and skipped, the duration
    /// since the request, the rate, the bottleneck of this run, and why it failed.
    func finish(
        _ requested: RestoreEvent.Requested, failures: [String], busy: RestoreDiskCopy.Busy, seconds: Double
    ) async throws
        -> RestoreReport
    {
        let state = await recorder.state
        let ends = state.disks.values.compactMap(\.progress)
        let read = ends.reduce(Int64(0)) { $0 + $1.readBytes } + (state.filesCopied?.blockBytes ?? 0)
        let written = ends.reduce(Int64(0)) { $0 + $1.writtenBytes } + (state.filesCopied?.bytes ?? 0)
        let skipped = ends.reduce(Int64(0)) { $0 + $1.skippedBytes }
        let duration = max(0.001, Date().timeIntervalSince(state.requestedAt ?? Date()))
        let wall = max(busy.parallelSeconds, seconds, 0.001)
        let shares = ["source": min(100, busy.source / wall * 100), "target": min(100, busy.target / wall * 100)].mapValues {
            ($0 * 10).rounded() / 10
        }
        // A VM is restored when every disk is in and, if asked, it was switched on.
        var notes = failures
        var failedVMs = Set<String>()
        for machine in requested.vms {
            if requested.what == .files {
                if state.filesCopied == nil { failedVMs.insert(machine.vmId) }
                continue
            }
            for disk in machine.disks {
                let progress = state.disks[RestoreState.taskID(vm: machine.vmId, key: disk.key)]?.progress
                guard progress?.result != .success else { continue }
                failedVMs.insert(machine.vmId)
                if let message = progress?.message { notes.append("\(machine.vmName) \(disk.disk): \(message)") }
            }
            if requested.target?.powerOn == true && !state.poweredOn.contains(machine.vmId) { failedVMs.insert(machine.vmId) }
            if notes.contains(where: { $0.hasPrefix(machine.vmName + ":") }) { failedVMs.insert(machine.vmId) }
        }
        let reason: String? =
            failedVMs.isEmpty && notes.isEmpty
            ? nil
            : requested.what == .files
                ? "files not restored: " + notes.joined(separator: "; ")
                : "\(failedVMs.count) of \(requested.vms.count) VM\(requested.vms.count == 1 ? "" : "s") not restored: "
                    + (notes.isEmpty ? requested.vms.filter { failedVMs.contains($0.vmId) }.map(\.vmName) : notes).joined(separator: "; ")
        let shortReason = reason.map { $0.count > 4_000 ? String($0.prefix(4_000)) + "…" : $0 }
        let finished = RestoreEvent.Finished(
            result: reason == nil ? .success : .failed, readBytes: read, writtenBytes: written, skippedBytes: skipped,
            durationSeconds: (duration * 1000).rounded() / 1000, bytesPerSecond: Int64(Double(written + skipped) / duration),
            busy: busy.source + busy.target > 0 ? shares : nil,
            bottleneck: busy.source + busy.target > 0 ? (busy.source >= busy.target ? "source" : "target") : nil, reason: shortReason)
        try await recorder.record(.finished, finished)
        logger.info("restore finished", metadata: ["result": "\(finished.result)", "reason": "\(shortReason ?? "")"])
        return await report(requested)
    }

    func report(_ requested: RestoreEvent.Requested) async -> RestoreReport {
        let state = await recorder.state
        return RestoreReport(
            restore: restore, what: requested.what,
            finished: state.finished
                ?? RestoreEvent.Finished(
                    result: .failed, readBytes: 0, writtenBytes: 0, skippedBytes: 0, durationSeconds: 0, bytesPerSecond: 0, busy: nil,
                    bottleneck: nil, reason: "not finished"),
            machines: requested.vms.map { machine in
                RestoreReport.Machine(
                    vmName: machine.vmName, restorePointId: machine.restorePointId,
                    target: state.targets[machine.vmId].map { "\($0.targetVmName) (\($0.targetVmId))" },
                    files: requested.guestFiles?.paths ?? machine.disks.compactMap(\.path),
                    poweredOn: state.poweredOn.contains(machine.vmId))
            }, events: state.version)
    }
}
