import ArgumentParser
import Catalog
import CommandLineSupport
import EventStore
import Foundation
import JobManager
import Secrets

/// `tidemark proxy list`: the catalog's proxies with where their data moves now — embedded in
/// the Job Manager, or a process on another host (live with its load and last heartbeat, or
/// offline since its heartbeats stopped, or unverified: not the host its enrolled key is on).
struct ProxyListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the proxies with their processes: host, tasks running, last heartbeat (JSON with --json; --as-of shows the past).")

    @OptionGroup var options: CatalogOptions
    @OptionGroup var view: ViewOptions

    func run() async throws {
        if let moment = try view.moment() {
            let views = try await options.withCatalog { CatalogView.views(ProxyDefinition.self, in: try await $0.load(asOf: moment)) }
            return CatalogView.printList(views, kind: .proxy, json: view.json)
        }
        let (views, presence, enrolled) = try await options.withCatalog { catalog in
            let state = try await catalog.load()
            let enrolled = state.proxies.compactMapValues(\.definition.enrolledKey)
            return (
                try await CatalogView.views(ProxyDefinition.self, from: catalog),
                try await ProxyFleet(store: catalog.events).presence(enrolledKeys: enrolled), enrolled
            )
        }
        if view.json {
            let shown = views.map { proxy -> String in
                var proxy = proxy
                proxy.extraJSON = [
                    "\"enrolled_key_fingerprint\":"
                        + (enrolled[proxy.id].flatMap(ProxyIdentity.publicKey(from:)).map {
                            JSONString.quoted(ProxyIdentity.fingerprint(of: $0))
                        }
                            ?? "null"),
                    Self.processJSON(presence[proxy.id] ?? .embedded),
                ]
                return proxy.json
            }
            return print("[" + shown.joined(separator: ",") + "]")
        }
        guard !views.isEmpty else { return print("no proxies; add one with 'tidemark proxy add'") }
        var rows = [["NAME", "SITE", "TRANSPORT", "TASKS", "ENROLLED", "PROCESS", "HOST", "RUNNING", "HEARTBEAT", "VERSION"]]
        var notes: [String] = []
        for proxy in views {
            let state = presence[proxy.id] ?? .embedded
            let process = state.process
            rows.append(
                [
                    proxy.name, proxy.summary[0], proxy.summary[1], state.mover.map { "\($0.maxTasks)" } ?? proxy.summary[2],
                    enrolled[proxy.id].flatMap(ProxyIdentity.publicKey(from:)).map { String(ProxyIdentity.fingerprint(of: $0).prefix(19)) }
                        ?? "no",
                    state.name,
                    process.map(\.host) ?? "-", process.map { "\($0.runningTasks)" } ?? "-",
                    process.map { "\(Int($0.heartbeatAge.rounded())) s ago" } ?? "-", "\(proxy.version)",
                ])
            if case .unverified(let process, let why) = state {
                notes.append("\(proxy.name): the process on \(process.host) (pid \(process.pid)) gets no task: \(why)")
            }
        }
        print(TextTable.render(rows), terminator: "")
        for note in notes { print(note) }
    }

    static func processJSON(_ presence: ProxyPresence) -> String {
        guard let process = presence.process else { return "\"process\":{\"state\":\"embedded\"}" }
        var why = ""
        if case .unverified(_, let reason) = presence { why = ",\"unverified_because\":\(JSONString.quoted(reason))" }
        let started = ISO8601DateFormatter().string(from: process.startedAt)
        return
            "\"process\":{\"state\":\(JSONString.quoted(presence.name)),\"instance_id\":\(JSONString.quoted(process.instanceID)),\"host\":\(JSONString.quoted(process.host)),\"pid\":\(process.pid),\"version\":\(JSONString.quoted(process.version)),\"max_tasks\":\(process.maxTasks),\"running_tasks\":\(process.runningTasks),\"started_at\":\(JSONString.quoted(started)),\"seconds_since_heartbeat\":\((process.heartbeatAge * 10).rounded() / 10),\"login\":\(JSONString.quoted(process.login))\(why)}"
    }
}
