import Foundation
import Postgres

/// What a database superuser can do to the log behind Tidemark's back, for the tests that
/// show the hash chain catches it: switch the immutability triggers off, change the log,
/// switch them on again (as `ENABLE ALWAYS`, as the migrations left them).
public struct LogForgery: Sendable {
    public let database: TestDatabase

    public init(_ database: TestDatabase) { self.database = database }

    /// Runs statements as the superuser with the triggers of `tidemark.events` and
    /// `tidemark.event_chain` off, then turns them back on.
    public func run(_ statements: [String]) async throws {
        let connection = try await PostgresConnection.connect(database.administrator)
        do {
            for statement in ["ALTER TABLE tidemark.events DISABLE TRIGGER USER", "ALTER TABLE tidemark.event_chain DISABLE TRIGGER USER"]
                + statements
                + [
                    "ALTER TABLE tidemark.events ENABLE ALWAYS TRIGGER events_refuse_update_delete",
                    "ALTER TABLE tidemark.events ENABLE ALWAYS TRIGGER events_refuse_truncate",
                    "ALTER TABLE tidemark.events ENABLE ALWAYS TRIGGER events_refuse_unchained_insert",
                    "ALTER TABLE tidemark.event_chain ENABLE ALWAYS TRIGGER event_chain_refuse_update_delete",
                    "ALTER TABLE tidemark.event_chain ENABLE ALWAYS TRIGGER event_chain_refuse_truncate",
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

    /// Inserts an event at the next position, as a forger who bypasses the append functions would.
    public func insert(stream: String, type: String = "Forged", data: String = "{}") async throws {
        try await run([
            """
            INSERT INTO tidemark.events (position, stream_id, stream_version, event_id, event_type, data)
            SELECT nextval('tidemark.event_position_seq'), '\(stream)',
                   coalesce((SELECT max(stream_version) FROM tidemark.events WHERE stream_id = '\(stream)'), 0) + 1,
                   gen_random_uuid(), '\(type)', '\(data)'
            """
        ])
    }

    /// The thorough forger: edits an event, then recomputes every digest and every hash of the
    /// chain, so that the chain inside the database agrees with the forgery.
    public func editAndRecomputeChain(position: Int64, data: String = #"{"forged": true}"#) async throws {
        try await run([
            "UPDATE tidemark.events SET data = '\(data)' WHERE position = \(position)",
            """
            UPDATE tidemark.event_chain AS c SET event_digests = (
                SELECT string_agg(tidemark.event_digest(e.position, e.stream_id, e.stream_version, e.event_id, e.event_type,
                                                        e.schema_version, e.recorded_at, e.data::text, e.metadata::text),
                                  ''::bytea ORDER BY e.position)
                  FROM tidemark.events AS e WHERE e.position BETWEEN c.first_position AND c.last_position)
            """,
            """
            DO $$
            DECLARE
                v_previous bytea := decode(repeat('00', 32), 'hex');
                v_row record;
            BEGIN
                FOR v_row IN SELECT * FROM tidemark.event_chain ORDER BY last_position LOOP
                    UPDATE tidemark.event_chain SET previous_hash = v_previous, hash = sha256(v_previous || v_row.event_digests)
                     WHERE last_position = v_row.last_position;
                    v_previous := sha256(v_previous || v_row.event_digests);
                END LOOP;
            END
            $$
            """,
        ])
    }
}
