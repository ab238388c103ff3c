import ArgumentParser
import Catalog
import CommandLineSupport
import EventStore
import Foundation
import JobManager

/// `tidemark proxy list`: the catalog's proxies with where their data moves now — embedded in
/// the Job Manager, or a process on another host (live with its load and last heartbeat, or
/// offline since its heartbeats stopped).
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
        let (views, presence) = try await options.withCatalog { catalog in
            (try await CatalogView.views(ProxyDefinition.self, from: catalog), try await ProxyFleet(store: catalog.events).presence())
        }
        if view.json {
            let shown = views.map { proxy -> String in
                var proxy = proxy
                proxy.extraJSON = [Self.processJSON(presence[proxy.id] ?? .embedded)]
                return proxy.json
            }
            return print("[" + shown.joined(separator: ",") + "]")
        }
        guard !views.isEmpty else { return print("no proxies; add one with 'tidemark proxy add'") }
        var rows = [["NAME", "SITE", "TRANSPORT", "TASKS", "PROCESS", "HOST", "RUNNING", "HEARTBEAT", "VERSION"]]
        for proxy in views {
            let state = presence[proxy.id] ?? .embedded
            let process = state.process
            rows.append(
                [
                    proxy.name, proxy.summary[0], proxy.summary[1], process.map { "\($0.maxTasks)" } ?? proxy.summary[2], state.name,
                    process.map(\.host) ?? "-", process.map { "\($0.runningTasks)" } ?? "-",
                    process.map { "\(Int($0.heartbeatAge.rounded())) s ago" } ?? "-", "\(proxy.version)",
                ])
        }
        print(TextTable.render(rows), terminator: "")
    }

    static func processJSON(_ presence: ProxyPresence) -> String {
        guard let process = presence.process else { return "\"process\":{\"state\":\"embedded\"}" }
        let started = ISO8601DateFormatter().string(from: process.startedAt)
        return
            "\"process\":{\"state\":\(JSONString.quoted(presence.name)),\"instance_id\":\(JSONString.quoted(process.instanceID)),\"host\":\(JSONString.quoted(process.host)),\"pid\":\(process.pid),\"version\":\(JSONString.quoted(process.version)),\"max_tasks\":\(process.maxTasks),\"running_tasks\":\(process.runningTasks),\"started_at\":\(JSONString.quoted(started)),\"seconds_since_heartbeat\":\((process.heartbeatAge * 10).rounded() / 10)}"
    }
}
