import ArgumentParser
import CatalogStore
import CommandLineSupport
import Foundation
import JobManager
import PlatformAdapters
import ProxyAgent
import Secrets
import ServiceLifecycle

/// `tidemark proxy run NAME`: this host becomes the data mover of a catalog proxy until
/// SIGTERM or SIGINT (then its tasks are handed back and resume elsewhere at once).
struct ProxyRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a proxy on this host: take the tasks the Job Managers assign to it and move their data.",
        discussion:
            "This host needs the catalog database (as a login in the tidemark_proxy role), the job's repository folder (the same path as on the backup server), and the lab folder or the vCenter the proxy reads from. Its identity key must be enrolled first: 'tidemark proxy key NAME' here prints it, 'tidemark proxy enrol NAME --public-key KEY' on the backup server pins it. vCenter logins are handed over per task, sealed to this process's key; nothing is stored here."
    )

    @OptionGroup var options: GlobalOptions
    @OptionGroup var key: ProxyKeyFileOption
    @Argument(help: "The proxy's name in the catalog ('tidemark proxy add NAME' first).") var name: String
    @Option(name: .customLong("max-tasks"), help: "Tasks at once (default: the proxy's limit in the catalog).") var maxTasks: Int?
    @Option(name: .customLong("heartbeat-seconds"), help: "How often it says it is alive.") var heartbeatSeconds = 2.0
    @Option(
        name: .customLong("lease-seconds"),
        help: "How long without a heartbeat before its tasks move to another proxy (and it stops them itself).")
    var leaseSeconds = 10.0
    @Option(
        name: .customLong("reach-check-seconds"),
        help: "How often it checks again which servers and datastores it reaches (a server added to the catalog, a share mounted).")
    var reachCheckSeconds = 60.0

    func validate() throws {
        if let maxTasks, !(1...256).contains(maxTasks) {
            throw ValidationError("--max-tasks \(maxTasks) is out of range: give 1 to 256")
        }
        guard (1...86_400).contains(reachCheckSeconds) else {
            throw ValidationError("--reach-check-seconds \(reachCheckSeconds) is out of range: give 1 to 86400 (a day)")
        }
        guard heartbeatSeconds > 0, leaseSeconds >= heartbeatSeconds * 2 else {
            throw ValidationError(
                "--lease-seconds \(leaseSeconds) must be at least twice --heartbeat-seconds \(heartbeatSeconds) (a missed heartbeat must not cost the lease)"
            )
        }
    }

    func run() async throws {
        let logger = try options.makeLogger(label: "tidemark.proxy")
        let store = try await CatalogDatabase(options: options, logger: logger).openEventStore(
            maximumConnections: 8, role: "tidemark_proxy")
        let identity: ProxyIdentity, keyPath: String
        do {
            // A name the catalog does not have makes no key file.
            _ = try ProxyAgent.proxy(named: name, in: try await CatalogStore(events: store, logger: logger).load())
            (identity, keyPath, _) = try await key.identity(for: name, options)
        } catch {
            await store.pool.close()
            throw error
        }
        let agent = ProxyAgent(
            name: name, store: store, adapters: PlatformAdapters.standard,
            settings: ProxyAgentSettings(
                identity: identity, keyFile: keyPath, maxTasks: maxTasks, heartbeatInterval: .milliseconds(Int64(heartbeatSeconds * 1000)),
                leaseSeconds: leaseSeconds, reachInterval: .milliseconds(Int64(reachCheckSeconds * 1000)),
                version: TidemarkVersion.current),
            logger: logger)
        let group = ServiceGroup(
            services: [ProxyAgentService(agent: agent)], gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [],
            logger: logger)
        do {
            try await group.run()
        } catch {
            await store.pool.close()
            throw error
        }
        await store.pool.close()
        print("proxy '\(name)' stopped")
    }
}

/// The agent as a service: a graceful shutdown cancels it, and it hands its tasks back.
struct ProxyAgentService: Service {
    let agent: ProxyAgent

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await agent.run { registered in
                let reach = registered.reach.servers.isEmpty ? "no managed server" : "\(registered.reach.servers.count) managed server(s)"
                print(
                    "proxy '\(registered.proxyName)' running on \(registered.host) as process \(registered.instance): up to \(registered.maxTasks) tasks, reaches \(reach); until SIGTERM or Ctrl-C"
                )
                fflush(nil)
            }
        }
    }
}
