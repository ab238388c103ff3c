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

    /// Sessions newest first: `$1` job name, `$2` state, `$3` result (each NULL for any), `$4`
    /// the limit, `$5` the session to continue after (NULL from the newest). Answers the page
    /// as JSON, its row count, whether the cursor session exists, and the page's last session
    /// (the next page's cursor, so the server need not parse the page to find it).
    public static let sessions = """
        WITH cursor AS (SELECT coalesce(started_at, '-infinity') AS started_at, session_id FROM reporting.sessions WHERE session_id = $5)
        SELECT coalesce(json_agg(row_to_json(s) ORDER BY coalesce(s.started_at, '-infinity') DESC, s.session_id DESC), '[]')::text, count(*),
               (SELECT count(*) FROM cursor),
               (array_agg(s.session_id ORDER BY coalesce(s.started_at, '-infinity'), s.session_id))[1]::text
          FROM (SELECT r.* FROM reporting.sessions r
                 WHERE ($1::text IS NULL OR lower(r.job_name) = lower($1))
                   AND ($2::text IS NULL OR r.state = $2)
                   AND ($3::text IS NULL OR r.result = $3)
                   AND ($5::text IS NULL OR (coalesce(r.started_at, '-infinity'), r.session_id) < (SELECT started_at, session_id FROM cursor))
                 ORDER BY coalesce(r.started_at, '-infinity') DESC, r.session_id DESC LIMIT $4) s
        """
}
