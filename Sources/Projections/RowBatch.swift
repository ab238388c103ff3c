import EventStore
import Foundation
import Postgres

/// Rows for one table, sent as one JSON array and written by one statement
/// (`jsonb_populate_recordset` turns it into the table's row type, arrays and all).
struct RowBatch {
    private var text = "["
    private(set) var count = 0

    /// A value of one column. A nil payload leaves the column out of the row (untouched by
    /// a merge, NULL in a new row); `.null` sets it to NULL.
    enum Value {
        case null
        case text(String?)
        case integer(Int64?)
        case double(Double?)
        case bool(Bool?)
        case time(Date?)
        case texts([String]?)
        /// Already JSON (a jsonb column).
        case json(String?)
    }

    mutating func append(_ columns: KeyValuePairs<String, Value>) {
        text += count == 0 ? "{" : ",{"
        var first = true
        for (column, value) in columns {
            guard let encoded = Self.encode(value) else { continue }
            text += (first ? "" : ",") + "\"\(column)\":" + encoded
            first = false
        }
        text += "}"
        count += 1
    }

    var json: String { text + "]" }
    var isEmpty: Bool { count == 0 }

    private static func encode(_ value: Value) -> String? {
        switch value {
        case .null: return "null"
        case .text(let text): return text.map(JSONString.quoted)
        case .integer(let number): return number.map { String($0) }
        case .double(let number): return number.flatMap { $0.isFinite ? String($0) : nil }
        case .bool(let flag): return flag.map { $0 ? "true" : "false" }
        case .time(let date): return date.map { "\"" + PostgresTimestamp.format($0) + "\"" }
        case .texts(let items): return items.map { "[" + $0.map(JSONString.quoted).joined(separator: ",") + "]" }
        case .json(let json): return json
        }
    }
}

/// How a batch of rows meets the rows already stored.
struct Upsert: Sendable {
    enum Conflict {
        /// Stored columns take the batch's values (the batch holds whole rows).
        case replace
        /// Stored columns keep their value unless the batch's row names them (the batch holds parts of rows).
        case merge
        /// Numeric columns add up (counters), saturating at each column's largest value (given
        /// by column; `integer` otherwise) so that a wild figure can never stop the projection.
        case add(caps: [String: String])
    }

    let table: String
    let key: [String]
    /// Columns the batch writes on conflict.
    let updated: [String]
    let conflict: Conflict

    /// The statements that write a batch: one upsert, or for `merge` an update of the stored
    /// rows (only the columns each row names, so a key with null clears a column) followed by
    /// an insert of the new ones.
    func statements(in schema: ProjectionSchema) -> [String] {
        let target = schema.table(table)
        let rows = "(SELECT j, jsonb_populate_record(NULL::\(target), j) AS r FROM jsonb_array_elements($1::jsonb) AS a(j)) u"
        let keyMatch = key.map { "t.\($0) = (u.r).\($0)" }.joined(separator: " AND ")
        switch conflict {
        case .merge:
            let assignments = updated.map { "\($0) = CASE WHEN u.j ? '\($0)' THEN (u.r).\($0) ELSE t.\($0) END" }
            return [
                "UPDATE \(target) AS t SET \(assignments.joined(separator: ", ")) FROM \(rows) WHERE \(keyMatch)",
                "INSERT INTO \(target) SELECT (u.r).* FROM \(rows) WHERE NOT EXISTS (SELECT 1 FROM \(target) t WHERE \(keyMatch))",
            ]
        case .replace, .add:
            let assignments = updated.map { column -> String in
                guard case .add(let caps) = conflict else { return "\(column) = EXCLUDED.\(column)" }
                return "\(column) = least(t.\(column)::numeric + EXCLUDED.\(column)::numeric, \(caps[column] ?? "2147483647"))"
            }
            return [
                """
                INSERT INTO \(target) AS t SELECT * FROM jsonb_populate_recordset(NULL::\(target), $1::jsonb)
                ON CONFLICT (\(key.joined(separator: ", "))) DO UPDATE SET \(assignments.joined(separator: ", "))
                """
            ]
        }
    }

    func write(_ rows: RowBatch, in schema: ProjectionSchema, on connection: isolated PostgresConnection) throws {
        guard !rows.isEmpty else { return }
        let json = rows.json
        for statement in statements(in: schema) { _ = try connection.query(statement, [json]) }
    }
}
