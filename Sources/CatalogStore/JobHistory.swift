import Catalog
import EventStore
import Foundation

/// A job's history read from its stream: each change with its time, actor and the fields
/// that changed, old value to new, as a person wrote them (names, not ids). One reading for
/// `tidemark job history` and the API's `GET /api/v1/jobs/{name}/history`, so both say the same.
public enum JobHistory {
    public struct Entry: Sendable {
        public let version: Int64
        public let recordedAt: Date
        public let actor: String
        public let change: String
        /// Field, before, after.
        public let diff: [(String, String, String)]

        public var text: String {
            var lines = ["\(ISO8601DateFormatter().string(from: recordedAt))  v\(version)  \(change)  by \(actor)"]
            for (field, before, after) in diff {
                lines.append(before.isEmpty ? "    \(field): \(after)" : "    \(field): \(before) → \(after)")
            }
            return lines.joined(separator: "\n")
        }

        public var json: String {
            let changes = diff.map {
                "{\"field\":\(JSONString.quoted($0.0)),\"before\":\(JSONString.quoted($0.1)),\"after\":\(JSONString.quoted($0.2))}"
            }
            return "{\"version\":\(version),\"recorded_at\":\(JSONString.quoted(ISO8601DateFormatter().string(from: recordedAt))),"
                + "\"actor\":\(JSONString.quoted(actor)),\"change\":\(JSONString.quoted(change)),\"fields\":[\(changes.joined(separator: ","))]}"
        }
    }

    public static func entries(_ events: [RecordedEvent], names: CatalogState) throws -> [Entry] {
        var state = CatalogState()
        var entries: [Entry] = []
        var previous: [String: String] = [:]
        for event in events {
            state.apply(CatalogEventRecord(event))
            let job = state.jobs.values.first
            var current: [String: String] = [:]
            var order: [String] = []
            if let job {
                for (key, value) in JobSettings(job.definition, in: names).fields {
                    current[key] = value.description
                    order.append(key)
                }
            }
            let keys = order.isEmpty ? previous.keys.sorted() : order
            let diff = keys.compactMap { key -> (String, String, String)? in
                let before = previous[key] ?? "", after = current[key] ?? "(removed)"
                return before == after ? nil : (key, before, after)
            }
            entries.append(
                Entry(
                    version: event.streamVersion, recordedAt: event.recordedAt, actor: (try? event.metadata())?.actor ?? "unknown",
                    change: event.type, diff: event.type == "JobRemoved" ? [] : diff))
            previous = current
        }
        return entries
    }
}
