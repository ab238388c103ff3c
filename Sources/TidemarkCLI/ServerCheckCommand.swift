import ArgumentParser
import Catalog
import Infrastructure

/// `tidemark server check NAME`: connects to a managed server as a session would, so an
/// administrator sees before the first job whether Tidemark can reach it, trusts its
/// certificate and can log in — and what it holds.
struct ServerCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Connect to a vCenter (or a lab) as a job would: its certificate's thumbprint, API version and what it holds.",
        discussion: """
            Exits 1 with the reason when the server cannot be used: an address nobody answers at, a
            certificate no CA vouches for (with its thumbprint and the command that trusts it), a
            refused login, a password variable or file that cannot be read, a lab without lab.json.
            """)

    @OptionGroup var options: CatalogOptions
    @Argument(help: "The managed server's name.") var name: String

    func run() async throws {
        let target = try await ServerAdapter.named(name, options: options, use: "server check")
        let inventory = try await target.inventory()
        var lines: [(String, String)] = []
        if let vSphere = target.vSphere {
            let about = try await vSphere.client.about()
            await target.disconnect()
            lines.append(("certificate", Self.certificate(about.certificateThumbprint, pinned: target.server.thumbprint != nil)))
            let product = about.fullName.isEmpty ? "" : about.fullName + " "
            lines.append(("server", "\(product)(\(about.apiType.isEmpty ? "API" : about.apiType + ", API") \(about.apiVersion))"))
            print("\(target.label) at \(target.location)")
        } else {
            lines.append(("lab.json", "found in \(target.location)"))
            print("\(target.label) at \(target.location): a lab (files standing in for a vCenter), not a vCenter")
        }
        lines.append(("inventory", Self.counts(inventory)))
        let width = lines.map(\.0.count).max() ?? 0
        for (label, value) in lines { print("  \(label.padding(toLength: width, withPad: " ", startingAt: 0))  \(value)") }
        print("ok: jobs can use '\(target.server.name)'; 'tidemark server inventory \(target.server.name)' lists its objects")
    }

    static func certificate(_ thumbprint: String?, pinned: Bool) -> String {
        guard let thumbprint else { return "none: plain HTTP, the password crosses the network in clear" }
        return "SHA-256 \(thumbprint) (" + (pinned ? "pinned with --thumbprint" : "vouched for by a CA this machine trusts") + ")"
    }

    /// "1 datacenter, 4 hosts, 12 VMs (2 clusters, 5 folders, 3 tags, 24 disks)".
    static func counts(_ inventory: Inventory) -> String {
        func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
        let disks = inventory.virtualMachines.reduce(0) { $0 + $1.disks.count }
        return "\(count(inventory.datacenters.count, "datacenter")), \(count(inventory.hosts.count, "host")), "
            + "\(count(inventory.virtualMachines.count, "VM")) (\(count(inventory.clusters.count, "cluster")), "
            + "\(count(inventory.folders.count, "folder")), \(count(inventory.tags.count, "tag")), \(count(disks, "disk")))"
    }
}
