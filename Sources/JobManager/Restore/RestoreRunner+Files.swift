import BlockingIO
import Foundation
import WorkflowEvents

extension RestoreRunner {
    /// A file restore's one step: the guest file system opened from the chunks, the paths
    /// copied into the folder, `RestoreFilesCopied` with what was written and what reading it
    /// cost. Done once; a run that died midway copies again over what it had written (the
    /// folder was checked empty, or allowed to be written over, when the restore was asked).
    func restoreGuestFiles(_ requested: RestoreEvent.Requested, busy: inout RestoreDiskCopy.Busy) async throws {
        guard await recorder.state.filesCopied == nil else { return }
        guard let selection = requested.guestFiles, let machine = requested.vms.first else {
            throw RestoreError(.invalidRequest, "the file restore \(restore) names no files (its request is damaged)")
        }
        let started = ContinuousClock.now
        let volume = try await GuestDisks(store: manager.store, settings: manager.settings, logger: logger).open(
            vm: machine.vmId, point: .id(machine.restorePointId),
            volume: GuestVolumeChoice(disk: selection.disk, partition: selection.partition))
        let summary = try await BlockingIOPool.shared.run { () throws -> GuestFileCopy.Summary in
            var copy = GuestFileCopy(fileSystem: volume.fileSystem, folder: selection.folder, overwrite: true)
            try copy.copy(selection.paths)
            return copy.summary
        }
        let loaded = volume.bytesLoaded
        let copied = RestoreEvent.FilesCopied(
            files: summary.files, directories: summary.directories, links: summary.links, bytes: summary.bytes,
            skipped: Array(summary.skipped.prefix(100)), ownersKept: summary.ownersKept, blockBytes: loaded.blocks,
            storedBytes: loaded.stored)
        try await recorder.record(.filesCopied, copied)
        let seconds = RestoreDiskCopy.seconds(ContinuousClock.now - started)
        busy.source += seconds
        busy.parallelSeconds += seconds
        logger.info(
            "files restored",
            metadata: [
                "files": "\(summary.files)", "bytes": "\(summary.bytes)", "folder": "\(selection.folder)",
                "stored_bytes_read": "\(loaded.stored)",
            ])
    }
}
