-- 0003 — appending: the only way an event enters the log.
--
-- One call appends one or more requests (a request = events for one stream with an expected
-- version) in the caller's transaction. Concurrent appends in one process are batched into
-- one call, so one commit (one WAL flush) serves many writers.
--
-- Ordering: the function locks the log_head row first and holds it to COMMIT. Positions are
-- therefore handed out in commit order and without gaps: a reader that follows
-- "position > last seen" can never skip an event that commits later with a lower number.
-- (Ordering by xid8 instead breaks after pg_dump/pg_restore into a new cluster.)
--
-- Per request, with the lock held:
--   * every event id already stored, in this stream  -> 'duplicate', the original positions
--     (a writer that lost the reply retries and gets the same answer; nothing is written);
--   * some ids stored, or stored in another stream   -> 'id_conflict', nothing written;
--   * expected version does not match                 -> 'wrong_expected_version' with the actual version;
--   * otherwise                                       -> 'appended' with the new positions.
-- Expected version: -1 any, -2 the stream must not exist, -3 it must exist, n >= 0 exactly n events.

CREATE FUNCTION tidemark.append_events(
    p_streams          text[],
    p_expected         bigint[],
    p_counts           integer[],
    p_event_ids        uuid[],
    p_event_types      text[],
    p_schema_versions  integer[],
    p_data             jsonb[],
    p_metadata         jsonb[]
) RETURNS TABLE (request integer, outcome text, positions bigint[], stream_version bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_requests  integer := coalesce(cardinality(p_streams), 0);
    v_events    integer := coalesce(cardinality(p_event_ids), 0);
    v_head      bigint;
    v_offset    integer := 0;
    v_count     integer;
    v_current   bigint;
    v_expected  bigint;
    v_ids       uuid[];
    v_existing  integer;
    v_foreign   boolean;
    v_appended  boolean := false;
BEGIN
    IF coalesce(cardinality(p_expected), 0) <> v_requests OR coalesce(cardinality(p_counts), 0) <> v_requests THEN
        RAISE EXCEPTION 'append_events: % streams, % expected versions and % counts must match',
            v_requests, cardinality(p_expected), cardinality(p_counts)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (SELECT coalesce(sum(c), 0) FROM unnest(p_counts) AS c) <> v_events
       OR coalesce(cardinality(p_event_types), 0) <> v_events
       OR coalesce(cardinality(p_schema_versions), 0) <> v_events
       OR coalesce(cardinality(p_data), 0) <> v_events
       OR coalesce(cardinality(p_metadata), 0) <> v_events
       OR EXISTS (SELECT 1 FROM unnest(p_counts) AS c WHERE c IS NULL OR c < 1) THEN
        RAISE EXCEPTION 'append_events: event arrays do not match the request counts'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- The log's write lock, held until COMMIT.
    SELECT h.last_position INTO v_head FROM tidemark.log_head AS h WHERE h.singleton FOR UPDATE;

    FOR i IN 1 .. v_requests LOOP
        request := i;
        v_count := p_counts[i];
        v_ids := p_event_ids[v_offset + 1 : v_offset + v_count];

        SELECT count(*), coalesce(bool_or(e.stream_id <> p_streams[i]), false)
          INTO v_existing, v_foreign
          FROM tidemark.events AS e
         WHERE e.event_id = ANY (v_ids);

        IF v_existing > 0 THEN
            IF v_existing = v_count AND NOT v_foreign THEN
                outcome := 'duplicate';
                SELECT array_agg(e.position ORDER BY e.position), max(e.stream_version)
                  INTO positions, stream_version
                  FROM tidemark.events AS e
                 WHERE e.event_id = ANY (v_ids);
            ELSE
                outcome := 'id_conflict';
                positions := NULL;
                stream_version := NULL;
            END IF;
        ELSE
            SELECT coalesce(max(e.stream_version), 0) INTO v_current
              FROM tidemark.events AS e
             WHERE e.stream_id = p_streams[i];
            v_expected := p_expected[i];
            IF v_expected = -1
               OR (v_expected = -2 AND v_current = 0)
               OR (v_expected = -3 AND v_current > 0)
               OR (v_expected >= 0 AND v_expected = v_current) THEN
                INSERT INTO tidemark.events
                       (position, stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
                SELECT v_head + k, p_streams[i], v_current + k, p_event_ids[v_offset + k],
                       p_event_types[v_offset + k], p_schema_versions[v_offset + k],
                       p_data[v_offset + k], p_metadata[v_offset + k]
                  FROM generate_series(1, v_count) AS k;
                outcome := 'appended';
                positions := ARRAY(SELECT v_head + k FROM generate_series(1, v_count) AS k);
                stream_version := v_current + v_count;
                v_head := v_head + v_count;
                v_appended := true;
            ELSE
                outcome := 'wrong_expected_version';
                positions := NULL;
                stream_version := v_current;
            END IF;
        END IF;

        v_offset := v_offset + v_count;
        RETURN NEXT;
    END LOOP;

    IF v_appended THEN
        UPDATE tidemark.log_head SET last_position = v_head WHERE singleton;
        -- Delivered at COMMIT; subscribers wake and read from their last position.
        PERFORM pg_notify('tidemark_events', v_head::text);
    END IF;
END
$$;

ALTER FUNCTION tidemark.append_events(text[], bigint[], integer[], uuid[], text[], integer[], jsonb[], jsonb[])
    OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.append_events(text[], bigint[], integer[], uuid[], text[], integer[], jsonb[], jsonb[])
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.append_events(text[], bigint[], integer[], uuid[], text[], integer[], jsonb[], jsonb[])
    TO tidemark_app;
