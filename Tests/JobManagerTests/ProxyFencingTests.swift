import EventStore
import Foundation
import JobManager
import Postgres
import Repository
import TestSupport
import Testing
import WorkflowEvents

/// The rules of proxy processes and assignments, held by the database and the repository
/// whatever a process (or someone with the service role) does.
@Suite("Proxy leases and fencing")
struct ProxyFencingTests {
    /// Registers a process (as `pool`'s login) with placeholder keys: the database stores the
    /// proof, the Job Manager checks it (`RegistrationProof`). The proxy's catalog stream is
    /// made first (a registration names a proxy the catalog has).
    static func register(
        _ pool: PostgresPool, _ instance: String, proxy: String = "p-1", lease: Double, in database: TestDatabase
    ) async throws {
        let catalog = database.eventStore()
        let stream = try StreamName("proxy-" + proxy)
        if try await catalog.readStream(stream, limit: 1).isEmpty {
            try await catalog.append(
                to: stream, events: [try NewEvent(type: "ProxyAdded", payload: ["id": proxy], metadata: EventMetadata(actor: "test"))])
        }
        await catalog.pool.close()
        _ = try await pool.query(
            """
            SELECT tidemark.proxy_register($1::uuid, $2, 'p', 'h', 1, 'v', ARRAY['network'], '{"servers":{}}'::jsonb, 2,
                                           $4, $3, $4, $5)
            """,
            [instance, proxy, lease, Data(repeating: 7, count: 32), Data(repeating: 9, count: 64)])
    }

    static func bool(_ pool: PostgresPool, _ sql: String, _ parameters: [any PostgresEncodable]) async throws -> Bool {
        try await pool.query(sql, parameters).decode(0, 0)
    }

    @Test("one live process per proxy; a lapsed lease cannot be renewed; a later token outranks, and a stale holder's reports are refused")
    func leasesAndTokens() async throws {
        let database = try await TestDatabase.create()
        // The Job Manager's side as the service role, the process's side as the proxy login.
        let pool = database.servicePool()
        let proxy = database.proxyPool()
        let a = UUID().uuidString.lowercased(), b = UUID().uuidString.lowercased()
        try await Self.register(proxy, a, lease: 600, in: database)
        await #expect(throws: PostgresError.self) { try await Self.register(proxy, b, lease: 600, in: database) }
        #expect(try await Self.bool(proxy, "SELECT tidemark.proxy_heartbeat($1::uuid, 0)", [a]))
        let first: Int64 = try await pool.query("SELECT tidemark.next_assignment_token()").decode(0, 0)
        #expect(try await Self.bool(pool, "SELECT tidemark.assign_task('s', 't', $1, $2::uuid, '{}'::jsonb, NULL)", [first, a]))
        #expect(try await proxy.query("SELECT count(*) FROM tidemark.take_assignments($1::uuid)", [a]).decode(0, 0, as: Int64.self) == 1)
        let report = "SELECT tidemark.report_assignment('s', 't', $1, 'running', '{\"offset\":1}'::jsonb, NULL, NULL)"
        #expect(try await Self.bool(proxy, report, [first]))
        // Its lease runs out (the heartbeat dated back, as if the process had frozen for an hour).
        try await database.administratorQuery(
            "UPDATE tidemark.proxy_processes SET heartbeat_at = heartbeat_at - interval '1 hour' WHERE instance_id = $1::uuid", [a])
        // The lease lapsed: no heartbeat revives it, no report is taken, and it can be declared lost once.
        #expect(try await !Self.bool(proxy, "SELECT tidemark.proxy_heartbeat($1::uuid, 0)", [a]))
        #expect(try await !Self.bool(proxy, report, [first]))
        #expect(try await Self.bool(pool, "SELECT tidemark.proxy_end($1::uuid, 'lost')", [a]))
        #expect(try await !Self.bool(pool, "SELECT tidemark.proxy_end($1::uuid, 'lost')", [a]))
        // Another process of the proxy may register now, and takes the task under a larger token.
        try await Self.register(proxy, b, lease: 30, in: database)
        let second: Int64 = try await pool.query("SELECT tidemark.next_assignment_token()").decode(0, 0)
        #expect(second > first)
        #expect(try await Self.bool(pool, "SELECT tidemark.assign_task('s', 't', $1, $2::uuid, '{}'::jsonb, NULL)", [second, b]))
        #expect(try await !Self.bool(pool, "SELECT tidemark.assign_task('s', 't', $1, $2::uuid, '{}'::jsonb, NULL)", [first, b]))
        _ = try await proxy.query("SELECT * FROM tidemark.take_assignments($1::uuid)", [b])
        #expect(try await !Self.bool(proxy, report, [first]))
        #expect(try await Self.bool(proxy, report, [second]))
        // The service role cannot write the tables directly, nor read the sealed logins.
        await #expect(throws: PostgresError.self) {
            try await pool.query("UPDATE tidemark.proxy_assignments SET token = 999")
        }
        await #expect(throws: PostgresError.self) {
            try await pool.query("SELECT sealed_credentials FROM tidemark.proxy_assignments")
        }
        await pool.close()
        await proxy.close()
    }

    @Test("the repository refuses a disk's progress and manifest writes from a holder a later token took over")
    func repositoryFence() throws {
        let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("fence-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let repository = try BackupRepository.create(at: folder)
        let progress = DiskProgress(
            restorePoint: "vm-1-abc", disk: "disk-2000", diskSize: 1 << 20, blockSize: .default, source: "lab:snap/disk")
        let old = DiskProgressFence(restorePoint: "vm-1-abc", disk: "disk-2000", token: 5)
        let new = DiskProgressFence(restorePoint: "vm-1-abc", disk: "disk-2000", token: 9)
        try repository.claim(old)
        try repository.saveProgress(progress, fence: old)
        try repository.claim(new)
        #expect(throws: RepositoryError.self) { try repository.saveProgress(progress, fence: old) }
        #expect(throws: RepositoryError.self) { try repository.claim(old) }
        try repository.saveProgress(progress, fence: new)
        let manifest = try DiskManifest(
            restorePoint: "vm-1-abc", disk: "disk-2000", diskSize: 1 << 20, blockSize: .default, blocks: [nil], logHead: nil)
        #expect(throws: RepositoryError.self) { try repository.save(manifest, fence: old) }
        #expect((try? repository.manifest(restorePoint: "vm-1-abc", disk: "disk-2000")) == nil, "the stale manifest was not written")
        try repository.save(manifest, fence: new)
        // Finished once its end is recorded: even the last holder is refused from then on, and
        // a holder that lost the task long ago cannot claim the disk afresh.
        repository.finishProgress(restorePoint: "vm-1-abc", disk: "disk-2000")
        #expect(throws: RepositoryError.self) { try repository.saveProgress(progress, fence: new) }
        #expect(throws: RepositoryError.self) { try repository.claim(old) }
        #expect(throws: RepositoryError.self) {
            try repository.claim(DiskProgressFence(restorePoint: "vm-1-abc", disk: "disk-2000", token: 99))
        }
    }

    @Test("a login sealed to one process's key opens with it only, for the task it was sealed for")
    func sealedLogin() throws {
        let process = CredentialSeal.KeyPair(), other = CredentialSeal.KeyPair()
        let binding = CredentialSeal.Binding(session: "s", task: "vm-1/2000", token: 7)
        let login = HandedOverCredentials(user: "backup", secret: "hunter2")
        let sealed = try CredentialSeal.seal(login, to: process.publicKey, for: binding)
        #expect(!String(decoding: sealed, as: UTF8.self).contains("hunter2"))
        #expect(try CredentialSeal.open(sealed, with: process, for: binding) == login)
        #expect(throws: JobManagerError.self) { try CredentialSeal.open(sealed, with: other, for: binding) }
        #expect(throws: JobManagerError.self) {
            try CredentialSeal.open(sealed, with: process, for: .init(session: "s", task: "vm-1/2000", token: 8))
        }
    }
}
