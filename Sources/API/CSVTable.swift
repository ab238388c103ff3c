import Foundation
import Hummingbird
import NIOCore
import Postgres

/// A query's rows as CSV (RFC 4180): a header of the columns' names, then one line per row
/// in PostgreSQL's text form, NULL as an empty field. Fields with a comma, quote or line
/// break are quoted. Text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@` at
/// the start, as a job name could be) is prefixed with `'`, so an export opened in a
/// spreadsheet shows what was stored and runs nothing; numbers are left as they are.
enum CSVTable {
    static func text(_ result: PostgresResult) throws -> String {
        var lines = [(0..<result.columnCount).map { field(result.columnName($0)) }.joined(separator: ",")]
        lines.reserveCapacity(result.rowCount + 1)
        for row in 0..<result.rowCount {
            let fields = try (0..<result.columnCount).map { column in
                result.isNull(row, column) ? "" : field(try result.decode(row, column, as: String.self))
            }
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func field(_ value: String) -> String {
        var value = value
        if let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first), Double(value) == nil {
            value = "'" + value
        }
        // Bytes, not Characters: a comma followed by a combining mark is one Character that
        // is not ",", and "\r\n" is one Character too.
        guard value.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"", options: .literal) + "\""
    }

    /// A download: `text/csv` with a file name, so a browser saves it rather than shows it.
    static func response(_ result: PostgresResult, fileName: String) throws -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(fileName)\"",
                .vary: "Accept",
            ],
            body: .init(byteBuffer: ByteBuffer(string: try text(result))))
    }

    /// `Accept` names `text/csv` with a weight above zero (`text/csv;q=0` refuses it).
    static func accepts(_ accept: String) -> Bool {
        accept.split(separator: ",").contains { range in
            let parts = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard parts.first == "text/csv" else { return false }
            let weight = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return weight > 0
        }
    }

    /// Whether the client asked for CSV: `format=csv`, or `Accept: text/csv` (a link in the
    /// console cannot set headers; a script can do either). Any other `format` is refused.
    static func wanted(_ request: Request) throws -> Bool {
        switch request.uri.queryParameters.get("format") {
        case nil: return Self.accepts(request.headers[.accept] ?? "")
        case "csv": return true
        case "json": return false
        case let other?: throw APIProblem.badRequest("format is csv or json, not '\(other)'")
        }
    }
}
