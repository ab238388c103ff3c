import Foundation
import Postgres

/// What a database superuser can do to the log behind Tidemark's back, for the tests that
/// show the hash chain catches it: switch the immutability triggers off, change the log,
/// switch them on again (as `ENABLE ALWAYS`, as the migrations left them).
public struct LogForgery: Sendable {
    public let database: TestDatabase

    public init(_ database: TestDatabase) { self.database = database }

    /// Runs statements as the superuser with the triggers of `tidemark.events` off, then
    /// turns them back on.
    public func run(_ statements: [String]) async throws {
        let connection = try await PostgresConnection.connect(database.administrator)
        do {
            for statement in ["ALTER TABLE tidemark.events DISABLE TRIGGER USER"]
                + statements
                + [
                    "ALTER TABLE tidemark.events ENABLE ALWAYS TRIGGER events_refuse_update_delete",
                    "ALTER TABLE tidemark.events ENABLE ALWAYS TRIGGER events_refuse_truncate",
                    "ALTER TABLE tidemark.events ENABLE ALWAYS TRIGGER events_refuse_unchained_insert",
                ]
            {
                try await connection.query(statement)
            }
            await connection.close()
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Changes one event's data.
    public func edit(position: Int64, data: String = #"{"forged": true}"#) async throws {
        try await run(["UPDATE tidemark.events SET data = '\(data)' WHERE position = \(position)"])
    }

    public func delete(position: Int64) async throws {
        try await run(["DELETE FROM tidemark.events WHERE position = \(position)"])
    }

    /// Inserts an event at the next position, as a forger who bypasses the append functions
    /// would: its digest is right, its link is not computed from the event before it (the
    /// forger does not know, or cannot take, the log's write lock).
    public func insert(stream: String, type: String = "Forged", data: String = "{}") async throws {
        try await run([
            """
            INSERT INTO tidemark.events (position, stream_id, stream_version, event_id, event_type, recorded_at, data, digest, chain_hash)
            SELECT f.position, f.stream_id, f.stream_version, f.event_id, f.event_type, f.recorded_at, f.data, f.digest, sha256(f.digest)
              FROM (SELECT n.*, tidemark.event_digest(n.position, n.stream_id, n.stream_version, n.event_id, n.event_type, 1,
                                                      n.recorded_at, n.data::text, '{}') AS digest
                      FROM (SELECT nextval('tidemark.event_position_seq') AS position, '\(stream)'::text AS stream_id,
                                   coalesce((SELECT max(stream_version) FROM tidemark.events WHERE stream_id = '\(stream)'), 0) + 1 AS stream_version,
                                   gen_random_uuid() AS event_id, '\(type)'::text AS event_type, clock_timestamp() AS recorded_at,
                                   '\(data)'::jsonb AS data) AS n) AS f
            """
        ])
    }

    /// Changes one event's chain hash.
    public func rewriteLink(position: Int64) async throws {
        try await run(["UPDATE tidemark.events SET chain_hash = sha256('x') WHERE position = \(position)"])
    }

    /// The thorough forger: edits an event, then recomputes every digest and every link of
    /// the chain, so that the chain inside the database agrees with the forgery.
    public func editAndRecomputeChain(position: Int64, data: String = #"{"forged": true}"#) async throws {
        try await run([
            "UPDATE tidemark.events SET data = '\(data)' WHERE position = \(position)",
            """
            UPDATE tidemark.events AS e
               SET digest = tidemark.event_digest(e.position, e.stream_id, e.stream_version, e.event_id, e.event_type,
                                                  e.schema_version, e.recorded_at, e.data::text, e.metadata::text)
            """,
            """
            DO $$
            DECLARE
                v_previous bytea := decode(repeat('00', 32), 'hex');
                v_event record;
            BEGIN
                FOR v_event IN SELECT position, digest FROM tidemark.events ORDER BY position LOOP
                    v_previous := sha256(v_previous || v_event.digest);
                    UPDATE tidemark.events SET chain_hash = v_previous WHERE position = v_event.position;
                END LOOP;
            END
            $$
            """,
        ])
    }
}
