import Foundation
import Repository
import Synchronization
import Testing

@Suite("Saved progress of the disks of one restore point")
struct ProgressRaceTests {
    /// Two disks of one VM share the restore point's progress folder: one finishing (and
    /// removing the then-empty folder) while the other saves must not fail the other's save.
    @Test("a disk finishing never breaks its sibling's checkpoint")
    func siblingsDoNotRace() throws {
        let folder = try ImageMaker.scratchFolder("progress-race")
        defer { try? FileManager.default.removeItem(at: folder) }
        let repository = try BackupRepository.create(at: folder.appendingPathComponent("repo"))
        let rounds = 3_000
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            let disk = "disk-200\(worker)"
            var progress = DiskProgress(restorePoint: "vm-3-9320d0a5", disk: disk, diskSize: 1 << 20, blockSize: .default, source: "test")
            for round in 0..<rounds {
                do {
                    progress.bytesRead = Int64(round)
                    // Each disk's first checkpoint, then its end, over and over: one's end empties
                    // and removes the folder just as the other's first save needs it.
                    try repository.saveProgress(progress)
                    if round < rounds - 1 || worker == 0 { repository.clearProgress(restorePoint: progress.restorePoint, disk: disk) }
                } catch {
                    failures.withLock { $0.append("\(disk) round \(round): \(error)") }
                    return
                }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let kept = try #require(try repository.progress(restorePoint: "vm-3-9320d0a5", disk: "disk-2001"))
        #expect(kept.bytesRead == Int64(rounds - 1))
        #expect(try repository.progress(restorePoint: "vm-3-9320d0a5", disk: "disk-2000") == nil)
    }

    /// A process killed while saving progress leaves a `.tmp-` file beside the progress file.
    /// Clearing one disk must leave it (a sibling's write may own it), but the session's end
    /// and garbage collection, when nothing writes, must not leave the folder behind for ever.
    @Test("a write killed midway leaves a temporary file that the session's end and collection remove")
    func killedWriteLeftovers() throws {
        let folder = try ImageMaker.scratchFolder("progress-leftovers")
        defer { try? FileManager.default.removeItem(at: folder) }
        let repository = try BackupRepository.create(at: folder.appendingPathComponent("repo"))
        let inProgress = folder.appendingPathComponent("repo/in-progress").path
        func leaveKilledWrite(_ restorePoint: String) throws {
            let progress = DiskProgress(restorePoint: restorePoint, disk: "disk-2000", diskSize: 1 << 20, blockSize: .default, source: "t")
            try repository.saveProgress(progress)
            #expect(FileManager.default.createFile(atPath: "\(inProgress)/\(restorePoint)/.tmp-killed", contents: Data("{".utf8)))
        }
        try leaveKilledWrite("vm-1-aaaaaaaa")
        repository.clearProgress(restorePoint: "vm-1-aaaaaaaa", disk: "disk-2000")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(inProgress)/vm-1-aaaaaaaa") == [".tmp-killed"])
        try repository.dropProgress(restorePoint: "vm-1-aaaaaaaa")
        #expect(try FileManager.default.contentsOfDirectory(atPath: inProgress) == [])
        try repository.dropProgress(restorePoint: "vm-1-aaaaaaaa")

        try leaveKilledWrite("vm-2-bbbbbbbb")
        repository.clearProgress(restorePoint: "vm-2-bbbbbbbb", disk: "disk-2000")
        let report = try GarbageCollector(repository: repository).collect()
        #expect(report.deletedTemporaryFiles == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: inProgress) == [])

        #expect(throws: RepositoryError.self) { try repository.dropProgress(restorePoint: "../chunks") }
    }
}
