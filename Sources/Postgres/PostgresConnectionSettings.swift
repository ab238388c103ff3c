import Foundation

/// Where and as whom to connect: a libpq connection string or URL, plus keywords that win
/// over it.
///
/// Overrides let a caller point the same configured server at another database or role
/// (`["dbname": "tidemark_bench"]`, `["user": "tidemark_app"]`) without parsing either
/// form of connection string. Whatever neither names comes from the `PG*` environment
/// variables and `~/.pgpass`, as libpq does for psql. `description` never shows the string,
/// which may hold a password.
public struct PostgresConnectionSettings: Sendable, Hashable, CustomStringConvertible {
    public var connectionString: String
    public var overrides: [String: String]

    public init(_ connectionString: String, overrides: [String: String] = [:]) {
        self.connectionString = connectionString
        self.overrides = overrides
    }

    /// The same settings with one more keyword overridden.
    public func with(_ keyword: String, _ value: String) -> PostgresConnectionSettings {
        var copy = self
        copy.overrides[keyword] = value
        return copy
    }

    /// The settings as one connection string for another program (psql, a child
    /// `tidemark`): the overrides appended to the base string, as quoted keywords after a
    /// key/value string or as query parameters after a URL.
    public var keywordConnectionString: String {
        let keys = overrides.keys.sorted()
        if connectionString.hasPrefix("postgresql://") || connectionString.hasPrefix("postgres://") {
            var allowed = CharacterSet.urlQueryAllowed
            allowed.remove(charactersIn: "&=+")
            let query = keys.map { "\($0)=\(overrides[$0]!.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }
            guard !query.isEmpty else { return connectionString }
            return connectionString + (connectionString.contains("?") ? "&" : "?") + query.joined(separator: "&")
        }
        func quoted(_ value: String) -> String {
            "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        }
        return ([connectionString] + keys.map { "\($0)=" + quoted(overrides[$0]!) }).filter { !$0.isEmpty }.joined(separator: " ")
    }

    public var description: String {
        let named = overrides.keys.sorted().filter { !$0.hasSuffix("password") }.map { "\($0)=\(overrides[$0]!)" }
        return "PostgreSQL connection settings" + (named.isEmpty ? "" : " (\(named.joined(separator: ", ")))")
    }
}
