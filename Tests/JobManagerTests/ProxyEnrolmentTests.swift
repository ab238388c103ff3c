import Catalog
import CatalogStore
import EventStore
import Foundation
import Postgres
import Secrets
import TestSupport
import Testing
import WorkflowEvents

@testable import JobManager

/// Who may be a proxy: the host whose key an administrator enrolled, connecting as a proxy
/// login that can do a proxy's part and nothing more. Each test plays the attacker the
/// threat model names: a login that registers under a proxy's name without its key.
@Suite("Proxy enrolment", .serialized)
struct ProxyEnrolmentTests {
    /// Registers a process for `proxy` as `pool`'s login, signing with `signer` and claiming
    /// `claimed` as its identity key.
    static func registerImpostor(
        _ pool: PostgresPool, proxyID: String, name: String, claimed: [UInt8], signer: ProxyIdentity
    ) async throws -> String {
        let instance = UUID().uuidString.lowercased()
        let agreement = CredentialSeal.KeyPair().publicKey
        let signature = RegistrationProof.sign(signer, instance: instance, proxyID: proxyID, agreementKey: agreement)
        _ = try await pool.query(
            """
            SELECT tidemark.proxy_register($1::uuid, $2, $3, 'impostor-host', 1, 'v', ARRAY['network'],
                                           '{"servers":{"*":["*"]}}'::jsonb, 8, $4, 600, $5, $6)
            """, [instance, proxyID, name, Data(agreement), Data(claimed), Data(signature)])
        return instance
    }

    @Test("a process verifies only with the enrolled key and its own signature")
    func proof() throws {
        let host = ProxyIdentity.generate(), other = ProxyIdentity.generate()
        let agreement = CredentialSeal.KeyPair().publicKey
        func process(identity: [UInt8]?, signature: [UInt8]?) -> ProxyProcess {
            ProxyProcess(
                instanceID: "0b6c1f55-8a65-4a3c-9f0e-6f1f0a3c2d11", proxyID: "p-1", proxyName: "p", host: "h", pid: 1, version: "v",
                maxTasks: 1, reach: .init(servers: [:]), publicKey: agreement, leaseSeconds: 10, startedAt: Date(), heartbeatAge: 0,
                runningTasks: 0, live: true, endReason: nil, identityKey: identity, signature: signature, login: "tidemark_proxy")
        }
        let signed = RegistrationProof.sign(host, instance: "0b6c1f55-8a65-4a3c-9f0e-6f1f0a3c2d11", proxyID: "p-1", agreementKey: agreement)
        #expect(RegistrationProof.refusal(of: process(identity: host.publicKey, signature: signed), enrolledKey: host.publicKeyText) == nil)
        // No enrolment, another host's key, the right key claimed but signed by another.
        #expect(
            RegistrationProof.refusal(of: process(identity: host.publicKey, signature: signed), enrolledKey: nil)?.contains(
                "no host is enrolled")
                == true)
        let forged = RegistrationProof.sign(
            other, instance: "0b6c1f55-8a65-4a3c-9f0e-6f1f0a3c2d11", proxyID: "p-1", agreementKey: agreement)
        #expect(
            RegistrationProof.refusal(of: process(identity: other.publicKey, signature: forged), enrolledKey: host.publicKeyText)?
                .contains("is not the enrolled one") == true)
        #expect(
            RegistrationProof.refusal(of: process(identity: host.publicKey, signature: forged), enrolledKey: host.publicKeyText)?
                .contains("not signed") == true)
        // A signature of another instance (a copied registration) does not carry over.
        let elsewhere = RegistrationProof.sign(host, instance: UUID().uuidString, proxyID: "p-1", agreementKey: agreement)
        #expect(
            RegistrationProof.refusal(of: process(identity: host.publicKey, signature: elsewhere), enrolledKey: host.publicKeyText) != nil)
    }

    @Test("the key file is made private and read back; one others can read, or that is not a key, is refused with what to do")
    func keyFile() throws {
        let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("keys-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("sub/proxy-1.key").path
        let (made, created) = try ProxyIdentity.load(orCreateAt: path)
        #expect(created)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let (again, createdAgain) = try ProxyIdentity.load(orCreateAt: path)
        #expect(!createdAgain && again.publicKey == made.publicKey)
        chmod(path, 0o644)
        #expect { try ProxyIdentity.load(orCreateAt: path) } throws: { ($0 as? SecretError)?.message.contains("chmod 600") == true }
        chmod(path, 0o600)
        try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
        #expect { try ProxyIdentity.load(orCreateAt: path) } throws: {
            ($0 as? SecretError)?.message.contains("is not a Tidemark proxy key") == true
        }
    }

    @Test(
        "enrolment from the command line: run refuses a host not enrolled (saying what to run), a bad key changes nothing, the enrolled host runs"
    )
    func commandLine() async throws {
        let world = try await ProxyWorld.make(vms: 1, diskSize: 1 << 20, enrolled: false)
        defer { world.environment.remove() }
        let keyFile = world.keyFile("proxy-1")
        let refused = try world.proxyCommand(["proxy", "run", "proxy-1", "--key-file", keyFile])
        #expect(refused.status != 0 && refused.output.contains("has no enrolled host"), "\(refused.output)")
        #expect(refused.output.contains("tidemark proxy enrol proxy-1 --public-key"), "\(refused.output)")
        let printed = try world.proxyCommand(["proxy", "key", "proxy-1", "--key-file", keyFile])
        let key = try #require(
            printed.output.split(separator: "\n").first { $0.hasPrefix("public key:") }.map {
                $0.dropFirst("public key:".count).trimmingCharacters(in: .whitespaces)
            }, "\(printed.output)")
        #expect(ProxyIdentity.publicKey(from: key) != nil)

        let before = try await world.environment.eventCount()
        let garbage = try world.environment.tidemark(["proxy", "enrol", "proxy-1", "--public-key", "c2hvcnQ="])
        #expect(garbage.status != 0 && garbage.output.contains("is not a proxy public key"), "\(garbage.output)")
        let neither = try world.environment.tidemark(["proxy", "enrol", "proxy-1"])
        #expect(neither.status != 0 && neither.output.contains("--revoke"), "\(neither.output)")
        let unknown = try world.environment.tidemark(["proxy", "enrol", "nope", "--public-key", key])
        #expect(unknown.status != 0 && unknown.output.contains("nope"), "\(unknown.output)")
        #expect(try await world.environment.eventCount() == before, "a refused enrolment wrote an event")

        let enrolled = try world.environment.tidemark(["proxy", "enrol", "proxy-1", "--public-key", key])
        #expect(enrolled.status == 0, "\(enrolled.output)")
        let change = try await world.environment.database.administratorQuery(
            """
            SELECT data -> 'changed' ->> 0, metadata ->> 'actor' FROM tidemark.events
             WHERE event_type = 'ProxyUpdated' ORDER BY position DESC LIMIT 1
            """)
        #expect(try change.decode(0, 0, as: String.self) == "enrolled_key")
        #expect(try change.decodeIfPresent(0, 1, as: String.self) != nil)

        // Another host's key is refused by the host itself, before it registers.
        let elsewhere = try world.proxyCommand(["proxy", "run", "proxy-1", "--key-file", world.keyFile("other-host")])
        #expect(elsewhere.status != 0 && elsewhere.output.contains("enrolled for another host's key"), "\(elsewhere.output)")

        let running = try RunningTidemark(
            ["proxy", "run", "proxy-1", "--database-url", world.proxyDatabaseURL, "--key-file", keyFile, "--lease-seconds", "30"],
            in: world.environment.folder)
        #expect(try await running.waitFor("running on"), "\(running.output)")
        let list = try world.environment.tidemark(["proxy", "list"])
        let fingerprint = try #require(ProxyIdentity.publicKey(from: key).map(ProxyIdentity.fingerprint(of:)))
        #expect(list.output.contains("live") && list.output.contains(String(fingerprint.prefix(19))), "\(list.output)")
        running.signal(SIGTERM)
        #expect(try await running.waitForExit() == 0)
        let started = try await world.processEvents("ProxyProcessStarted")
        #expect(started.first?["identity_fingerprint"] as? String == fingerprint)

        let revoked = try world.environment.tidemark(["proxy", "enrol", "proxy-1", "--revoke"])
        #expect(revoked.status == 0 && revoked.output.contains("no enrolled host"), "\(revoked.output)")
    }

    @Test("processes registered without the enrolled key get no task and no login: the Job Manager moves their proxies' data itself")
    func impostors() async throws {
        let world = try await ProxyWorld.make(vms: 3, diskSize: 2 << 20)
        defer { world.environment.remove() }
        let catalog = try await CatalogStore(events: world.environment.database.eventStore()).load()
        let one = try #require(catalog.id(of: ProxyDefinition.self, named: "proxy-1"))
        let two = try #require(catalog.id(of: ProxyDefinition.self, named: "proxy-2"))
        let enrolledTwo = try #require(catalog.proxies[two]?.definition.enrolledKey.flatMap(ProxyIdentity.publicKey(from:)))
        // One with a key of its own for proxy-1; one claiming proxy-2's enrolled key, which it
        // cannot sign with. Both on a proxy login, both live for the whole session.
        let pool = world.environment.database.proxyPool()
        let stranger = ProxyIdentity.generate()
        let a = try await Self.registerImpostor(pool, proxyID: one, name: "proxy-1", claimed: stranger.publicKey, signer: stranger)
        let b = try await Self.registerImpostor(pool, proxyID: two, name: "proxy-2", claimed: enrolledTwo, signer: stranger)

        let list = try world.environment.tidemark(["proxy", "list", "--json"])
        #expect(list.output.components(separatedBy: "\"unverified\"").count == 3, "\(list.output)")
        let text = try world.environment.tidemark(["proxy", "list"])
        #expect(text.output.contains("gets no task"), "\(text.output)")

        let manager = world.manager()
        let session = try await manager.begin(job: world.environment.jobName, trigger: "manual")
        let report = try await manager.run(session: session)
        #expect(report.finished.result == .success, "\(report.finished)")
        let events = try await world.checkDone(session, tasks: 3)
        #expect(!events.contains { $0.type == "TaskAssigned" }, "a task was assigned to an unverified process")
        let reasons = events.filter { $0.type == "ProxySelected" }.flatMap { ($0.data["candidates"] as? [[String: Any]]) ?? [] }
            .compactMap { $0["reason"] as? String }
        #expect(
            !reasons.isEmpty && reasons.allSatisfy { $0.contains("embedded") && $0.contains("not its process on impostor-host") },
            "\(reasons)")
        for instance in [a, b] {
            let taken = try await pool.query("SELECT count(*) FROM tidemark.take_assignments($1::uuid)", [instance])
            #expect(try taken.decode(0, 0, as: Int64.self) == 0)
        }
        // Enrolling the key again ends the squatter under another key (and only it), so the
        // real host can register; it is recorded as lost.
        let key = try #require(catalog.proxies[one]?.definition.enrolledKey)
        let again = try world.environment.tidemark(["proxy", "enrol", "proxy-1", "--public-key", key])
        #expect(again.status == 0 && again.output.contains("ended 1 process(es)") && again.output.contains(a), "\(again.output)")
        #expect(try await !ProxyFencingTests.bool(pool, "SELECT tidemark.proxy_heartbeat($1::uuid, 0)", [a]))
        #expect(try await ProxyFencingTests.bool(pool, "SELECT tidemark.proxy_heartbeat($1::uuid, 0)", [b]))
        let lost = try await world.processEvents("ProxyProcessLost")
        #expect(lost.compactMap { $0["instance_id"] as? String } == [a], "\(lost)")
        let real = try await world.startProxy("proxy-1", lease: 30)
        real.signal(SIGTERM)
        #expect(try await real.waitForExit() == 0)
        await pool.close()
    }

    @Test("the proxy login does a proxy's part and nothing more, and acts only for processes it registered")
    func proxyLogin() async throws {
        let database = try await TestDatabase.create()
        let proxy = database.proxyPool(), service = database.servicePool()
        // It reads the log (the catalog, the chain head), registers, and writes its process's stream.
        _ = try await proxy.query("SELECT count(*) FROM tidemark.events")
        let store = EventStore(pool: proxy, logger: quietLogger)
        let instance = UUID().uuidString.lowercased()
        try await ProxyFencingTests.register(proxy, instance, lease: 600, in: database)
        let started = ProxyProcessEvent.Ended(instanceId: instance, proxyId: "p-1", proxyName: "p", reason: "test")
        try await store.append(
            to: try StreamName(ProxyProcessEvent.stream(of: instance)),
            events: [try NewEvent(type: ProxyProcessEvent.Kind.started.rawValue, payload: started, metadata: EventMetadata(actor: "t"))])
        // A registration out of bounds (what it claims ends up in events), for a proxy the
        // catalog does not have, or with a lease that would never lapse, is refused.
        let claims = [
            "SELECT tidemark.proxy_register(gen_random_uuid(), 'p-1', 'p', repeat('h', 300), 1, 'v', ARRAY['network'], '{}'::jsonb, 2, $1, 10, $1, $2)",
            "SELECT tidemark.proxy_register(gen_random_uuid(), 'p-1', 'p', 'h', 1, 'v', ARRAY['network'], '{}'::jsonb, 2, $1, 1e9, $1, $2)",
            "SELECT tidemark.proxy_register(gen_random_uuid(), 'nope', 'p', 'h', 1, 'v', ARRAY['network'], '{}'::jsonb, 2, $1, 10, $1, $2)",
        ]
        for sql in claims {
            await #expect(throws: PostgresError.self, "\(sql)") {
                try await proxy.query(sql, [Data(repeating: 1, count: 32), Data(repeating: 2, count: 64)])
            }
        }
        // It writes no catalog, session or note stream.
        for (stream, type) in [
            ("proxy-" + UUID().uuidString.lowercased(), "ProxyAdded"), ("session-" + instance, "SessionStarted"),
            ("note-x", "Note"),
        ] {
            await #expect {
                try await store.append(
                    to: try StreamName(stream), events: [try NewEvent(type: type, payload: ["a": 1], metadata: EventMetadata(actor: "t"))])
            } throws: { "\($0)".contains("may not write") }
        }
        // It cannot read the mailbox, nor assign, revoke or mint tokens.
        for sql in [
            "SELECT count(*) FROM tidemark.proxy_assignments", "SELECT count(*) FROM tidemark.proxy_processes",
            "SELECT tidemark.next_assignment_token()", "SELECT tidemark.assign_task('s', 't', 1, gen_random_uuid(), '{}'::jsonb, NULL)",
            "SELECT tidemark.revoke_assignment('s', 't', 1)", "SELECT count(*) FROM reporting.proxies",
            "SELECT tidemark.share_session_throttle('s', 'r', ARRAY['t'], 1)", "SELECT count(*) FROM tidemark.throttle_shares",
        ] {
            await #expect(throws: PostgresError.self, "\(sql)") { try await proxy.query(sql) }
        }
        // The service role no longer plays a process.
        for sql in [
            "SELECT count(*) FROM tidemark.take_assignments(gen_random_uuid())",
            "SELECT tidemark.report_assignment('s', 't', 1, 'running', NULL, NULL, NULL)",
            "SELECT tidemark.proxy_heartbeat(gen_random_uuid(), 0)",
        ] {
            await #expect(throws: PostgresError.self, "\(sql)") { try await service.query(sql) }
        }
        // Another proxy host's login cannot act for this login's process.
        let token: Int64 = try await service.query("SELECT tidemark.next_assignment_token()").decode(0, 0)
        #expect(
            try await ProxyFencingTests.bool(
                service, "SELECT tidemark.assign_task('s', 't', $1, $2::uuid, '{}'::jsonb, NULL)", [token, instance]))
        let role = "other_proxy_" + database.name
        try await database.administratorQuery("CREATE ROLE \(role) LOGIN IN ROLE tidemark_proxy")
        let other = PostgresPool(.init(settings: database.service.with("user", role), maximumConnections: 1), logger: quietLogger)
        #expect(try await !ProxyFencingTests.bool(other, "SELECT tidemark.proxy_heartbeat($1::uuid, 0)", [instance]))
        #expect(
            try await other.query("SELECT count(*) FROM tidemark.open_assignments($1::uuid)", [instance]).decode(0, 0, as: Int64.self) == 0)
        #expect(
            try await other.query("SELECT count(*) FROM tidemark.take_assignments($1::uuid)", [instance]).decode(0, 0, as: Int64.self) == 0)
        #expect(try await !ProxyFencingTests.bool(other, "SELECT tidemark.proxy_end($1::uuid, 'stopped')", [instance]))
        #expect(
            try await !ProxyFencingTests.bool(
                other, "SELECT tidemark.proxy_update_reach($1::uuid, '{\"servers\": {}}'::jsonb)", [instance]))
        await #expect {
            try await EventStore(pool: other, logger: quietLogger).append(
                to: try StreamName(ProxyProcessEvent.stream(of: instance)),
                events: [try NewEvent(type: ProxyProcessEvent.Kind.lost.rawValue, payload: started, metadata: EventMetadata(actor: "t"))])
        } throws: { "\($0)".contains("writes only the streams of proxy processes it registered") }
        await other.close()
        try await database.administratorQuery("DROP ROLE \(role)")
        // Its own login still holds it.
        #expect(
            try await proxy.query("SELECT count(*) FROM tidemark.open_assignments($1::uuid)", [instance]).decode(0, 0, as: Int64.self) == 1)
        #expect(
            try await proxy.query("SELECT count(*) FROM tidemark.take_assignments($1::uuid)", [instance]).decode(0, 0, as: Int64.self) == 1)
        let report = "SELECT tidemark.report_assignment('s', 't', $1, 'running', '{\"offset\":1}'::jsonb, NULL, NULL)"
        try await database.administratorQuery("CREATE ROLE \(role) LOGIN IN ROLE tidemark_proxy")
        let third = PostgresPool(.init(settings: database.service.with("user", role), maximumConnections: 1), logger: quietLogger)
        #expect(try await !ProxyFencingTests.bool(third, report, [token]), "another login reported on this login's task")
        await third.close()
        try await database.administratorQuery("DROP ROLE \(role)")
        #expect(try await ProxyFencingTests.bool(proxy, report, [token]))
        #expect(try await ProxyFencingTests.bool(proxy, "SELECT tidemark.proxy_end($1::uuid, 'stopped')", [instance]))
        await proxy.close()
        await service.close()
    }
}
