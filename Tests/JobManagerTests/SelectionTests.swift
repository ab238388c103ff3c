import Catalog
import Foundation
import Infrastructure
import Testing

@testable import JobManager

@Suite("Proxy choice and object expansion")
struct SelectionTests {
    /// Built from JSON: the inventory's types are made by adapters, not by hand.
    static func inventory() -> Inventory {
        func vm(_ id: String, _ name: String, folder: String, host: String, tags: [String] = []) -> String {
            let disks = [2000, 2001].map {
                #"{"key":\#($0),"label":"disk","capacity":1048576,"datastore":"ds-1","file":"[san-1] \#(id)/\#($0).vmdk"}"#
            }
            return
                #"{"id":"\#(id)","name":"\#(name)","instanceUUID":"\#(id)","folder":"\#(folder)","host":"\#(host)","cluster":"c-1","datastore":"ds-1","tags":[\#(tags.map { "\"\($0)\"" }.joined(separator: ","))],"poweredOn":true,"disks":[\#(disks.joined(separator: ","))]}"#
        }
        let json = #"""
            {"datacenters":[{"id":"dc-1","name":"DC1"}],
             "clusters":[{"id":"c-1","name":"prod","datacenter":"dc-1"}],
             "hosts":[{"id":"h-1","name":"esx-01","cluster":"c-1"},{"id":"h-2","name":"esx-02","cluster":"c-1"}],
             "folders":[{"id":"f-vm","name":"vm","datacenter":"dc-1"},{"id":"f-web","name":"Web","parent":"f-vm","datacenter":"dc-1"},
                        {"id":"f-web-test","name":"Test","parent":"f-web","datacenter":"dc-1"}],
             "datastores":[{"id":"ds-1","name":"san-1"}],
             "tags":[{"id":"t-gold","name":"gold","category":"tier"}],
             "virtualMachines":[\#([
                vm("vm-1", "web-b", folder: "f-web", host: "h-1"), vm("vm-2", "web-a", folder: "f-web", host: "h-2", tags: ["t-gold"]),
                vm("vm-3", "web-test", folder: "f-web-test", host: "h-1"), vm("vm-4", "db-01", folder: "f-vm", host: "h-2", tags: ["t-gold"]),
             ].joined(separator: ","))]}
            """#
        return try! JSONDecoder().decode(Inventory.self, from: Data(json.utf8))
    }

    @Test("selectors expand in the job's order, containers sorted by name, each VM once, exclusions applied")
    func expansion() throws {
        var job = JobDefinition(
            name: "j", server: "s",
            objects: [
                try ObjectSelector(parsing: "vm:db-01"), try ObjectSelector(parsing: "folder:/DC1/vm/Web"),
                try ObjectSelector(parsing: "tag:gold"),
            ],
            repository: "r")
        job.exclusions = [try Exclusion(parsing: "vm:web-test"), try Exclusion(parsing: "disk:web-a/2001")]
        let selected = ObjectExpansion.expand(job, in: Self.inventory())
        #expect(selected.map(\.machine.name) == ["db-01", "web-a", "web-b"])
        #expect(selected.first { $0.machine.name == "web-a" }?.disks.map(\.key) == [2000])
        job.objects = [try ObjectSelector(parsing: "host:esx-01"), try ObjectSelector(parsing: "cluster:prod")]
        job.exclusions = []
        #expect(ObjectExpansion.expand(job, in: Self.inventory()).map(\.machine.name) == ["web-b", "web-test", "db-01", "web-a"])
        job.objects = [try ObjectSelector(parsing: "vm:nothing-like-it")]
        #expect(ObjectExpansion.expand(job, in: Self.inventory()).isEmpty)
    }

    @Test("direct storage beats hot-add beats network; the same site beats another; load breaks ties")
    func proxyRanking() throws {
        let inventory = Self.inventory()
        let machine = inventory.virtualMachines[0]
        let placement = ProxySelection.Placement(machine, machine.disks[0], in: inventory)
        let san = ProxyDefinition(name: "san", site: "hq", transportModes: [.directStorage, .network], datastores: ["san-1"])
        let hotAdd = ProxyDefinition(name: "appliance", site: "hq", transportModes: [.hotAdd, .network], host: "esx-01")
        let network = ProxyDefinition(name: "nbd", site: "hq", transportModes: [.network])
        let remote = ProxyDefinition(name: "remote-nbd", site: "dr", transportModes: [.network])
        let elsewhere = ProxyDefinition(name: "other-host", site: "hq", transportModes: [.hotAdd], host: "esx-09")
        let ranked = ProxySelection.rank(
            [("1", remote), ("2", network), ("3", hotAdd), ("4", san), ("5", elsewhere)], placement: placement, server: "vc",
            repositorySite: "hq", load: ["4": 0.5]
        ).candidates
        #expect(ranked.map(\.proxy.name) == ["san", "appliance", "nbd", "remote-nbd"])
        #expect(ranked.map(\.mode) == [.directStorage, .hotAdd, .network, .network])
        #expect(ranked[0].reason.contains("50% of its 2 slots in use"))
        let busy = ProxySelection.rank(
            [("2", network), ("6", network)], placement: placement, server: "vc", repositorySite: "hq", load: ["2": 1]
        ).candidates
        #expect(busy.map(\.id) == ["6", "2"])
    }

    static func process(
        _ proxy: String, reaches datastores: [String], on server: String = "vc", live: Bool = true, maxTasks: Int = 5
    ) -> ProxyProcess {
        ProxyProcess(
            instanceID: "i-\(proxy)", proxyID: proxy, proxyName: "p\(proxy)", host: "host-\(proxy)", pid: 1, version: "0",
            maxTasks: maxTasks,
            reach: .init(servers: [server: datastores]), publicKey: [], leaseSeconds: 10, startedAt: Date(), heartbeatAge: live ? 1 : 60,
            runningTasks: 0, live: live, endReason: nil, identityKey: nil, signature: nil, login: "tidemark_proxy")
    }

    @Test(
        "with processes: an offline proxy and one whose process cannot reach the datastore are left out; a live one takes its process's limit"
    )
    func processPresence() throws {
        let inventory = Self.inventory()
        let machine = inventory.virtualMachines[0]
        let placement = ProxySelection.Placement(machine, machine.disks[0], in: inventory)
        let proxies = ["1", "2", "3", "4"].map { ($0, ProxyDefinition(name: "p\($0)", site: "hq", transportModes: [.network])) }
        let ranking = ProxySelection.rank(
            proxies, placement: placement, server: "vc", repositorySite: "hq", load: [:],
            presence: [
                "1": .live(Self.process("1", reaches: ["ds-1"], maxTasks: 7)),
                "2": .live(Self.process("2", reaches: ["ds-other"])),
                "3": .offline(Self.process("3", reaches: ["*"], live: false)),
            ])
        // 4 has no process: embedded.
        #expect(ranking.candidates.map(\.id) == ["1", "4"])
        #expect(ranking.candidates[0].process?.host == "host-1")
        #expect(ranking.candidates[0].taskLimit == 7)
        #expect(ranking.candidates[0].reason.contains("process on host-1"))
        #expect(ranking.candidates[1].process == nil)
        #expect(ranking.candidates[1].reason.contains("embedded"))
        #expect(ranking.offline.map(\.proxyID) == ["3"])
        // A process that reaches every datastore of the server (a vCenter over the network), and one of another server.
        let wide = ProxySelection.rank(
            proxies, placement: placement, server: "vc", repositorySite: "hq", load: [:],
            presence: [
                "1": .live(Self.process("1", reaches: ["*"])), "2": .live(Self.process("2", reaches: ["*"], on: "other")),
                "3": .live(Self.process("3", reaches: ["*"])), "4": .live(Self.process("4", reaches: [])),
            ])
        #expect(wide.candidates.map(\.id) == ["1", "3"])
        // A process that does not verify is never the mover: its proxy stays a candidate, embedded, with why.
        let impostor = ProxySelection.rank(
            proxies, placement: placement, server: "vc", repositorySite: "hq", load: [:],
            presence: ["1": .unverified(Self.process("1", reaches: ["*"], maxTasks: 9), why: "its key is not the one enrolled")])
        let one = try #require(impostor.candidates.first { $0.id == "1" })
        #expect(one.process == nil && one.taskLimit == 2)
        #expect(one.reason.contains("embedded; not its process on host-1: its key is not the one enrolled"), "\(one.reason)")
    }
}
