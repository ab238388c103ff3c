import ArgumentParser
import Catalog
import CommandLineSupport
import DataMover
import Foundation
import Infrastructure
import Repository

struct RepositoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repository",
        abstract: "Define repositories in the catalog; create, fill and check a repository folder (deduplicated, compressed chunks).",
        subcommands: [
            AddObject<RepositoryOptions>.self, UpdateObject<RepositoryOptions>.self, RemoveObject<RepositoryDefinition>.self,
            ListObjects<RepositoryDefinition>.self,
            ShowObject<RepositoryDefinition>.self, Create.self, GenerateKey.self, BackupImage.self, Verify.self, Prune.self,
            RepositoryCheckCommand.self, RepositoryServeCommand.self,
        ]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a repository in an empty or new folder.")
        @Argument(help: "The repository's folder.") var path: String
        @Option(help: "zstd level for new chunks, 1 to 19.") var compressionLevel: Int32 = 3
        @OptionGroup var key: KeyOption

        func run() throws {
            let repository = try BackupRepository.create(
                at: URL(fileURLWithPath: path), compressionLevel: compressionLevel, key: try key.load())
            print("created \(repository.isEncrypted ? "encrypted (AES-256-GCM) " : "")repository \(repository.root.path)")
        }
    }

    struct GenerateKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate-key",
            abstract:
                "Write a new random repository key to a new file (mode 0600). Keep it apart from the repository: without it nothing restores."
        )
        @Argument(help: "The key file to create.") var path: String

        func run() throws {
            let key = try RepositoryKey.generate(at: path)
            print("wrote a new key to \(path) (fingerprint \(key.fingerprint))")
        }
    }

    struct BackupImage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "backup-image",
            abstract: "Back up a raw disk image file as one disk of a restore point.")
        @Option(help: "The repository's folder.") var repository: String
        @Option(help: "The raw disk image to read.") var image: String
        @Option(name: .customLong("restore-point"), help: "The restore point's id (letters, digits, '.', '_', '-').")
        var restorePoint: String
        @Option(help: "The disk's name within the restore point.") var disk: String
        @Option(name: .customLong("block-size"), help: "256K to 8M, a power of two.") var blockSize: String = "1M"
        @Option(help: "zstd level for new chunks, 1 to 19.") var compressionLevel: Int32 = 3
        @Option(name: .customLong("limit-mbps"), help: "Throttle writes to this many megabytes per second.")
        var limitMegabytesPerSecond: Double?
        @OptionGroup var key: KeyOption

        func validate() throws {
            if let limitMegabytesPerSecond, limitMegabytesPerSecond < 0.1 {
                throw ValidationError("--limit-mbps must be at least 0.1, not \(limitMegabytesPerSecond)")
            }
        }

        func run() async throws {
            let size = try BlockSize(parsing: blockSize)
            let store = try BackupRepository.open(
                at: URL(fileURLWithPath: repository), compressionLevel: compressionLevel, key: try key.load())
            var transfer = DiskTransfer(
                repository: store, restorePoint: restorePoint, disk: disk, source: try ImageFileSource(path: image),
                blockSize: size)
            transfer.throttle = limitMegabytesPerSecond.map { TokenBucket(bytesPerSecond: $0 * 1e6) }
            let outcome = try await transfer.run { progress in
                print(
                    "  checkpoint: offset \(progress.offset), read \(megabytes(progress.bytesRead)) MB, stored \(megabytes(progress.bytesTransferred)) MB"
                )
            }
            let times = outcome.stageTimes
            print(
                """
                restore point \(restorePoint), disk \(disk): \(outcome.manifest.blocks.count) blocks of \(size), \
                \(outcome.zeroBlocks) zero, \(outcome.progress.newChunks) new chunks\(outcome.resumedBlocks > 0 ? ", resumed after \(outcome.resumedBlocks) blocks" : "")
                read \(megabytes(outcome.progress.bytesRead)) MB, stored \(megabytes(outcome.progress.bytesTransferred)) MB, \
                \(String(format: "%.0f", Double(outcome.manifest.diskSize) / 1e6 / max(outcome.wallSeconds, 0.001))) MB/s
                busy seconds: source \(String(format: "%.2f", times.source)), proxy \(String(format: "%.2f", times.proxy)), \
                network \(String(format: "%.2f", times.network)), target \(String(format: "%.2f", times.target)); bottleneck: \(times.bottleneck)
                """)
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-read and re-hash every chunk of one or all restore points; exit 1 if any is missing or corrupt.")
        @Option(help: "The repository's folder.") var repository: String
        @Option(name: .customLong("restore-point"), help: "Check only this restore point.") var restorePoint: String?
        @Flag(help: "Move corrupt chunks to quarantine/ so the next backup of the same data stores them again (needs no backup running).")
        var quarantine = false
        @OptionGroup var key: KeyOption

        func run() throws {
            let store = try BackupRepository.open(at: URL(fileURLWithPath: repository), key: try key.load())
            let report = try RepositoryVerifier(repository: store).verify(
                restorePoints: restorePoint.map { [$0] }, quarantine: quarantine)
            for problem in report.problems { print(problem) }
            if !report.quarantined.isEmpty {
                print("quarantined \(report.quarantined.count) corrupt chunk(s); the next backup that meets their data stores them again")
            }
            print(
                "checked \(report.restorePoints) restore point(s), \(report.disks) disk(s), \(report.chunksChecked) chunk(s): "
                    + (report.isClean ? "all good" : "\(report.problems.count) problem(s)"))
            if !report.isClean { throw ExitCode(1) }
        }
    }
}

extension RepositoryCommand {
    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete the restore points a retention policy does not keep, then the chunks nothing references.",
            discussion: "Runs only while no backup or restore uses the repository (they hold its shared lock).")
        @Option(help: "The repository's folder.") var repository: String
        @Option(name: .customLong("keep-last"), help: "Keep the newest N restore points (3 or more).") var keepLast: Int?
        @Option(name: .customLong("keep-days"), help: "Keep the restore points of the last N days.") var keepDays: Int?
        @Flag(help: "Only collect unreferenced chunks; delete no restore point.") var gcOnly = false
        @Option(help: "Apply the policy only to restore points whose id starts with this (one job's or VM's).")
        var prefix: String = ""
        @Flag(
            name: .customLong("whole-repository"),
            help: "Apply the policy to all restore points together instead of to each VM's chain on its own (the default).")
        var wholeRepository = false
        @Flag(
            name: .customLong("allow-removing-last"),
            help: "Let the policy remove a VM's last restore point (never done without this flag).")
        var allowRemovingLast = false
        @Flag(name: .customLong("dry-run"), help: "List what would be deleted and delete nothing.") var dryRun = false
        @Option(
            name: .customLong("drop-progress-older-than"),
            help: "Also drop saved progress of transfers interrupted this many days ago or more (they start over), freeing their chunks.")
        var dropProgressDays: Double?

        func validate() throws {
            if let dropProgressDays, dropProgressDays < 0 {
                throw ValidationError("--drop-progress-older-than must be 0 or more days, not \(dropProgressDays)")
            }
            let policies = [keepLast != nil, keepDays != nil].filter { $0 }.count
            if gcOnly ? policies != 0 : policies != 1 {
                throw ValidationError("give exactly one of --keep-last N and --keep-days N, or --gc-only")
            }
            if gcOnly && dryRun {
                throw ValidationError("--dry-run lists what a retention policy would delete: give --keep-last N or --keep-days N")
            }
        }

        func run() throws {
            let store = try BackupRepository.open(at: URL(fileURLWithPath: repository))
            if !gcOnly {
                let policy: RetentionPolicy = keepLast.map { .restorePoints($0) } ?? .days(keepDays ?? 0)
                let scope = wholeRepository ? "\(policy) of the whole repository" : "\(policy) of each VM"
                if dryRun {
                    let plan = try store.retentionPlan(
                        policy, prefix: prefix, wholeRepository: wholeRepository, removingLast: allowRemovingLast)
                    print(plan.isEmpty ? "retention (\(scope)) would delete nothing" : "retention (\(scope)) would delete:")
                    let formatter = ISO8601DateFormatter()
                    for candidate in plan {
                        print(
                            "  \(candidate.restorePoint)  (chain \(candidate.chain), made \(formatter.string(from: candidate.createdAt)))")
                    }
                    return
                }
                let deleted = try store.applyRetention(
                    policy, prefix: prefix, wholeRepository: wholeRepository, removingLast: allowRemovingLast)
                print(
                    deleted.isEmpty
                        ? "retention (\(scope)): nothing to delete" : "retention (\(scope)) deleted: \(deleted.joined(separator: ", "))")
            }
            let report = try GarbageCollector(repository: store).collect(dropProgressOlderThan: dropProgressDays.map { $0 * 86_400 })
            if report.droppedProgress > 0 { print("dropped the saved progress of \(report.droppedProgress) interrupted transfer(s)") }
            print(
                "garbage collection: \(report.deletedChunks) chunk(s) deleted, \(megabytes(report.freedBytes)) MB freed, \(report.referencedChunks) referenced chunk(s) kept"
            )
        }
    }
}

func megabytes(_ bytes: Int64) -> String {
    String(format: "%.1f", Double(bytes) / 1e6)
}

/// `--key-file` for encrypted repositories.
struct KeyOption: ParsableArguments {
    @Option(name: .customLong("key-file"), help: "The repository's key file (encrypted repositories).")
    var keyFile: String?

    func load() throws -> RepositoryKey? {
        try keyFile.map { try RepositoryKey(contentsOf: $0) }
    }
}
