import ArgumentParser
import CommandLineSupport
import Foundation
import JobManager
import Postgres

/// `tidemark files find`: files by name in the guest file index, across restore points.
struct FilesFindCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "find",
        abstract: "Find guest files by name in the guest file index (jobs with --index-guest-files yes), across restore points.")
    @Option(help: ArgumentHelp("The file's name, with * and ? as in the shell ('nginx*.conf').", valueName: "pattern")) var name: String
    @Option(help: "Only this VM (its name or id).") var vm: String?
    @Option(
        help: ArgumentHelp(
            "Only restore points made since this time (2026-11-30T22:00:00Z, or local '2026-11-30 22:00').", valueName: "TIME"))
    var since: String?
    @Option(help: "At most this many matches.") var limit: Int = 1_000
    @Flag(help: "One JSON object per match, one per line.") var json = false
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard !name.isEmpty, !name.contains("/") else {
            throw ValidationError("--name '\(name)' is a file's name (no '/'): use --name 'nginx*.conf', then 'files list' for its folder")
        }
        if let since, RestorePointOptions.time(since) == nil {
            throw ValidationError(
                "--since '\(since)' is not a time: write 2026-11-30T22:00:00Z, 2026-11-30 22:00 (local time) or 2026-11-30")
        }
        guard (1...100_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 100000, not \(limit)") }
    }

    func run() async throws {
        let logger = try global.makeLogger()
        let database = try CatalogDatabase(options: global, logger: logger)
        let store = try await database.openEventStore(maximumConnections: 2)
        let matches = try await withClosing(store) { store in
            try await GuestFileSearch(pool: store.pool).find(
                pattern: name, vm: vm, since: since.flatMap(RestorePointOptions.time), limit: limit)
        }
        let formatter = ISO8601DateFormatter()
        if json {
            for match in matches {
                let fields: [String: Any] = [
                    "vm": match.vmName, "restore_point": match.restorePoint,
                    "point_created_at": formatter.string(from: match.pointCreatedAt),
                    "path": match.path, "kind": match.kind, "size": match.size, "modified_at": formatter.string(from: match.modifiedAt),
                ]
                print(String(decoding: try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self))
            }
            return
        }
        guard !matches.isEmpty else {
            print("no indexed file is named '\(name)'\(vm.map { " on \($0)" } ?? ""): only jobs with --index-guest-files yes are indexed")
            return
        }
        var rows = [["VM", "RESTORE POINT", "POINT TIME", "PATH", "SIZE", "MODIFIED"]]
        for match in matches {
            rows.append([
                match.vmName, match.restorePoint, formatter.string(from: match.pointCreatedAt), match.path, "\(match.size)",
                formatter.string(from: match.modifiedAt),
            ])
        }
        print(TextTable.render(rows), terminator: "")
        if matches.count == limit { print("(the first \(limit) matches: narrow with --vm or --since, or raise --limit)") }
    }
}
