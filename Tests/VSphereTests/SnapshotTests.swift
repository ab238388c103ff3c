import Foundation
import Infrastructure
import Testing

@testable import VSphere

@Suite("vSphere snapshots and disk reads against the simulator")
struct SnapshotTests {
    /// The names of a VM's snapshots as a second, separately logged-in client reads them.
    static func snapshotNames(_ vm: String, simulator: Simulator, thumbprint: String) async throws -> [String] {
        let observer = VSphereClient(endpoint: simulator.endpoint(thumbprint: thumbprint))
        try await observer.connect()
        defer { Task { await observer.disconnect() } }
        let object = try await observer.retrieve(ManagedObjectReference(type: "VirtualMachine", value: vm), properties: ["snapshot"])
        var names: [String] = []
        var pending = object.properties["snapshot"]?.all("rootSnapshotList") ?? []
        while let tree = pending.popLast() {
            names.append(tree.value("name") ?? "")
            pending += tree.all("childSnapshotList")
        }
        return names.sorted()
    }

    @Test("a snapshot made and removed through the adapter is seen made and removed by another session")
    func snapshotRoundTrip() async throws {
        let simulator = try Simulator.shared()
        let thumbprint = try await simulator.thumbprint()
        let adapter = VSphereAdapter(endpoint: simulator.endpoint(thumbprint: thumbprint))
        let vm = simulator.manifest.virtualMachines[0]
        let made = try await adapter.createSnapshot(vm: vm.id, name: "tidemark-roundtrip", description: "test", quiesce: true)
        #expect(made.name == "tidemark-roundtrip" && made.quiesced && made.id.hasPrefix("snapshot-"))
        #expect(try await Self.snapshotNames(vm.id, simulator: simulator, thumbprint: thumbprint) == ["tidemark-roundtrip"])
        #expect(try await adapter.snapshots(of: vm.id).map(\.id) == [made.id])
        try await adapter.removeSnapshot(vm: vm.id, snapshot: made.id)
        #expect(try await Self.snapshotNames(vm.id, simulator: simulator, thumbprint: thumbprint) == [])
        await #expect(throws: InfrastructureError.self) { try await adapter.removeSnapshot(vm: vm.id, snapshot: made.id) }
    }

    @Test("a snapshot's disk reads back the bytes in the datastore's flat extent, at any offset")
    func diskReads() async throws {
        let simulator = try Simulator.shared()
        let adapter = try await simulator.adapter()
        let vm = simulator.manifest.virtualMachines[1]
        let disk = vm.disks[0]
        let flat = disk.file.replacingOccurrences(of: ".vmdk", with: "-flat.vmdk")
        let expected = try Data(contentsOf: simulator.localFile(datacenter: vm.datacenter, flat))
        #expect(expected.count == Int(disk.capacity))
        let snapshot = try await adapter.createSnapshot(vm: vm.id, name: "tidemark-read", description: "", quiesce: false)
        let source = try await adapter.openDisk(vm: vm.id, snapshot: snapshot.id, diskKey: disk.key)
        #expect(source.size == disk.capacity)
        #expect(try await source.bytes(at: 0, count: Int(source.size)) == Array(expected))
        #expect(try await source.bytes(at: 65_530, count: 100) == Array(expected[65_530..<65_630]))
        await #expect(throws: InfrastructureError.self) { _ = try await source.bytes(at: source.size - 10, count: 20) }
        await #expect(throws: InfrastructureError.self) {
            _ = try await adapter.openDisk(vm: vm.id, snapshot: snapshot.id, diskKey: 999_999)
        }
        try await adapter.removeSnapshot(vm: vm.id, snapshot: snapshot.id)
    }

    @Test("an expired session is renewed by logging in again, and the call goes through")
    func reloginAfterExpiry() async throws {
        let simulator = try Simulator.shared()
        let thumbprint = try await simulator.thumbprint()
        let adapter = VSphereAdapter(endpoint: simulator.endpoint(thumbprint: thumbprint))
        _ = try await adapter.snapshots(of: simulator.manifest.virtualMachines[2].id)
        let content = try await adapter.client.content()
        let key = try await adapter.client.retrieve(content.sessionManager, properties: ["currentSession"]).properties["currentSession"]?
            .value("key")
        let administrator = VSphereClient(endpoint: simulator.endpoint(thumbprint: thumbprint))
        try await administrator.connect()
        _ = try await administrator.call("TerminateSession", this: content.sessionManager, "<sessionId>\(try #require(key))</sessionId>")
        await administrator.disconnect()
        let before = adapter.client.roundTrips
        #expect(try await adapter.snapshots(of: simulator.manifest.virtualMachines[2].id) == [])
        // The refused call, the new login, the call again.
        #expect(adapter.client.roundTrips - before == 3)
    }
}
