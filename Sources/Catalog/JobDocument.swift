import Foundation
import Yams

/// Job definitions as YAML files, so they can live in version control: `job apply` reads
/// them, `job export` writes them. One job per YAML document; `---` separates several.
public enum JobDocument {
    /// The keys of a job document, in the order `export` writes them.
    public static let keys = [
        "name", "description", "server", "objects", "exclusions", "repository", "proxies", "parallel_processing",
        "schedule", "time_zone", "backup_window", "retention", "retry", "application_aware", "block_size",
        "compression_level", "enabled", "index_guest_files", "copy_of", "copy_mode", "gfs",
    ]

    /// Reads every job of a file; `file` names it in errors (`jobs.yaml line 7: ...`).
    public static func parse(_ text: String, file: String) throws(CatalogError) -> [JobSettings] {
        try JobDocumentShape.check(text, file: file)
        var documents: [Node] = []
        do {
            // The sequence keeps a parse error to itself and just ends: ask for it.
            var sequence = try Yams.compose_all(yaml: text)
            while let document = sequence.next() { documents.append(document) }
            if let error = sequence.error { throw error }
        } catch {
            throw CatalogError(.invalidDocument, "\(file): not valid YAML: \(error)")
        }
        guard !documents.isEmpty else {
            throw CatalogError(.invalidDocument, "\(file) holds no job: write at least 'name', 'server', 'objects' and 'repository'")
        }
        var jobs: [JobSettings] = []
        for document in documents { jobs.append(try settings(of: document, file: file)) }
        return jobs
    }

    private static func settings(of node: Node, file: String) throws(CatalogError) -> JobSettings {
        func at(_ node: Node) -> String { node.mark.map { "\(file) line \($0.line)" } ?? file }
        guard let mapping = node.mapping else {
            throw CatalogError(.invalidDocument, "\(at(node)): a job is a mapping of keys such as 'name:' and 'repository:'")
        }
        var settings = JobSettings()
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else {
                throw CatalogError(.invalidDocument, "\(at(keyNode)): a key must be plain text")
            }
            guard keys.contains(key) else {
                let hint = closest(to: key).map { " (did you mean '\($0)'?)" } ?? ""
                throw CatalogError(
                    .invalidDocument, "\(at(keyNode)): unknown key '\(key)'\(hint); known keys: \(keys.joined(separator: ", "))")
            }
            func text() throws(CatalogError) -> String {
                guard case .scalar(let scalar) = value else {
                    throw CatalogError(.invalidDocument, "\(at(value)): '\(key)' takes a single value")
                }
                return try printable(scalar.string, at: at(value))
            }
            /// NUL cannot be stored in the log's JSON (PostgreSQL's jsonb refuses it), nor
            /// other control characters but tab and line breaks be shown safely.
            func printable(_ text: String, at place: String) throws(CatalogError) -> String {
                guard
                    !text.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t" && $0 != "\n" && $0 != "\r") || $0.value == 0x7f }
                    )
                else { throw CatalogError(.invalidDocument, "\(place): '\(key)' holds a control character") }
                return text
            }
            func list() throws(CatalogError) -> [String] {
                switch value {
                case .scalar(let scalar): return scalar.string.isEmpty ? [] : [try printable(scalar.string, at: at(value))]
                case .sequence(let sequence):
                    var items: [String] = []
                    for item in sequence {
                        guard case .scalar(let scalar) = item else {
                            throw CatalogError(.invalidDocument, "\(at(item)): each item of '\(key)' is a single value")
                        }
                        items.append(try printable(scalar.string, at: at(item)))
                    }
                    return items
                default:
                    throw CatalogError(.invalidDocument, "\(at(value)): '\(key)' takes a list, such as [vm:web-01, vm:web-02]")
                }
            }
            func flag() throws(CatalogError) -> Bool {
                guard let bool = value.bool else {
                    throw CatalogError(.invalidDocument, "\(at(value)): '\(key)' takes true or false")
                }
                return bool
            }
            func number(_ node: Node, _ name: String) throws(CatalogError) -> Int {
                guard let int = node.int else {
                    throw CatalogError(.invalidDocument, "\(at(node)): '\(name)' takes a whole number")
                }
                return int
            }
            switch key {
            case "name": settings.name = try text()
            case "description": settings.description = try text()
            case "server": settings.server = try text()
            case "objects": settings.objects = try list()
            case "exclusions": settings.exclusions = try list()
            case "repository": settings.repository = try text()
            case "proxies": settings.proxies = try list()
            case "parallel_processing": settings.parallelProcessing = try flag()
            case "schedule": settings.schedule = try text()
            case "time_zone": settings.timeZone = try text()
            case "backup_window": settings.backupWindow = try text()
            case "retention": settings.retention = try text()
            case "application_aware": settings.applicationAware = try text()
            case "block_size": settings.blockSize = try text()
            case "compression_level": settings.compressionLevel = try number(value, key)
            case "index_guest_files": settings.indexGuestFiles = try flag()
            case "copy_of": settings.copyOf = try text()
            case "copy_mode": settings.copyMode = try text()
            case "gfs": settings.gfs = try text()
            case "enabled": settings.enabled = try flag()
            case "retry":
                guard let retry = value.mapping else {
                    throw CatalogError(
                        .invalidDocument, "\(at(value)): 'retry' takes 'count' and 'wait_minutes', such as {count: 3, wait_minutes: 10}")
                }
                for (retryKey, retryValue) in retry {
                    switch retryKey.string {
                    case "count": settings.retryCount = try number(retryValue, "retry.count")
                    case "wait_minutes": settings.retryWaitMinutes = try number(retryValue, "retry.wait_minutes")
                    default:
                        throw CatalogError(
                            .invalidDocument,
                            "\(at(retryKey)): unknown key 'retry.\(retryKey.string ?? "")'; known keys: count, wait_minutes")
                    }
                }
            default: break
            }
        }
        return settings
    }

    /// The changes that make the catalog's jobs match `documents`: each document is decided
    /// on the state the previous ones leave (a file may add a job and one that follows it);
    /// an unchanged job gives no change. Any refusal refuses the whole file.
    public static func plan(
        _ documents: [JobSettings], in start: CatalogState, defaultTimeZone: String
    ) throws(CatalogError)
        -> [CatalogChange]
    {
        var plan = CatalogPlan(start)
        var names = Set<String>()
        for document in documents {
            guard let name = document.name else {
                throw CatalogError(.invalidDocument, "a job in the file has no 'name'")
            }
            guard names.insert(ObjectName.key(name)).inserted else {
                throw CatalogError(.invalidDocument, "the file defines job '\(name)' twice")
            }
            let wanted = try document.definition(base: nil, in: plan.state, defaultTimeZone: defaultTimeZone)
            if let id = plan.state.id(of: JobDefinition.self, named: name) {
                do {
                    plan.include(
                        try CatalogDecider.update(id: id, basedOn: nil, in: plan.state) { (job: inout JobDefinition) in job = wanted })
                } catch  where error.code == .noChange {
                    continue
                }
            } else {
                try plan.add(wanted)
            }
        }
        return plan.changes
    }

    /// Writes one job document; `Yams` quotes whatever needs quoting.
    public static func export(_ settings: JobSettings) -> String {
        func scalar(_ text: String) -> String {
            let emitted = (try? Yams.serialize(node: .scalar(.init(text)))) ?? "''"
            return emitted.hasSuffix("\n") ? String(emitted.dropLast()) : emitted
        }
        return settings.fields.map { key, value -> String in
            switch value {
            case .text(let text): return "\(key): \(scalar(text))"
            case .list(let items): return "\(key): [" + items.map(scalar).joined(separator: ", ") + "]"
            case .literal(let literal): return "\(key): \(literal)"
            }
        }.joined(separator: "\n") + "\n"
    }

    /// The known key a mistyped one most likely meant (edit distance at most 3).
    static func closest(to key: String) -> String? {
        Spelling.nearest(to: key, among: keys, maximum: 3)
    }
}
