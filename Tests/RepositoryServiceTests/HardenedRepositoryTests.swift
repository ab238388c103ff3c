import Foundation
import Repository
import RepositoryService
import Synchronization
import Testing

/// The repository service's rules, decided on its host whatever a request says: chunks
/// checked against their names, manifests only over chunks held and never replaced, restore
/// points immutable for the setting's days, garbage collection that keeps what is named or
/// young, and a journal of every write and refusal that notices an edit.
@Suite("Repository service: immutability, checks and journal")
struct HardenedRepositoryTests {
    /// A clock a test moves.
    final class TestClock: Sendable {
        let now = Mutex(Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)))
        func advance(days: Double) { now.withLock { $0 = $0.addingTimeInterval(days * 86_400) } }
        var read: @Sendable () -> Date { { [self] in now.withLock { $0 } } }
    }

    /// A scratch folder, and blocks made into chunk files by an ordinary repository (as a
    /// backup server's data mover makes them).
    struct Fixture {
        let folder: URL
        let source: BackupRepository
        let clock = TestClock()

        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("hardened-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            source = try BackupRepository.create(at: folder.appendingPathComponent("source"))
        }

        func service(days: Int? = nil) throws -> HardenedRepository {
            try HardenedRepository(root: folder.appendingPathComponent("service"), immutableDays: days, clock: clock.read)
        }

        /// A block of `byte`s stored in the source: its name and its chunk file.
        func chunk(_ byte: UInt8, size: Int = 4_096) throws -> (name: String, file: [UInt8]) {
            let block = [UInt8](repeating: byte, count: size)
            let id = try #require(try block.withUnsafeBytes { try source.chunks.store($0) }.chunk)
            return (id.hex, try #require(try DurableFile.read(source.chunks.path(of: id))))
        }

        func manifest(_ point: String, chunks: [String], disk: String = "disk-2000") throws -> [UInt8] {
            let blocks = try chunks.map { try #require(ChunkID(hex: $0)) }
            let manifest = try DiskManifest(
                restorePoint: point, disk: disk, diskSize: Int64(blocks.count * 262_144), blockSize: try BlockSize(bytes: 262_144),
                blocks: blocks)
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            return Array(try encoder.encode(manifest))
        }

        func cleanUp() { try? FileManager.default.removeItem(at: folder) }
    }

    @Test("chunks are checked against their names, manifests need their chunks and are never replaced; each refusal is journaled")
    func writes() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let service = try fixture.service(days: 14)
        let (a, aFile) = try fixture.chunk(1)
        let (b, bFile) = try fixture.chunk(2)
        #expect(try service.missing([a, b]) == [a, b])
        #expect(try service.putChunk(a, file: aFile, actor: "tmr_test0000", client: "10.0.0.1"))
        #expect(try !service.putChunk(a, file: aFile, actor: "tmr_test0000", client: "10.0.0.1"), "held already: kept as it is")
        #expect(try service.missing([a, b]) == [b])

        // Another chunk's bytes under b's name, and bytes that are no chunk file at all.
        let mismatch = try #require(throws: RepositoryServiceError.self) {
            try service.putChunk(b, file: aFile, actor: "tmr_test0000", client: "10.0.0.1")
        }
        #expect(mismatch.code == .mismatch && mismatch.httpStatus == 422 && mismatch.message.contains("does not match its name"))
        #expect(throws: RepositoryServiceError.self) { try service.putChunk(b, file: [1, 2, 3], actor: "tmr_test0000", client: nil) }
        #expect(throws: RepositoryServiceError.self) { try service.missing(["../../etc/passwd"]) }
        #expect(try service.missing([b]) == [b], "nothing was kept under b's name")

        let manifest = try fixture.manifest("vm-1-aaaa", chunks: [a, b])
        let early = try #require(throws: RepositoryServiceError.self) {
            try service.putManifest(point: "vm-1-aaaa", disk: "disk-2000", body: manifest, actor: "tmr_test0000", client: nil)
        }
        #expect(early.code == .conflict && early.message.contains("1 chunks the service does not hold"), "\(early.message)")
        #expect(try service.points().isEmpty)
        try service.putChunk(b, file: bFile, actor: "tmr_test0000", client: nil)
        let record = try service.putManifest(point: "vm-1-aaaa", disk: "disk-2000", body: manifest, actor: "tmr_test0000", client: nil)
        #expect(record.immutableUntil == fixture.clock.read().addingTimeInterval(14 * 86_400))
        #expect(
            try service.putManifest(point: "vm-1-aaaa", disk: "disk-2000", body: manifest, actor: "tmr_test0000", client: nil) == record)
        // The same disk from a client that lost the answer, or resumed after a crash: a new
        // time and log head, the same blocks. Answered with the record; the kept one stays.
        let resent = try DiskManifest(
            restorePoint: "vm-1-aaaa", disk: "disk-2000", diskSize: 2 * 262_144, blockSize: try BlockSize(bytes: 262_144),
            blocks: [ChunkID(hex: a), ChunkID(hex: b)], createdAt: Date().addingTimeInterval(3_600),
            logHead: DiskManifest.LogHead(position: 9, hash: String(repeating: "ab", count: 32)))
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        #expect(
            try service.putManifest(
                point: "vm-1-aaaa", disk: "disk-2000", body: Array(try encoder.encode(resent)), actor: "tmr_test0000", client: nil)
                == record)
        #expect(try service.manifest(point: "vm-1-aaaa", disk: "disk-2000").logHead == nil)
        // A chunk a power cut left torn is not held: asked about, it is missing; sent, it is replaced.
        let aPath = service.repository.chunks.path(of: try #require(ChunkID(hex: a)))
        #expect(truncate(aPath, 5) == 0)
        #expect(try service.missing([a, b]) == [a])
        #expect(try service.putChunk(a, file: aFile, actor: "tmr_test0000", client: nil), "the torn file is replaced")
        #expect(try service.missing([a, b]).isEmpty)
        let other = try fixture.manifest("vm-1-aaaa", chunks: [b, a])
        let overwrite = try #require(throws: RepositoryServiceError.self) {
            try service.putManifest(point: "vm-1-aaaa", disk: "disk-2000", body: other, actor: "tmr_test0000", client: nil)
        }
        #expect(overwrite.code == .immutable && overwrite.httpStatus == 403)
        #expect(try service.manifest(point: "vm-1-aaaa", disk: "disk-2000").blocks.map { $0?.hex } == [a, b])
        let wrongPlace = try #require(throws: RepositoryServiceError.self) {
            try service.putManifest(point: "vm-2-bbbb", disk: "disk-2000", body: manifest, actor: "tmr_test0000", client: nil)
        }
        #expect(wrongPlace.code == .invalidInput)

        let refusals = try service.journal.entries().filter { $0.outcome == "refused" }.map(\.action)
        #expect(refusals == ["chunk.put", "chunk.put", "manifest.put", "manifest.put"], "\(refusals)")
        #expect(try service.journal.verify() > 0)
    }

    @Test(
        "an immutable point cannot be deleted nor collected whatever the token; after its days it can; a shorter setting is for new points")
    func immutability() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        var service: HardenedRepository! = try fixture.service(days: 7)
        let (a, aFile) = try fixture.chunk(3)
        let (loose, looseFile) = try fixture.chunk(4)
        try service.putChunk(a, file: aFile, actor: "tmr_test0000", client: nil)
        try service.putChunk(loose, file: looseFile, actor: "tmr_test0000", client: nil)
        try service.putManifest(
            point: "vm-1-old", disk: "disk-2000", body: try fixture.manifest("vm-1-old", chunks: [a]), actor: "x", client: nil)

        let refused = try #require(throws: RepositoryServiceError.self) {
            try service.deletePoint("vm-1-old", actor: "tmr_test0000", client: "10.0.0.1")
        }
        #expect(refused.code == .immutable && refused.message.contains("immutable until"), "\(refused.message)")
        // Collection keeps the point's chunk, and the loose chunk while it is young.
        var report = try service.collectGarbage(actor: "tmr_test0000", client: nil)
        #expect(report.deletedChunks == 0 && report.referencedChunks == 1)
        fixture.clock.advance(days: 2)
        // The loose chunk's file time is the real clock's: make it old on disk.
        let loosePath = service.repository.chunks.path(of: try #require(ChunkID(hex: loose)))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3 * 86_400)], ofItemAtPath: loosePath)
        report = try service.collectGarbage(actor: "tmr_test0000", client: nil)
        #expect(try report.deletedChunks == 1 && service.missing([a, loose]) == [loose])
        #expect(throws: RepositoryServiceError.self) { try service.deletePoint("vm-1-old", actor: "tmr_test0000", client: nil) }

        // The host's administrator shortens the setting: new points only.
        service = nil  // one process (here: one instance) at a time
        service = try fixture.service(days: 0)
        try service.putManifest(
            point: "vm-1-new", disk: "disk-2000", body: try fixture.manifest("vm-1-new", chunks: [a]), actor: "x", client: nil)
        try service.deletePoint("vm-1-new", actor: "tmr_test0000", client: nil)
        #expect(throws: RepositoryServiceError.self) { try service.deletePoint("vm-1-old", actor: "tmr_test0000", client: nil) }
        fixture.clock.advance(days: 5.5)
        try service.deletePoint("vm-1-old", actor: "tmr_test0000", client: nil)
        #expect(try service.points().isEmpty)
        let missing = try #require(throws: RepositoryServiceError.self) { try service.deletePoint("vm-1-old", actor: "x", client: nil) }
        #expect(missing.code == .notFound)

        let entries = try service.journal.entries()
        #expect(
            entries.filter { $0.action == "settings" }.map(\.reason) == [
                "from none to 7 days, for new restore points", "from 7 to 0 days, for new restore points",
            ])
        #expect(
            entries.filter { $0.action == "point.delete" }.map(\.outcome) == [
                "refused", "refused", "started", "done", "refused", "started", "done",
            ])
        #expect(entries.filter { $0.action == "manifest.put" && $0.outcome != "refused" }.count.isMultiple(of: 2))
    }

    @Test("a signed request is good once, also after the service restarts; its nonce is forgotten only when its date is stale anyway")
    func noncesOutliveARestart() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let now = fixture.clock.read()
        var token = ""
        var header = ""
        do {
            let service = try fixture.service(days: 1)
            token = try service.issueToken(label: "backup-1")
            header = RequestSignature.header(token: token, method: "GET", path: "/v1/status", body: [UInt8](), date: now)
            #expect(try service.authenticate(header: header, method: "GET", path: "/v1/status", body: [UInt8](), client: "10.0.0.1") != "")
            #expect(throws: RepositoryServiceError.self) {
                try service.authenticate(header: header, method: "GET", path: "/v1/status", body: [UInt8](), client: "10.0.0.1")
            }
        }
        // A new process on the same folder (the first one's lock is gone with it).
        do {
            let restarted = try fixture.service()
            do {
                _ = try restarted.authenticate(header: header, method: "GET", path: "/v1/status", body: [UInt8](), client: "10.0.0.1")
                Issue.record("a request replayed after a restart was let through")
            } catch {
                #expect(error.code == .unauthorized && error.message.contains("replayed"), "\(error)")
            }
            let fresh = RequestSignature.header(token: token, method: "GET", path: "/v1/status", body: [UInt8](), date: now)
            #expect(try restarted.authenticate(header: fresh, method: "GET", path: "/v1/status", body: [UInt8](), client: "10.0.0.1") != "")
        }
        // Twenty minutes on, the first generation's file is gone and the old header is refused
        // for its date, not its nonce.
        fixture.clock.advance(days: 20.0 / 1_440)
        let later = try fixture.service()
        do {
            _ = try later.authenticate(header: header, method: "GET", path: "/v1/status", body: [UInt8](), client: "10.0.0.1")
            Issue.record("a stale request was let through")
        } catch {
            #expect(error.message.contains("date"), "\(error)")
        }
    }

    @Test("a quota refuses chunks past it (507, journaled), collection gives room back, and only the host changes it")
    func quota() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        // Random blocks barely compress: each chunk file is a little over 1 MiB.
        func randomChunk() throws -> (name: String, file: [UInt8]) {
            let block = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255) }
            let write = try block.withUnsafeBytes { try fixture.source.chunks.store($0) }
            guard let id = write.chunk, let file = try DurableFile.read(fixture.source.chunks.path(of: id)) else {
                throw RepositoryError(.io, "the random block was not stored")
            }
            return (id.hex, file)
        }
        let chunks = try (0..<3).map { _ in try randomChunk() }
        do {
            let service = try fixture.service(days: 0)
            #expect(service.quotaBytes == nil && service.usedBytes == 0)
        }
        var service: HardenedRepository! = try HardenedRepository(
            root: fixture.folder.appendingPathComponent("service"), quota: .some(Int64(2 << 20) + 65_536), clock: fixture.clock.read)
        try service.putChunk(chunks[0].name, file: chunks[0].file, actor: "tmr_test0000", client: "10.0.0.1")
        try service.putChunk(chunks[1].name, file: chunks[1].file, actor: "tmr_test0000", client: "10.0.0.1")
        let refused = try #require(throws: RepositoryServiceError.self) {
            try service.putChunk(chunks[2].name, file: chunks[2].file, actor: "tmr_test0000", client: "10.0.0.1")
        }
        #expect(refused.code == .quotaExceeded && refused.httpStatus == 507 && refused.message.contains("quota"), "\(refused.message)")
        #expect(try service.missing([chunks[2].name]) == [chunks[2].name], "nothing of the refused chunk is kept")
        // A chunk held already is no new bytes: sending it again is fine at the limit.
        #expect(try service.putChunk(chunks[0].name, file: chunks[0].file, actor: "tmr_test0000", client: nil) == false)

        // Two days on, collection frees the two loose chunks (no manifest names them).
        fixture.clock.advance(days: 2)
        for chunk in chunks.prefix(2) {
            let path = service.repository.chunks.path(of: try #require(ChunkID(hex: chunk.name)))
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3 * 86_400)], ofItemAtPath: path)
        }
        _ = try service.collectGarbage(actor: "tmr_test0000", client: nil)
        #expect(service.usedBytes == 0)
        try service.putChunk(chunks[2].name, file: chunks[2].file, actor: "tmr_test0000", client: nil)

        // Restarted without --quota: the saved one holds, counted from the disk; off lifts it.
        service = nil
        service = try fixture.service()
        #expect(service.quotaBytes == Int64(2 << 20) + 65_536 && service.usedBytes == Int64(chunks[2].file.count))
        service = nil
        service = try HardenedRepository(
            root: fixture.folder.appendingPathComponent("service"), quota: .some(nil), clock: fixture.clock.read)
        #expect(service.quotaBytes == nil)
        let entries = try service.journal.entries()
        #expect(entries.filter { $0.action == "chunk.put" && $0.outcome == "refused" }.count == 1)
        #expect(entries.filter { $0.action == "settings" && $0.subject == "quota" }.map(\.reason).count == 2, "\(entries)")
        #expect(throws: RepositoryServiceError.self) {
            try HardenedRepository(root: fixture.folder.appendingPathComponent("elsewhere"), quota: .some(1_000), clock: fixture.clock.read)
        }
    }

    @Test("a record a crashed deletion left behind gives a new point of that name no head start on its days")
    func staleRecord() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let service = try fixture.service(days: 7)
        let formatter = ISO8601DateFormatter()
        let now = fixture.clock.read()
        let stale = """
            {"created_at":"\(formatter.string(from: now.addingTimeInterval(-30 * 86_400)))","immutable_until":"\(formatter.string(from: now.addingTimeInterval(-23 * 86_400)))","restore_point":"vm-1-again"}
            """
        try stale.write(to: service.root.appendingPathComponent("service/points/vm-1-again.json"), atomically: true, encoding: .utf8)
        let (a, aFile) = try fixture.chunk(9)
        try service.putChunk(a, file: aFile, actor: "x", client: nil)
        let record = try service.putManifest(
            point: "vm-1-again", disk: "disk-2000", body: try fixture.manifest("vm-1-again", chunks: [a]), actor: "x", client: nil)
        #expect(record.immutableUntil == now.addingTimeInterval(7 * 86_400), "\(record)")
        #expect(throws: RepositoryServiceError.self) { try service.deletePoint("vm-1-again", actor: "x", client: nil) }
    }

    @Test("a point's disks come within its first day; later a new disk is refused like any other change")
    func sealing() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let service = try fixture.service(days: 30)
        let (a, aFile) = try fixture.chunk(10)
        try service.putChunk(a, file: aFile, actor: "x", client: nil)
        try service.putManifest(
            point: "vm-1-s", disk: "disk-2000", body: try fixture.manifest("vm-1-s", chunks: [a]), actor: "x", client: nil)
        fixture.clock.advance(days: 0.5)
        try service.putManifest(
            point: "vm-1-s", disk: "disk-2001", body: try fixture.manifest("vm-1-s", chunks: [a], disk: "disk-2001"), actor: "x",
            client: nil)
        fixture.clock.advance(days: 1)
        let late = try #require(throws: RepositoryServiceError.self) {
            try service.putManifest(
                point: "vm-1-s", disk: "disk-9999", body: try fixture.manifest("vm-1-s", chunks: [a], disk: "disk-9999"), actor: "x",
                client: nil)
        }
        #expect(late.code == .immutable && late.message.contains("sealed"), "\(late.message)")
        #expect(try service.points().first?.disks == ["disk-2000", "disk-2001"])
    }

    @Test(
        "past 30 refusals in a minute an address's refusals are no longer journaled until its minute has passed; rightly signed requests pass"
    )
    func refusalFlood() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let service = try fixture.service()
        let token = try service.issueToken(label: "backup-1")
        for _ in 0..<100 {
            #expect(throws: RepositoryServiceError.self) {
                try service.authenticate(header: nil, method: "GET", path: "/v1/status", body: [UInt8](), client: "10.9.9.9")
            }
        }
        let flood = try service.journal.entries().filter { $0.client == "10.9.9.9" }
        #expect(flood.count == 31 && flood.last?.reason?.contains("more than 30 refused requests") == true, "\(flood.count)")
        // A rightly signed request from that address still passes: a flood cannot lock the backup server out.
        let signed = { RequestSignature.header(token: token, method: "GET", path: "/v1/status", body: [UInt8](), date: Date()) }
        #expect(
            try service.authenticate(header: signed(), method: "GET", path: "/v1/status", body: [UInt8](), client: "10.9.9.9")
                == ServiceTokens.prefix(of: token))
        // Another address's refusals are journaled as before; a minute later, the flooding address's too.
        #expect(throws: RepositoryServiceError.self) {
            try service.authenticate(header: nil, method: "GET", path: "/v1/status", body: [UInt8](), client: "10.9.9.8")
        }
        fixture.clock.advance(days: 1.0 / 1_440 + 0.000_1)
        #expect(throws: RepositoryServiceError.self) {
            try service.authenticate(header: nil, method: "GET", path: "/v1/status", body: [UInt8](), client: "10.9.9.9")
        }
        let clients = try service.journal.entries().compactMap(\.client)
        #expect(clients.filter { $0 == "10.9.9.8" }.count == 1 && clients.filter { $0 == "10.9.9.9" }.count == 32)
    }

    @Test("verify re-hashes a point's chunks and names a damaged one; an edited journal is refused at start")
    func verifyAndJournal() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try checkVerifyAndLock(fixture)
        // Its instance gone, the journal is edited: the next start refuses it.
        let journal = fixture.folder.appendingPathComponent("service/service/journal.jsonl").path
        var text = try String(contentsOfFile: journal, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"outcome\":\"done\"", with: "\"outcome\":\"refused\"")
        try text.write(toFile: journal, atomically: true, encoding: .utf8)
        let damaged = try #require(throws: RepositoryServiceError.self) { try fixture.service() }
        #expect(damaged.code == .damagedJournal)
    }

    func checkVerifyAndLock(_ fixture: Fixture) throws {
        let service = try fixture.service()
        #expect(service.immutableDays == 14, "a new service's default")
        let (a, aFile) = try fixture.chunk(5)
        try service.putChunk(a, file: aFile, actor: "x", client: nil)
        try service.putManifest(
            point: "vm-1-v", disk: "disk-2000", body: try fixture.manifest("vm-1-v", chunks: [a]), actor: "x", client: nil)
        let verified = try service.verify(point: "vm-1-v")
        #expect(verified.chunks == 1 && verified.problems.isEmpty)
        let path = service.repository.chunks.path(of: try #require(ChunkID(hex: a)))
        var bytes = try #require(FileManager.default.contents(atPath: path))
        bytes[bytes.count - 1] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        let (_, problems) = try service.verify(point: "vm-1-v")
        #expect(problems.count == 1 && problems[0].contains(a), "\(problems)")
        #expect(throws: RepositoryServiceError.self) { try service.verify(point: "vm-9-none") }

        let journal = service.journal.path
        let second = try #require(throws: RepositoryServiceError.self) { try fixture.service() }
        #expect(second.code == .conflict && second.message.contains("stop it first"), "\(second.message)")
        #expect(journal.hasSuffix("service/journal.jsonl"))
        withExtendedLifetime(service) {}
    }
}
