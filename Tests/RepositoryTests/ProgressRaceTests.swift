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
}
