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

    public var description: String {
        let named = overrides.keys.sorted().filter { !$0.hasSuffix("password") }.map { "\($0)=\(overrides[$0]!)" }
        return "PostgreSQL connection settings" + (named.isEmpty ? "" : " (\(named.joined(separator: ", ")))")
    }
}
