import Catalog
import CatalogStore
import CommandLineSupport
import EventStore
import Foundation
import Postgres
import Projections

/// One catalog object as `list` and `show` present it, from the projections or from the log.
struct ObjectView {
    let kind: ObjectKind
    let id: String
    let name: String
    let version: Int64
    let createdAt: Date
    let updatedAt: Date
    let updatedBy: String?
    /// Label and value, in display order.
    let fields: [(String, String)]
    /// The list's columns after the name.
    let summary: [String]
    /// The definition as stored (ids, not names).
    let definitionJSON: String
    /// Job only: the last session's result and the next scheduled run, from the projection.
    var lastResult: String?
    /// Job only: why the last session failed or warned.
    var lastReason: String?
    var nextRun: Date?
    /// More `"key":value` members for the JSON form (a proxy's process).
    var extraJSON: [String] = []

    var json: String {
        var fieldsJSON: [String] = []
        for (label, value) in fields { fieldsJSON.append("\(JSONString.quoted(label)):\(JSONString.quoted(value))") }
        var parts = [
            "\"kind\":\(JSONString.quoted(kind.category))", "\"id\":\(JSONString.quoted(id))", "\"name\":\(JSONString.quoted(name))",
            "\"version\":\(version)", "\"created_at\":\(JSONString.quoted(ISO8601DateFormatter().string(from: createdAt)))",
            "\"updated_at\":\(JSONString.quoted(ISO8601DateFormatter().string(from: updatedAt)))",
            "\"updated_by\":" + (updatedBy.map(JSONString.quoted) ?? "null"),
            "\"settings\":{" + fieldsJSON.joined(separator: ",") + "}", "\"definition\":" + definitionJSON,
        ]
        if kind == .job {
            parts.append("\"last_result\":" + (lastResult.map(JSONString.quoted) ?? "null"))
            parts.append("\"last_reason\":" + (lastReason.map(JSONString.quoted) ?? "null"))
            parts.append("\"next_run_at\":" + (nextRun.map { JSONString.quoted(ISO8601DateFormatter().string(from: $0)) } ?? "null"))
        }
        return "{" + (parts + extraJSON).joined(separator: ",") + "}"
    }
}

/// The catalog's presentation: per kind, the list columns and the `show` fields.
enum CatalogView {
    static func headers(_ kind: ObjectKind) -> [String] {
        switch kind {
        case .server: return ["NAME", "PLATFORM", "ADDRESS", "USER", "VERSION"]
        case .repository: return ["NAME", "PATH", "TASKS", "FREE-SPACE MIN", "SITE", "VERSION"]
        case .proxy: return ["NAME", "SITE", "TRANSPORT", "TASKS", "PLACEMENT", "VERSION"]
        case .throttle: return ["NAME", "FROM", "TO", "RATE", "WINDOW", "VERSION"]
        case .job: return ["NAME", "ENABLED", "SCHEDULE", "REPOSITORY", "OBJECTS", "LAST RESULT", "VERSION"]
        }
    }

    static func view<D: CatalogDefinition>(
        id: String, definition: D, version: Int64, createdAt: Date, updatedAt: Date, updatedBy: String?, name: (UUIDString) -> String
    ) -> ObjectView {
        var fields: [(String, String)] = [("name", definition.name)]
        var summary: [String] = []
        switch definition {
        case let server as ManagedServer:
            let address = server.url ?? server.folder ?? ""
            fields += [("platform", server.platform.rawValue), (server.platform == .lab ? "folder" : "url", address)]
            if let user = server.user { fields.append(("user", user)) }
            if let reference = server.passwordReference { fields.append(("password", reference.description)) }
            if let thumbprint = server.thumbprint { fields.append(("thumbprint", thumbprint)) }
            summary = [server.platform.rawValue, address, server.user ?? "-"]
        case let repository as RepositoryDefinition:
            if let service = repository.service {
                fields += [("url", service.url), ("thumbprint", service.thumbprint), ("token", service.tokenReference?.description ?? "-")]
            } else {
                fields.append(("path", repository.path))
            }
            fields += [
                ("max concurrent tasks", "\(repository.maxConcurrentTasks)"),
                ("free-space threshold", "\(repository.freeSpaceThresholdPercent)%"), ("site", repository.site),
            ]
            summary = [
                repository.service?.url ?? repository.path, "\(repository.maxConcurrentTasks)", "\(repository.freeSpaceThresholdPercent)%",
                repository.site,
            ]
        case let proxy as ProxyDefinition:
            let modes = proxy.transportModes.map(\.rawValue).joined(separator: ",")
            let placement = [proxy.host.map { "host \($0)" }, proxy.cluster.map { "cluster \($0)" }].compactMap { $0 }.joined(
                separator: ", ")
            fields += [
                ("site", proxy.site), ("transport modes", modes), ("max concurrent tasks", "\(proxy.maxConcurrentTasks)"),
                ("datastores", proxy.datastores.isEmpty ? "-" : proxy.datastores.joined(separator: ", ")),
                ("host", proxy.host ?? "-"), ("cluster", proxy.cluster ?? "-"),
            ]
            summary = [proxy.site, modes, "\(proxy.maxConcurrentTasks)", placement.isEmpty ? "-" : placement]
        case let rule as ThrottlingRule:
            let from = rule.sourceSites.map { "site \($0)" } + rule.sourceProxies.map { "proxy \(name($0))" }
            let to = rule.targetRepositories.map(name)
            let fromText = from.isEmpty ? "any" : from.joined(separator: ", ")
            let toText = to.isEmpty ? "any repository" : to.joined(separator: ", ")
            fields += [
                ("from", fromText), ("to", toText), ("rate", Rate.describe(rule.bytesPerSecond)),
                ("window", rule.window?.description ?? "always"),
            ]
            summary = [fromText, toText, Rate.describe(rule.bytesPerSecond), rule.window?.description ?? "always"]
        case let job as JobDefinition:
            let schedule = job.schedule.text(jobName: name)
            fields += [
                ("description", job.description.isEmpty ? "-" : job.description), ("enabled", job.enabled ? "yes" : "no"),
                ("server", name(job.server)), ("objects", job.objects.map(\.description).joined(separator: ", ")),
                ("exclusions", job.exclusions.isEmpty ? "-" : job.exclusions.map(\.description).joined(separator: ", ")),
                ("repository", name(job.repository)),
                ("proxies", job.proxies.isEmpty ? "automatic" : job.proxies.map(name).joined(separator: ", ")),
                ("parallel processing", job.parallelProcessing ? "yes" : "no"), ("schedule", schedule), ("time zone", job.timeZone),
                ("backup window", job.backupWindow?.description ?? "none"), ("retention", job.retention.description),
                ("retry", "\(job.retry.count) times, \(job.retry.waitMinutes) minutes apart"),
                ("application-aware processing", job.applicationAware.rawValue),
                ("block size", JobSettings.describeBlockSize(job.blockSizeBytes)), ("compression level", "\(job.compressionLevel)"),
                ("index guest files", job.indexGuestFiles == true ? "yes" : "no"),
            ]
            if let copy = job.copy {
                fields += [("copy of", name(copy.source)), ("copy mode", copy.mode.rawValue), ("GFS", copy.gfs?.description ?? "none")]
            }
            summary = [job.enabled ? "yes" : "no", schedule, name(job.repository), "\(job.objects.count)"]
        default:
            break
        }
        return ObjectView(
            kind: D.kind, id: id, name: definition.name, version: version, createdAt: createdAt, updatedAt: updatedAt,
            updatedBy: updatedBy, fields: fields, summary: summary, definitionJSON: CatalogCoding.json(definition))
    }

    /// The objects of a kind as the folded catalog holds them (`--as-of`).
    static func views<D: CatalogDefinition>(_ type: D.Type, in state: CatalogState) -> [ObjectView] {
        state.entries(type).values
            .map {
                view(
                    id: $0.id, definition: $0.definition, version: $0.version, createdAt: $0.createdAt, updatedAt: $0.updatedAt,
                    updatedBy: $0.updatedBy, name: state.name(of:))
            }
            .sorted { $0.name.lowercased() < $1.name.lowercased() }
    }

    /// The objects of a kind from the projection tables, caught up first.
    static func views<D: CatalogDefinition>(_ type: D.Type, from catalog: CatalogStore) async throws -> [ObjectView] {
        let projector = Projector(store: catalog.events, projections: [CatalogProjection()])
        try await projector.catchUp()
        let table = CatalogProjection.table(of: D.kind)
        let pool = catalog.events.pool
        let names = try await pool.query(
            """
            SELECT server_id::text, name FROM projection.managed_servers UNION ALL SELECT repository_id::text, name FROM projection.repositories
            UNION ALL SELECT proxy_id::text, name FROM projection.proxies UNION ALL SELECT job_id::text, name FROM projection.jobs
            """)
        var lookup: [String: String] = [:]
        for row in 0..<names.rowCount { lookup[try names.decode(row, 0)] = try names.decode(row, 1) }
        let lastResult = D.kind == .job ? "last_result, next_run_at, last_reason" : "NULL::text, NULL::timestamptz, NULL::text"
        let rows = try await pool.query(
            """
            SELECT \(table.key)::text, definition::text, version, created_at, updated_at, updated_by, \(lastResult)
              FROM projection.\(table.name) ORDER BY lower(name)
            """)
        let decoder = CatalogCoding.decoder()
        var result: [ObjectView] = []
        for row in 0..<rows.rowCount {
            let definition = try decoder.decode(D.self, from: Data(try rows.decode(row, 1, as: String.self).utf8))
            var view = view(
                id: try rows.decode(row, 0), definition: definition, version: try rows.decode(row, 2), createdAt: try rows.decode(row, 3),
                updatedAt: try rows.decode(row, 4), updatedBy: try rows.decodeIfPresent(row, 5), name: { lookup[$0] ?? $0 })
            view.lastResult = try rows.decodeIfPresent(row, 6)
            view.nextRun = try rows.decodeIfPresent(row, 7)
            view.lastReason = try rows.decodeIfPresent(row, 8)
            result.append(view)
        }
        return result
    }

    static func printList(_ views: [ObjectView], kind: ObjectKind, json: Bool) {
        if json {
            print("[" + views.map(\.json).joined(separator: ",") + "]")
            return
        }
        guard !views.isEmpty else {
            print("no \(kind.pluralName); add one with 'tidemark \(kind.category) add'")
            return
        }
        var rows = [headers(kind)]
        for view in views {
            var row = [view.name] + view.summary
            if kind == .job { row.append(view.lastResult ?? "-") }
            row.append("\(view.version)")
            rows.append(row)
        }
        print(TextTable.render(rows), terminator: "")
    }

    static func printDetail(_ view: ObjectView, json: Bool) {
        if json {
            print(view.json)
            return
        }
        let formatter = ISO8601DateFormatter()
        var lines = view.fields
        if view.kind == .job {
            lines.append(("last result", (view.lastResult ?? "-") + (view.lastReason.map { " — " + $0 } ?? "")))
            lines.append(("next run", view.nextRun.map(formatter.string(from:)) ?? "-"))
        }
        lines += [
            ("id", view.id), ("version", "\(view.version)"), ("created", formatter.string(from: view.createdAt)),
            ("last changed", formatter.string(from: view.updatedAt) + (view.updatedBy.map { " by \($0)" } ?? "")),
        ]
        let width = lines.map(\.0.count).max() ?? 0
        print("\(view.kind.displayName) \(view.name)")
        for (label, value) in lines {
            print("  " + label + ":" + String(repeating: " ", count: width - label.count + 1) + value)
        }
    }
}
