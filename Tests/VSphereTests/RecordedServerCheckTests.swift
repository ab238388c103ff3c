import Catalog
import CatalogStore
import EventStore
import Foundation
import JobManager
import TestSupport
import Testing
import VSphere

/// The server's check (`JobManager.checkServer`, behind `POST /api/v1/servers/{name}/check`)
/// against the shared simulator: what the vCenter says it is and the certificate it showed,
/// recorded with who asked; a certificate other than the pinned one is an outcome with its
/// reason, never the password.
@Suite("A vCenter's check, recorded: identity, certificate, what it holds")
struct RecordedServerCheckTests {
    /// vSphere adapters with the simulator's password, as `PlatformAdapters.standard` makes
    /// them from a password reference.
    static var adapters: AdapterFactory {
        var factory = AdapterFactory.lab
        factory.register(.vcenter) { request in
            let endpoint = VSphereEndpoint(
                url: request.server.url ?? "", user: request.server.user ?? "", password: Simulator.password,
                thumbprint: request.server.thumbprint, name: request.server.name)
            return OpenedAdapter(adapter: VSphereAdapter(endpoint: endpoint, logger: request.logger), secrets: [Simulator.password])
        }
        return factory
    }

    @Test("pinned: ok with the product, API, thumbprint and counts; a wrong pin: not ok with the reason; both in reporting.server_checks")
    func recorded() async throws {
        let simulator = try Simulator.shared()
        let thumbprint = try await simulator.thumbprint()
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        let manager = JobManager(store: store, adapters: Self.adapters)
        let wrong = String(repeating: "ab", count: 32)
        try await manager.catalog.execute(metadata: EventMetadata(actor: "test")) { start throws(CatalogError) in
            var plan = CatalogPlan(start)
            for (name, pin) in [("vc", thumbprint), ("vc-wrong", wrong)] {
                try plan.add(
                    ManagedServer(
                        name: name, platform: .vcenter, url: simulator.url, user: Simulator.user,
                        passwordReference: try SecretReference(source: .environment, name: "UNUSED_HERE"), thumbprint: pin))
            }
            return plan.changes
        }
        let state = try await manager.catalog.load()
        let metadata = EventMetadata(actor: "api:someone", clientAddress: "127.0.0.1")

        let good = try #require(state.id(of: ManagedServer.self, named: "vc"))
        let checked = try await manager.checkServer(try #require(state.servers[good]?.definition), id: good, metadata: metadata)
        #expect(checked.ok && checked.certificateThumbprint == thumbprint && checked.certificatePinned == true, "\(checked)")
        #expect(checked.api?.range(of: #"API [0-9]+\.[0-9]+"#, options: .regularExpression) != nil, "\(checked)")
        #expect(checked.vms == simulator.manifest.virtualMachines.count && checked.hosts == simulator.manifest.hosts.count)

        let bad = try #require(state.id(of: ManagedServer.self, named: "vc-wrong"))
        let refused = try await manager.checkServer(try #require(state.servers[bad]?.definition), id: bad, metadata: metadata)
        #expect(!refused.ok && refused.reason?.lowercased().contains("certificate") == true, "the reason says the certificate: \(refused)")
        #expect(refused.reason?.contains(Simulator.password) == false)

        let rows = try await store.pool.query(
            "SELECT server_name, ok, checked_by, certificate_pinned FROM reporting.server_checks ORDER BY started_at")
        #expect(rows.rowCount == 2)
        #expect(
            try rows.decode(0, 0, as: String.self) == "vc" && rows.decode(0, 1, as: Bool.self)
                && rows.decode(0, 2, as: String.self) == "api:someone")
        #expect(try rows.decode(1, 0, as: String.self) == "vc-wrong" && !rows.decode(1, 1, as: Bool.self))
        let text = try await store.pool.query("SELECT string_agg(data::text || metadata::text, '') FROM tidemark.events")
        #expect(try !text.decode(0, 0, as: String.self).contains(Simulator.password), "no password in the log")
    }
}
