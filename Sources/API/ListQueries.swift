import Postgres

/// The SQL of the busiest lists, in one place: the routes run it, and `tidemark bench api`
/// runs the same text in psql as the reference its figures are set beside.
public enum ListQueries {
    /// A keyset page of a catalog view by its name column: `$1` the name to continue after
    /// (`''` from the start), `$2` the limit. Answers the page as JSON, its row count and its
    /// last name.
    /// ``page(view:key:)`` prepared once per connection: the jobs' view costs more to plan
    /// (2 ms) than to run a page of.
    static func pageStatement(view: String, key: String) -> PostgresStatement {
        PostgresStatement(name: "tidemark_page_" + view.replacingOccurrences(of: ".", with: "_"), sql: page(view: view, key: key))
    }

    public static func page(view: String, key: String) -> String {
        """
        SELECT coalesce(json_agg(row_to_json(v) ORDER BY v.\(key)), '[]')::text, count(*), max(v.\(key))
          FROM (SELECT * FROM \(view) WHERE \(key) > $1 ORDER BY \(key) LIMIT $2) v
        """
    }

    /// Sessions newest first, as one prepared statement per set of filters present: `$1` the
    /// limit, then in this order the ones present: job name, state, result, and the session to
    /// continue after (absent from the newest). Each statement holds only its own conditions,
    /// so the plan PostgreSQL keeps for it (a generic one, after five runs) is the right one for
    /// every value, where a single statement with `$n IS NULL OR …` would keep a plan made for
    /// no filter and scan for a job's. Answers the page as JSON, its row count, whether the
    /// cursor session exists, and the page's last session (the next page's cursor, so the
    /// server need not parse the page to find it).
    public static func sessions(job: Bool, state: Bool, result: Bool, before: Bool) -> PostgresStatement {
        var next = 1
        func parameter() -> String {
            next += 1
            return "$\(next)"
        }
        var conditions: [String] = []
        if job { conditions.append("lower(r.job_name) = lower(\(parameter()))") }
        if state { conditions.append("r.state = \(parameter())") }
        if result { conditions.append("r.result = \(parameter())") }
        let cursor: String
        if before {
            cursor =
                "SELECT coalesce(started_at, '-infinity') AS started_at, session_id FROM reporting.sessions WHERE session_id = \(parameter())"
            conditions.append("(coalesce(r.started_at, '-infinity'), r.session_id) < (SELECT started_at, session_id FROM cursor)")
        } else {
            cursor = "SELECT NULL::timestamptz AS started_at, NULL::text AS session_id WHERE false"
        }
        let name = "tidemark_sessions_" + [job, state, result, before].map { $0 ? "1" : "0" }.joined()
        return PostgresStatement(
            name: name,
            sql: """
                WITH cursor AS (\(cursor))
                SELECT coalesce(json_agg(row_to_json(s) ORDER BY coalesce(s.started_at, '-infinity') DESC, s.session_id DESC), '[]')::text, count(*),
                       (SELECT count(*) FROM cursor),
                       (array_agg(s.session_id ORDER BY coalesce(s.started_at, '-infinity'), s.session_id))[1]::text
                  FROM (SELECT r.* FROM reporting.sessions r
                         \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: "\n   AND "))
                         ORDER BY coalesce(r.started_at, '-infinity') DESC, r.session_id DESC LIMIT $1) s
                """)
    }
}
