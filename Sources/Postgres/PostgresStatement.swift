import Foundation

/// A named SQL statement that a connection prepares once and then executes by name.
///
/// Preparing saves the server the parse and plan of hot statements (appends, log reads).
/// The SQL text holds `$1`, `$2`... placeholders only; values arrive as parameters.
public struct PostgresStatement: Sendable, Hashable {
    public let name: String
    public let sql: String

    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }
}

/// A message received through `LISTEN`.
public struct PostgresNotification: Sendable, Equatable {
    public let channel: String
    public let payload: String
    /// The backend process that sent it.
    public let processID: Int32
}

/// Names a statement for errors and logs without its values: a prepared statement's name,
/// or the first line of ad-hoc SQL, cut short.
func statementLabel(_ sql: String) -> String {
    let firstLine = sql.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: true).first ?? ""
    let trimmed = firstLine.trimmingCharacters(in: .whitespaces)
    return trimmed.count > 80 ? String(trimmed.prefix(77)) + "..." : String(trimmed)
}
