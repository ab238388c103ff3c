import BlockingIO
import DataMover
import Foundation
import Infrastructure
import Repository
import WorkflowEvents

extension RestoreRunner {
    /// One disk: `RestoreDiskStarted`, the copy with its checkpoints, `RestoreDiskFinished`
    /// (success, or failed with the reason). Returns the busy time it spent.
    func restoreDisk(
        _ disk: RestoreEvent.Disk, task: String, machine: RestoreEvent.Machine, requested: RestoreEvent.Requested,
        repository: any RepositoryStore, target: (any VMRestoring)?, prepared: RestoreEvent.TargetPrepared?,
        throttle: TokenBucket?
    ) async throws -> RestoreDiskCopy.Busy {
        let known = await recorder.state.disks[task]
        let targetKey = disk.targetKey ?? disk.key
        let description = disk.path ?? "\(prepared?.targetVmName ?? "?") (\(prepared?.targetVmId ?? "?")) disk \(targetKey)"
        // Over an existing VM only what differs is written: what changed since the point when
        // the target can tell (asked once, recorded), else every block compared.
        var areas: [DiskArea]?
        if let target, let existing = machine.overwriteVmId, let changeID = machine.changeId {
            areas = try await target.writtenSince(vm: existing, diskKey: targetKey, changeID: changeID)
        }
        let mode = machine.overwriteVmId == nil ? "full" : areas == nil ? "compare" : "changed"
        if known?.started == nil {
            try await recorder.record(
                .diskStarted,
                RestoreEvent.DiskStarted(
                    taskId: task, vmId: machine.vmId, disk: disk.disk, sizeBytes: disk.sizeBytes, target: description, mode: mode,
                    areaBytes: areas.map { ChangedAreas($0).bytes }))
        }
        var last = known?.progress ?? RestoreEvent.DiskProgress(taskId: task, offset: 0, readBytes: 0, writtenBytes: 0, skippedBytes: 0)
        do {
            let manifest = try await BlockingIOPool.shared.run { () throws(RepositoryError) in
                try repository.manifest(restorePoint: machine.restorePointId, disk: disk.disk)
            }
            if let path = disk.path, known?.started != nil,
                try await adoptMovedFile(path, manifest: manifest, repository: repository, task: task, replace: requested.replace ?? false)
            {
                return RestoreDiskCopy.Busy()
            }
            let sink: any BlockSink
            if let path = disk.path {
                sink = try await FileDiskSink.open(
                    destination: path, restore: restore, size: manifest.diskSize, sparse: requested.raw != true,
                    replace: requested.replace ?? false,
                    continuing: known?.started != nil)
            } else if let target, let prepared {
                sink = try await target.openDiskForWriting(vm: prepared.targetVmId, diskKey: targetKey)
            } else {
                throw RestoreError(.invalidRequest, "disk \(disk.disk) of \(machine.vmName) has nowhere to go")
            }
            guard sink.size == manifest.diskSize else {
                throw RestoreError(
                    .invalidRequest,
                    "\(description) holds \(sink.size) bytes, the restore point's \(disk.disk) \(manifest.diskSize): nothing written")
            }
            let copy = RestoreDiskCopy(
                manifest: manifest, repository: repository, sink: sink, taskID: task,
                checkpointInterval: manager.settings.checkpointInterval, checkpointBytes: manager.settings.checkpointBytes,
                compare: machine.overwriteVmId != nil, areas: areas, throttle: throttle)
            let recorder = recorder
            let (progress, busy) = try await copy.run(from: known?.progress) { progress in
                try await recorder.record(.diskCheckpointed, progress)
            }
            last = progress
            last.result = .success
            try await recorder.record(.diskFinished, last)
            logger.info(
                "disk restored",
                metadata: [
                    "vm": "\(machine.vmName)", "disk": "\(disk.disk)", "to": "\(description)", "written": "\(progress.writtenBytes)",
                ])
            return busy
        } catch let error where Self.isFinal(error) {
            if let checkpointed = await recorder.state.disks[task]?.progress { last = checkpointed }
            last.result = .failed
            last.message = await recorder.clean("\(error)")
            try await recorder.record(.diskFinished, last)
            logger.error(
                "disk not restored", metadata: ["vm": "\(machine.vmName)", "disk": "\(disk.disk)", "error": "\(last.message ?? "")"])
            return RestoreDiskCopy.Busy()
        }
    }

    /// A crashed run may have moved the file into place before it could record the end: then
    /// the hidden file is gone and the destination holds the restore point's disk (every
    /// block compared). Recorded as finished; false when there is nothing to adopt. A
    /// destination that is not this copy is refused, unless the restore may replace it (then
    /// the copy is made again).
    private func adoptMovedFile(
        _ path: String, manifest: DiskManifest, repository: any RepositoryStore, task: String, replace: Bool
    )
        async throws -> Bool
    {
        let restore = restore
        guard await BlockingIOPool.shared.run({ FileDiskSink.movedAlready(destination: path, restore: restore) }) else { return false }
        if try await Self.fileMatches(path, manifest: manifest, repository: repository) {
            try await recorder.record(.diskFinished, Self.figures(of: manifest, task: task))
            return true
        }
        guard replace else { throw RestoreError(.targetExists, "\(path) exists and is not this restore's copy of \(manifest.disk)") }
        return false
    }

    /// The figures of a whole copy of `manifest`: every stored block read and written, zeros skipped.
    static func figures(of manifest: DiskManifest, task: String) -> RestoreEvent.DiskProgress {
        var stored: Int64 = 0
        for index in manifest.blocks.indices where manifest.blocks[index] != nil { stored += Int64(manifest.length(ofBlock: index)) }
        return RestoreEvent.DiskProgress(
            taskId: task, offset: manifest.diskSize, readBytes: stored, writtenBytes: stored, skippedBytes: manifest.diskSize - stored,
            result: .success)
    }

    /// Whether the file holds exactly the restore point's disk (every block's name compared).
    static func fileMatches(_ path: String, manifest: DiskManifest, repository: any RepositoryStore) async throws -> Bool {
        try await BlockingIOPool.shared.run { () throws -> Bool in
            let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard descriptor >= 0 else { return false }
            defer { close(descriptor) }
            var info = stat()
            guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, Int64(info.st_size) == manifest.diskSize else {
                return false
            }
            var buffer = [UInt8](repeating: 0, count: manifest.blockSize.bytes)
            for index in manifest.blocks.indices {
                let length = manifest.length(ofBlock: index)
                let read = buffer.withUnsafeMutableBytes {
                    pread(descriptor, $0.baseAddress, length, off_t(index) * off_t(manifest.blockSize.bytes))
                }
                guard read == length else { return false }
                let name = try buffer.withUnsafeBytes { bytes throws(RepositoryError) in
                    try repository.chunks.identify(UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
                }
                guard name == manifest.blocks[index] else { return false }
            }
            return true
        }
    }
}
