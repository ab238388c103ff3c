import ArgumentParser
import BlockingIO
import CommandLineSupport
import EventStore
import Ext4
import Foundation
import JobManager
import Logging
import Postgres
import WorkflowEvents

/// `tidemark bench files`: guest files read straight from the chunks — a recursive listing of
/// a tree of many files beside the same walk by libext2fs over the plain disk image, and one
/// 1 MiB file restored from a large disk with the chunk bytes it read beside the file's size.
struct BenchFilesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "files",
        abstract: "Guest files from the chunks: files list -R of many files, and the bytes one 1 MiB file's restore reads.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Files in the guest tree.") var files: Int = 100_000
    @Option(help: "The disk's size, in MiB.") var diskMib: Int = 4_096
    @Option(help: "The job's block size (256K to 8M).") var blockSize: String = "1M"
    @Option(help: "Where the lab, the repository and the files go (a temporary folder under it; default: the system's).")
    var folder: String?
    @Flag(help: "Print {\"cases\":[...]} instead of a table.") var json = false

    func validate() throws {
        guard (1_000...2_000_000).contains(files) else { throw ValidationError("--files must be between 1000 and 2000000, not \(files)") }
        guard (256...65_536).contains(diskMib) else { throw ValidationError("--disk-mib must be between 256 and 65536, not \(diskMib)") }
    }

    func run() async throws {
        var logger = try options.makeLogger()
        logger.logLevel = max(logger.logLevel, .error)
        let catalogDatabase = try CatalogDatabase(options: options, logger: logger)
        let bench = try await BenchDatabase.create(catalog: catalogDatabase, logger: logger)
        let store = EventStore(pool: PostgresPool(.init(settings: bench.service, maximumConnections: 8), logger: logger), logger: logger)
        let folder = URL(fileURLWithPath: self.folder ?? NSTemporaryDirectory()).appendingPathComponent(
            "tidemark-bench-files-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let (count, size) = (files, Int64(diskMib) << 20)
        try await withClosing(store) { store in
            let lab = try await BenchLabJob.make(in: folder, diskSize: size, blockSize: blockSize, indexGuestFiles: true, store: store)
            let tree = folder.appendingPathComponent("tree")
            var started = ContinuousClock.now
            try await BlockingIOPool.shared.run { () throws in try Self.makeTree(at: tree, files: count) }
            try await BlockingIOPool.shared.run { () throws in
                try lab.replaceDisk(vm: "lab-vm-01", key: 2000, withFileSystemOf: tree.path)
                try? FileManager.default.removeItem(at: tree)
            }
            let prepared = (ContinuousClock.now - started).seconds
            let settings = JobManagerSettings(checkpointBytes: 256 << 20)
            let jobs = JobManager(store: store, settings: settings, logger: logger)
            let full = try await Self.indexed(try await BenchLabJob.backUp(jobs), store)
            // A second backup of the unchanged tree: its index compares and stores nothing.
            let unchanged = try await Self.indexed(try await BenchLabJob.backUp(jobs), store)
            let indexBytes: Int64 = try await store.pool.query("SELECT pg_total_relation_size('guest_index.files')").decode(0, 0)
            let indexRows: Int64 = try await store.pool.query("SELECT count(*) FROM guest_index.files").decode(0, 0)

            // files list -R: every entry with its metadata, from the chunks.
            let volume = try await GuestDisks(store: store, settings: JobManagerSettings(), logger: logger).open(
                vm: "lab-vm-01", point: .latest, volume: GuestVolumeChoice())
            started = ContinuousClock.now
            let listed = try await BlockingIOPool.shared.run { () throws in try volume.entries(under: "/", recursive: true) }
            let listSeconds = (ContinuousClock.now - started).seconds
            // Reference: the same walk by libext2fs over the lab's disk image (page cache).
            let image = lab.root + "/disks/vm-1-2000.img"
            started = ContinuousClock.now
            let walked = try await BlockingIOPool.shared.run { () throws -> Int in
                let descriptor = open(image, O_RDONLY)
                guard descriptor >= 0 else { throw CommandFailure("cannot open \(image)") }
                defer { close(descriptor) }
                let plain = try Ext4FileSystem(size: size - (1 << 20)) { offset, buffer in
                    guard pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset + (1 << 20))) == buffer.count else {
                        throw CommandFailure("short read of \(image)")
                    }
                }
                var entries = 0
                try plain.walk(try plain.locate("/")) { located in
                    entries += 1
                    if located.metadata.kind == .symlink { _ = try plain.linkTarget(located.metadata.inode) }
                    return true
                }
                return entries
            }
            let walkSeconds = (ContinuousClock.now - started).seconds
            guard walked == listed.count else {
                throw CommandFailure("the listing found \(listed.count) entries, the plain walk \(walked)")
            }

            // One 1 MiB file restored as a restore session: the chunk bytes it read.
            let restores = RestoreManager(store: store, settings: settings, logger: logger)
            let target = folder.appendingPathComponent("restored").path
            started = ContinuousClock.now
            let restore = try await restores.request(
                RestoreOrder(
                    vms: ["lab-vm-01"], point: .latest,
                    destination: .guestFiles(paths: ["/data/one-mib.bin"], volume: GuestVolumeChoice(), folder: target, overwrite: false),
                    reason: "bench"), metadata: EventMetadata(actor: "bench"))
            let report = try await restores.run(restore: restore)
            let restoreSeconds = (ContinuousClock.now - started).seconds
            guard report.finished.result == .success else {
                throw CommandFailure("the file restore failed: \(report.finished.reason ?? "")")
            }
            let events = try await store.readStream(try StreamName(RestoreEvent.stream(of: restore)), limit: 100)
            guard let event = events.first(where: { $0.type == RestoreEvent.Kind.filesCopied.rawValue }) else {
                throw CommandFailure("the file restore recorded no copy")
            }
            let copied = try RestoreEvent.decoder().decode(RestoreEvent.FilesCopied.self, from: Data(event.data.utf8))
            let mib = 1_048_576.0
            let pathBytes = listed.reduce(0) { $0 + $1.path.utf8.count + 1 }
            BenchReport.print(
                [
                    BenchCase(name: "files list -R, \(listed.count) entries", value: listSeconds, unit: "s", reference: walkSeconds),
                    BenchCase(
                        name: "one 1 MiB file restored: chunk bytes read (stored)", value: Double(copied.storedBytes) / mib, unit: "MiB",
                        reference: Double(copied.bytes) / mib),
                    BenchCase(
                        name: "one 1 MiB file restored: disk blocks loaded", value: Double(copied.blockBytes) / mib, unit: "MiB",
                        reference: Double(copied.bytes) / mib),
                    BenchCase(name: "one 1 MiB file restored: time (a restore session)", value: restoreSeconds, unit: "s", reference: 0),
                    BenchCase(
                        name: "guest file index, first point: files per second", value: Double(full.files) / full.seconds, unit: "files/s",
                        reference: Double(walked) / walkSeconds),
                    BenchCase(
                        name: "guest file index, unchanged point: files per second", value: Double(unchanged.files) / unchanged.seconds,
                        unit: "files/s", reference: Double(walked) / walkSeconds),
                    BenchCase(
                        name: "guest file index size per million files", value: Double(indexBytes) / Double(max(indexRows, 1)) * 1e6 / 1e6,
                        unit: "MB", reference: Double(pathBytes) / Double(max(listed.count, 1)) * 1e6 / 1e6),
                ], json: json,
                notes: [
                    "guest tree: \(count) files of 0-200 bytes in folders of 1000, and /data/one-mib.bin (1 MiB of random bytes); ext4 by mke2fs -d on a \(diskMib) MiB disk (MBR, partition at 1 MiB), made in \(String(format: "%.1f", prepared)) s",
                    "job block size \(blockSize); listing: every entry with its metadata (and link targets) from the chunks; reference: the same walk by libext2fs over the lab's disk image in the page cache",
                    "restore: tidemark's restore session (plan, events, copy); reference: the file's own size",
                    "index: the session step (walk from the chunks, compare with the previous point's rows, COPY into guest_index), as GuestIndexFinished times it; reference: the plain walk's rate; size: guest_index.files with its indexes per row, beside the paths alone as text (one per line)",
                    "unchanged point: \(unchanged.added + unchanged.changed + unchanged.removed) rows written; \(indexRows) rows hold \(full.files + unchanged.files) indexed files",
                ])
        }
    }

    /// The session's `GuestIndexFinished`: files, seconds and what it wrote.
    static func indexed(_ session: String, _ store: EventStore) async throws -> SessionEvent.GuestIndexFinished {
        let events = try await store.readStream(try StreamName(SessionEvent.stream(of: session)), limit: 10_000)
        guard let event = events.last(where: { $0.type == SessionEvent.Kind.guestIndexFinished.rawValue }) else {
            throw CommandFailure("the bench session \(session) recorded no guest file index")
        }
        let finished = try JSONDecoder().decode(SessionEvent.GuestIndexFinished.self, from: Data(event.data.utf8))
        guard finished.result == .success else { throw CommandFailure("the guest file index warned: \(finished.message ?? "")") }
        return finished
    }

    /// `files` small files in folders of 1000, and one 1 MiB file of random bytes.
    static func makeTree(at root: URL, files: Int) throws {
        var generator = SystemRandomNumberGenerator()
        let manager = FileManager.default
        try manager.createDirectory(at: root.appendingPathComponent("data"), withIntermediateDirectories: true)
        let big = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try big.write(to: root.appendingPathComponent("data/one-mib.bin"))
        for index in 0..<files {
            let folder = root.appendingPathComponent(String(format: "tree/folder-%04d", index / 1_000))
            if index % 1_000 == 0 { try manager.createDirectory(at: folder, withIntermediateDirectories: true) }
            let text = String(repeating: "line \(index)\n", count: index % 20)
            guard
                manager.createFile(
                    atPath: folder.appendingPathComponent(String(format: "file-%06d.txt", index)).path, contents: Data(text.utf8))
            else { throw CommandFailure("cannot write the bench's guest tree in \(folder.path)") }
        }
    }
}
