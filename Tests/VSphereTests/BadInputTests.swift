import Foundation
import Infrastructure
import Testing

@testable import VSphere

@Suite("vSphere bad input: each a clear error")
struct VSphereBadInputTests {
    @Test("a wrong password is refused as such, and the message never shows it")
    func wrongPassword() async throws {
        let simulator = try Simulator.shared()
        let adapter = VSphereAdapter(
            endpoint: simulator.endpoint(password: "not-the-password", thumbprint: try await simulator.thumbprint()))
        let error = await #expect(throws: InfrastructureError.self) { _ = try await adapter.inventory() }
        #expect(error?.code == .authenticationFailed)
        #expect(error?.message.contains("wrong user name or password") == true)
        #expect(error?.fault == "InvalidLogin")
        #expect(error.map { !"\($0)".contains("not-the-password") } == true)
    }

    @Test("a port nobody listens on is unreachable, with the address in the message")
    func wrongPort() async throws {
        let adapter = VSphereAdapter(endpoint: VSphereEndpoint(url: "https://127.0.0.1:1", user: "u", password: "p"))
        let error = await #expect(throws: InfrastructureError.self) { _ = try await adapter.inventory() }
        #expect(error?.code == .unreachable)
        #expect(error?.message.contains("https://127.0.0.1:1") == true)
    }

    @Test("an unpinned self-signed certificate is refused with its thumbprint; a wrong pin names both")
    func certificates() async throws {
        let simulator = try Simulator.shared()
        let thumbprint = try await simulator.thumbprint()
        #expect(thumbprint.count == 64)
        let wrong = String(repeating: "AB", count: 32)
        let pinnedWrong = VSphereAdapter(endpoint: simulator.endpoint(thumbprint: wrong))
        let error = await #expect(throws: InfrastructureError.self) { _ = try await pinnedWrong.inventory() }
        #expect(error?.code == .untrustedCertificate)
        #expect(error?.message.contains(thumbprint) == true && error?.message.contains(wrong) == true)
        // The same pin with colons and lower case is the same pin.
        let colons = stride(from: 0, to: 64, by: 2).map { index in
            String(thumbprint.dropFirst(index).prefix(2)).lowercased()
        }.joined(separator: ":")
        #expect(try await VSphereAdapter(endpoint: simulator.endpoint(thumbprint: colons)).inventory().virtualMachines.count == 12)
    }

    @Test("plain HTTP when asked; a VM deleted between enumeration and snapshot is an unknown object")
    func deletedMachine() async throws {
        let simulator = try Simulator.start(["-tls=false", "-dc", "1", "-cluster", "1", "-host", "1", "-vm", "2"])
        defer { simulator.stop() }
        #expect(simulator.url.hasPrefix("http://"))
        let adapter = VSphereAdapter(endpoint: simulator.endpoint())
        let inventory = try await adapter.inventory()
        let victim = try #require(inventory.virtualMachines.first)
        let machine = ManagedObjectReference(type: "VirtualMachine", value: victim.id)
        for method in ["PowerOffVM_Task", "Destroy_Task"] {
            let task = try #require(ManagedObjectReference(try await adapter.client.call(method, this: machine, "")["returnval"]))
            _ = try await adapter.client.waitForTask(task, doing: method)
        }
        let error = await #expect(throws: InfrastructureError.self) {
            _ = try await adapter.createSnapshot(vm: victim.id, name: "tidemark-gone", description: "", quiesce: false)
        }
        #expect(error?.code == .unknownObject)
        #expect(error?.message.contains(victim.id) == true)
        #expect(try await adapter.inventory().virtualMachines.count == inventory.virtualMachines.count - 1)
    }
}
