import Catalog
import CatalogStore
import Crypto
import EventStore
import Foundation
import Infrastructure
import JobManager
import Postgres
import Secrets
import TestSupport
import WorkflowEvents

/// A job environment with proxy processes: `tidemark proxy run` children on this machine (or
/// in network namespaces), a Job Manager in the test, and the session's events to check.
struct ProxyWorld {
    let environment: JobEnvironment

    /// `enrolled`: the hosts of proxy-1 and proxy-2 (this machine, a key file each) are enrolled
    /// before any session plans, as an administrator sets proxies up before running them.
    static func make(
        vms: Int, diskSize: Int64, disksPerVM: Int = 1, throttle bytesPerSecond: Int64? = nil, cluster: PostgresConnectionSettings? = nil,
        enrolled: Bool = true
    ) async throws -> ProxyWorld {
        let environment = try await JobEnvironment.make(vms: vms, diskSize: diskSize, disksPerVM: disksPerVM, cluster: cluster)
        if let bytesPerSecond {
            try await CatalogStore(events: environment.database.eventStore()).execute(metadata: EventMetadata(actor: "test")) {
                start throws(CatalogError) in
                var plan = CatalogPlan(start)
                try plan.add(ThrottlingRule(name: "slow", bytesPerSecond: bytesPerSecond))
                return plan.changes
            }
        }
        let world = ProxyWorld(environment: environment)
        if enrolled {
            try await world.enrol("proxy-1")
            try await world.enrol("proxy-2")
        }
        return world
    }

    /// The key file of proxy `name`'s host in this world.
    func keyFile(_ name: String) -> String {
        environment.folder.appendingPathComponent("keys/\(name).key").path
    }

    /// Enrols the key in `keyFile(name)` (made if missing) for proxy `name`, as an
    /// administrator does with `tidemark proxy enrol`.
    func enrol(_ name: String) async throws {
        let key = try ProxyIdentity.load(orCreateAt: keyFile(name)).identity.publicKeyText
        try await CatalogStore(events: environment.database.eventStore()).execute(metadata: EventMetadata(actor: "test")) {
            state throws(CatalogError) in
            let id = try state.require(ProxyDefinition.self, named: name)
            guard state.proxies[id]?.definition.enrolledKey != key else { return [] }
            return try CatalogDecider.update(id: id, basedOn: nil, in: state) { (proxy: inout ProxyDefinition) throws(CatalogError) in
                proxy.enrolledKey = key
            }
        }
    }

    /// The proxy login's connection string (`tidemark_proxy`), for `tidemark proxy run`.
    var proxyDatabaseURL: String {
        environment.database.service.with("user", "tidemark_proxy").keywordConnectionString
    }

    /// Runs a `tidemark proxy ...` command as a proxy host would: the proxy login.
    func proxyCommand(_ arguments: [String]) throws -> (status: Int32, killed: Bool, output: String) {
        try TidemarkProcess.run(arguments + ["--database-url", proxyDatabaseURL], in: environment.folder)
    }

    /// Starts `tidemark proxy run NAME` (enrolling it if the world did not) with a short
    /// heartbeat and lease, as the proxy login, and waits until it registered. An enrolment
    /// applies from the next session: a session planned before it moves the data itself.
    func startProxy(
        _ name: String, lease: Double = 1.5, maxTasks: Int? = nil, wrapper: [String] = [], databaseURL: String? = nil,
        extra: [String] = []
    ) async throws -> RunningTidemark {
        try await enrol(name)
        var arguments = [
            "proxy", "run", name, "--database-url", databaseURL ?? proxyDatabaseURL, "--key-file", keyFile(name),
            "--heartbeat-seconds", "\(lease / 5)", "--lease-seconds", "\(lease)", "-v",
        ]
        if let maxTasks { arguments += ["--max-tasks", "\(maxTasks)"] }
        arguments += extra
        let proxy = try RunningTidemark(arguments, in: environment.folder, wrapper: wrapper)
        guard try await proxy.waitFor("running on") else {
            throw TestSetupError("tidemark proxy run \(name) did not register:\n\(proxy.output)")
        }
        return proxy
    }

    /// A Job Manager in this process that looks at its proxies' reports often.
    func manager() -> JobManager {
        var settings = JobManagerSettings(checkpointBytes: 1 << 20, retryWait: .zero)
        settings.proxyPollInterval = .milliseconds(50)
        settings.checkpointInterval = .milliseconds(300)
        settings.offlineProxyWait = .seconds(20)
        return JobManager(store: environment.database.eventStore(), settings: settings)
    }

    /// The session's events as (type, data) in log order.
    func events(of session: String) async throws -> [(type: String, data: [String: Any])] {
        let result = try await environment.database.administratorQuery(
            "SELECT event_type, data::text FROM tidemark.events WHERE stream_id = $1 ORDER BY position", ["session-" + session])
        return try (0..<result.rowCount).map { row in
            let text: String = try result.decode(row, 1)
            return (try result.decode(row, 0), (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:])
        }
    }

    /// Events of every proxy process stream, by type.
    func processEvents(_ type: String) async throws -> [[String: Any]] {
        let result = try await environment.database.administratorQuery(
            "SELECT data::text FROM tidemark.events WHERE category = 'proxyprocess' AND event_type = $1 ORDER BY position", [type])
        return try (0..<result.rowCount).map { row in
            (try JSONSerialization.jsonObject(with: Data(try result.decode(row, 0, as: String.self).utf8)) as? [String: Any]) ?? [:]
        }
    }

    /// SHA-256 of every lab disk as it is now, read through a snapshot: what a restore must give.
    func labDiskHashes() async throws -> [String: String] {
        let lab = try LabAdapter(root: environment.labPath)
        var hashes: [String: String] = [:]
        for machine in try await lab.inventory().virtualMachines {
            let snapshot = try await lab.createSnapshot(vm: machine.id, name: "check", description: "", quiesce: false)
            for disk in machine.disks {
                let source = try await lab.openDisk(vm: machine.id, snapshot: snapshot.id, diskKey: disk.key)
                var hash = SHA256()
                var offset: Int64 = 0
                while offset < source.size {
                    let count = Int(min(1 << 20, source.size - offset))
                    hash.update(data: try await source.bytes(at: offset, count: count))
                    offset += Int64(count)
                }
                hashes["\(machine.id)/disk-\(disk.key)"] = hash.finalize().map { String(format: "%02x", $0) }.joined()
            }
            try await lab.removeSnapshot(vm: machine.id, snapshot: snapshot.id)
        }
        return hashes
    }

    /// Checks a finished session: every task ended once, each transfer finished once, and every
    /// disk restores byte-identical to the lab. Returns the events for more checks.
    func checkDone(_ session: String, tasks: Int) async throws -> [(type: String, data: [String: Any])] {
        let events = try await events(of: session)
        let finished = events.filter { $0.type == "TransferFinished" }.compactMap { $0.data["task_id"] as? String }
        guard finished.count == tasks, Set(finished).count == tasks else {
            throw TestSetupError("expected \(tasks) transfers finished once each, got \(finished.sorted())")
        }
        let outcome = try await environment.outcome()
        let expected = try await labDiskHashes()
        guard outcome.restored == expected else {
            throw TestSetupError("restores differ from the lab's disks: \(outcome.restored) vs \(expected)")
        }
        return events
    }
}
