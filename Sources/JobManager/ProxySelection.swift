import Catalog
import Infrastructure
import WorkflowEvents

/// Scores the proxies a task may use: transport mode first (direct storage > hot-add >
/// network), then proximity (same site as the repository), then load. Lower wins; every
/// candidate's score and reason go into the `ProxySelected` event.
enum ProxySelection {
    struct Candidate: Sendable {
        let id: UUIDString
        let proxy: ProxyDefinition
        let mode: ProxyDefinition.TransportMode
        let score: Double
        let reason: String
        /// The process that moves its bytes; nil for the Job Manager's embedded data mover.
        let process: ProxyProcess?

        /// Tasks it runs at once: its process's limit when one serves it.
        var taskLimit: Int { process?.maxTasks ?? proxy.maxConcurrentTasks }
    }

    /// Proxies left out because their process is offline, for the reason a task waits.
    struct Ranking: Sendable {
        let candidates: [Candidate]
        let offline: [ProxyProcess]
    }

    /// Where a disk lives, by id and by name (administrators name hosts, proxies' definitions
    /// may use either).
    struct Placement: Sendable {
        var hosts: Set<String>
        var clusters: Set<String>
        var datastores: Set<String>

        init(_ machine: VirtualMachine, _ disk: VirtualDisk, in inventory: Inventory) {
            hosts = [machine.host]
            hosts.formUnion(inventory.hosts.filter { $0.id == machine.host }.map(\.name))
            clusters = [machine.cluster]
            clusters.formUnion(inventory.clusters.filter { $0.id == machine.cluster }.map(\.name))
            datastores = [disk.datastore]
            datastores.formUnion(inventory.datastores.filter { $0.id == disk.datastore }.map(\.name))
        }
    }

    /// The usable proxies, best first. `load` is each proxy's share of slots in use (0-1).
    /// `presence`: proxies served by a process (absent: embedded); an offline one is left out,
    /// a live one only serves disks on datastores its process reported it reaches on `server`,
    /// and one whose process does not verify is moved by the Job Manager itself.
    static func rank(
        _ proxies: [(UUIDString, ProxyDefinition)], placement: Placement, server: UUIDString, repositorySite: String,
        load: [UUIDString: Double], presence: [UUIDString: ProxyPresence] = [:]
    ) -> Ranking {
        var offline: [ProxyProcess] = []
        let candidates: [Candidate] = proxies.compactMap { id, proxy in
            guard let mode = mode(of: proxy, at: placement) else { return nil }
            var process: ProxyProcess?
            var impostor: String?
            switch presence[id] ?? .embedded {
            case .embedded: break
            case .unverified(let unverified, let why):
                impostor = "; not its process on \(unverified.host.prefix(64)): \(why)"
            case .offline(let lost):
                offline.append(lost)
                return nil
            case .live(let live):
                guard placement.datastores.contains(where: { live.reach.reaches(server: server, datastore: $0) }) else { return nil }
                process = live
            }
            let remote = proxy.site != repositorySite
            let share = load[id] ?? 0
            let score = Double(mode.rank) * 100 + (remote ? 10 : 0) + share * 10
            let place = remote ? "site \(proxy.site), repository at \(repositorySite)" : "same site as the repository"
            let limit = process?.maxTasks ?? proxy.maxConcurrentTasks
            let mover = process.map { "process on \($0.host)" } ?? "embedded"
            let reason =
                "\(mode.rawValue); \(place); \(mover)\(impostor ?? ""); \(Int((share * 100).rounded()))% of its \(limit) slots in use"
            return Candidate(id: id, proxy: proxy, mode: mode, score: score, reason: reason, process: process)
        }
        return Ranking(candidates: candidates.sorted { ($0.score, $0.proxy.name) < ($1.score, $1.proxy.name) }, offline: offline)
    }

    /// The best mode the proxy has for this disk, or nil when it cannot reach it at all.
    static func mode(of proxy: ProxyDefinition, at placement: Placement) -> ProxyDefinition.TransportMode? {
        for mode in proxy.transportModes.sorted() {
            switch mode {
            case .directStorage where !placement.datastores.isDisjoint(with: proxy.datastores):
                return mode
            case .hotAdd where proxy.host.map(placement.hosts.contains) == true || proxy.cluster.map(placement.clusters.contains) == true:
                return mode
            case .network:
                return mode
            default:
                continue
            }
        }
        return nil
    }
}
