import Catalog
import CommandLineSupport
import Foundation
import Infrastructure
import JobManager
import PlatformAdapters
import VSphere

/// A managed server of the catalog and the adapter that reaches it, as a session would make
/// it: for `server check` and `server inventory`, which look at a server before any job does.
struct ServerAdapter {
    let server: ManagedServer
    let adapter: any InfrastructureAdapter

    /// The vSphere adapter, for a vCenter.
    var vSphere: VSphereAdapter? { adapter as? VSphereAdapter }

    /// Where the server is: `https://vc.example.com`, or a lab's folder.
    var location: String { vSphere?.client.endpoint.url ?? server.folder ?? "" }

    /// "vCenter 'vc1'" or "lab 'lab'", for messages.
    var label: String { "\(server.platform == .lab ? "lab" : "vCenter") '\(server.name)'" }

    /// The server named `name` in the catalog, and its adapter. A lab without its lab.json, or
    /// a vCenter whose password cannot be read, fails here with the reason.
    static func named(_ name: String, options: CatalogOptions, use: String) async throws -> ServerAdapter {
        let state = try await options.withCatalog { try await $0.load() }
        guard let server = state.servers[try state.require(ManagedServer.self, named: name)]?.definition else {
            throw CommandFailure("no server is named '\(name)': see 'tidemark server list'")
        }
        switch server.platform {
        case .lab:
            let folder = server.folder ?? ""
            guard FileManager.default.fileExists(atPath: folder + "/lab.json") else {
                throw CommandFailure(
                    "the lab '\(server.name)' has no lab.json in \(folder): create it with 'tidemark lab create \(folder)'")
            }
            return ServerAdapter(server: server, adapter: try LabAdapter(root: folder))
        case .vcenter:
            let endpoint = try server.endpoint(for: use, secrets: try options.global.secretsLocation())
            return ServerAdapter(server: server, adapter: VSphereAdapter(endpoint: endpoint, logger: try options.global.makeLogger()))
        }
    }

    /// The inventory as jobs see it; a refusal (certificate, login, address) says which server.
    func inventory() async throws -> Inventory {
        do {
            return try await adapter.inventory()
        } catch let error as InfrastructureError {
            await disconnect()
            throw CommandFailure("\(label) at \(location): \(error)")
        }
    }

    /// Logs out of a vCenter (its sessions count against a limit).
    func disconnect() async {
        await vSphere?.disconnect()
    }
}
