import ArgumentParser
import Catalog
import CatalogStore
import CommandLineSupport
import EventStore
import Foundation
import Postgres
import Projections

/// Options of every catalog command: where the catalog is, and who acts.
struct CatalogOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions

    @Option(
        help: ArgumentHelp(
            "Who makes the change, recorded in the event's metadata beside the OS user (default: cli:<OS user>).", valueName: "name"))
    var actor: String?

    /// The actor as given, always with the OS account that ran the command: `--actor` is
    /// free text, and an audit trail must not rest on it alone.
    var metadata: EventMetadata {
        let account = "cli:\(ProcessInfo.processInfo.userName)"
        return EventMetadata(
            correlationID: UUID(), actor: actor.map { "\($0) (\(account))" } ?? account, host: ProcessInfo.processInfo.hostName)
    }

    /// Opens the catalog, runs `body`, and closes the connections whatever happens. A command
    /// that `appending` brings every projection up to date before it exits; one that only reads
    /// does not pay for that.
    func withCatalog<T>(appending: Bool = false, _ body: (CatalogStore) async throws -> T) async throws -> T {
        let logger = try global.makeLogger()
        let store = try await CatalogDatabase(options: global, logger: logger).openEventStore(maximumConnections: 3)
        do {
            let value = try await body(CatalogStore(events: store, logger: logger))
            if appending { await ProjectionCatchUp.afterAppending(store, logger: logger) }
            await store.pool.close()
            return value
        } catch {
            await store.pool.close()
            throw error
        }
    }
}

/// `--as-of` and `--json` of `list` and `show`.
struct ViewOptions: ParsableArguments {
    @Option(
        name: .customLong("as-of"),
        help: ArgumentHelp(
            "Show the catalog as it was at this time, folded from the log: 2026-11-01, '2026-11-01 18:30', or ISO 8601 with a zone.",
            valueName: "time"))
    var asOf: String?

    @Flag(help: "Print JSON for scripts.") var json = false

    /// A bad `--as-of` is a usage error, refused before the command runs.
    func validate() throws { _ = try moment() }

    func moment() throws -> Date? { try Self.parseMoment(asOf) }

    /// An `--as-of` value, or nil when none was given.
    static func parseMoment(_ text: String?) throws -> Date? {
        guard let text else { return nil }
        guard let date = parse(text) else {
            throw ValidationError(
                "--as-of '\(text)' is not a time: write 2026-11-01, '2026-11-01 18:30' (local time) or 2026-11-01T18:30:00Z")
        }
        return date
    }

    static func parse(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = .current
        for format in ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}

/// `--expected-version` of `update` and `remove`.
struct VersionOption: ParsableArguments {
    @Option(
        name: .customLong("expected-version"),
        help: ArgumentHelp(
            "The version you read (see 'show'): if the object is at another version now, the command is refused and says what changed since.",
            valueName: "n"))
    var expectedVersion: Int64?
}
