import ArgumentParser
import CommandLineSupport
import EventStore
import Foundation
import Projections

/// `tidemark projections`: the read models folded from the log.
struct ProjectionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections",
        abstract: "Inspect, follow, rebuild and verify the projections (the tables SQL tools read).",
        subcommands: [Status.self, Follow.self, Rebuild.self, Verify.self])

    static func selected(_ name: String?) throws -> [any Projection] {
        guard let name else { return StandardProjections.all }
        return [try StandardProjections.named(name)]
    }

    static func withProjector<T>(_ options: GlobalOptions, _ body: (Projector) async throws -> T) async throws -> T {
        let logger = try options.makeLogger()
        let store = try await CatalogDatabase(options: options, logger: logger).openEventStore(maximumConnections: 3)
        do {
            let value = try await body(Projector(store: store, logger: logger))
            await store.pool.close()
            return value
        } catch {
            await store.pool.close()
            throw error
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each projection's position in the log and its lag.")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON for scripts.") var json = false

        func run() async throws {
            let statuses = try await withProjector(options) { try await $0.status() }
            let formatter = ISO8601DateFormatter()
            if json {
                let items = statuses.map {
                    "{\"name\":\"\($0.name)\",\"position\":\($0.position),\"head\":\($0.head),\"events_behind\":\($0.eventsBehind),\"lag_seconds\":\($0.lagSeconds)}"
                }
                print("[" + items.joined(separator: ",") + "]")
                return
            }
            var rows = [["PROJECTION", "POSITION", "HEAD", "BEHIND", "LAG", "UPDATED", "REBUILT"]]
            for status in statuses {
                rows.append([
                    status.name, "\(status.position)", "\(status.head)", "\(status.eventsBehind)",
                    String(format: "%.1fs", status.lagSeconds),
                    formatter.string(from: status.updatedAt), status.rebuiltAt.map(formatter.string(from:)) ?? "never",
                ])
            }
            print(TextTable.render(rows, rightAligned: [1, 2, 3, 4]), terminator: "")
        }
    }

    struct Follow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keep the projections caught up with the log until interrupted (what 'tidemark server' does inside).")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await withProjector(options) { projector in
                print("following the log; Ctrl-C stops")
                try await projector.run()
            }
        }
    }

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Rebuild projections from position zero into shadow tables, then swap them in atomically (readers keep the old rows meanwhile)."
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "One projection (catalog, sessions, statistics); all when left out.") var name: String?
        @Flag(help: "Rebuild even from a log whose hash chain is broken (an edited, deleted or forged event).")
        var ignoreBrokenChain = false

        func run() async throws {
            let selected = try selected(name)
            let report = try await withProjector(options) { projector in
                // A rebuild makes the log official: a log that no longer matches its chain is
                // refused unless the operator says so.
                let verification = try await EventChain.verify(projector.store)
                if let broken = verification.broken {
                    guard ignoreBrokenChain else {
                        throw CommandFailure(
                            "the log's hash chain is broken at position \(broken.position) (\(broken.kind.rawValue)): a rebuild would make the change official. See 'tidemark events verify'; give --ignore-broken-chain to rebuild anyway"
                        )
                    }
                    print(
                        "warning: the log's hash chain is broken at position \(broken.position) (\(broken.kind.rawValue)); rebuilding anyway (--ignore-broken-chain)"
                    )
                }
                return try await projector.rebuild(selected)
            }
            print(
                "rebuilt \(report.projections.joined(separator: ", ")) from \(report.events) events in \(String(format: "%.1f", report.seconds)) s; live at position \(report.position)"
            )
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Rebuild projections into shadow tables and report every row that differs from the live tables (exit status 1 if any).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "One projection (catalog, sessions, statistics); all when left out.") var name: String?

        func run() async throws {
            let selected = try selected(name)
            let differences = try await withProjector(options) { try await $0.verify(selected) }
            if differences.isEmpty {
                print("\(selected.map(\.name).joined(separator: ", ")): the live tables equal a rebuild from the log")
                return
            }
            for difference in differences { print(difference) }
            let tables = Dictionary(grouping: differences, by: { "\($0.projection).\($0.table)" })
            let cut = tables.filter { $0.value.count >= Projector.differencesShown }.keys.sorted()
            let more = cut.isEmpty ? "" : " (at least: \(cut.joined(separator: ", ")) list only their first \(Projector.differencesShown))"
            print("\(differences.count) row(s) differ\(more): 'tidemark projections rebuild' replaces the live rows with the rebuild")
            throw ExitCode(1)
        }
    }
}
