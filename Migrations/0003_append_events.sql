-- 0003 — appending: the only way an event enters the log.
--
-- One call appends one or more requests (a request = events for one stream with an expected
-- version) in the caller's transaction. Concurrent appends of one process are batched into
-- one call, so one commit (one WAL flush) serves many writers.
--
-- Ordering: the call first takes the log's write lock (tidemark.append_lock IN EXCLUSIVE
-- MODE) and holds it until COMMIT; positions come from tidemark.event_position_seq only
-- under that lock. Positions are therefore handed out in
-- commit order: a reader that follows "position > last seen" never skips an event that
-- commits later with a lower number. (Ordering by xid8 instead breaks after pg_dump /
-- pg_restore into a new cluster.) The lock is released after the commit is visible.
--
-- Per request, with the lock held (so every check sees every earlier commit):
--   * every event id already stored, in this stream  -> 'duplicate', the original positions
--     (a writer that lost the reply retries and gets the same answer; nothing is written);
--   * some ids stored, or stored in another stream   -> 'id_conflict', nothing written;
--   * expected version does not match                 -> 'wrong_expected_version' with the actual version;
--   * otherwise                                       -> 'appended' with the new positions.
-- Expected version: -1 any, -2 the stream must not exist, -3 it must exist, n >= 0 exactly n events.
--
-- tidemark.append_event does the same for one event with plain parameters: the array
-- handling of the general function costs a third of a one-event append, the most common
-- append of all (a Job Manager step). Both return the same columns.

-- The optimistic-concurrency rule, shared by both append functions (inlined by the planner).
CREATE FUNCTION tidemark.expected_version_matches(p_expected bigint, p_current bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT p_expected = -1
        OR (p_expected = -2 AND p_current = 0)
        OR (p_expected = -3 AND p_current > 0)
        OR (p_expected >= 0 AND p_expected = p_current)
$$;
ALTER FUNCTION tidemark.expected_version_matches(bigint, bigint) OWNER TO tidemark_owner;

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
    v_offset    integer := 0;
    v_count     integer;
    v_first     integer;
    v_last      integer;
    v_current   bigint;
    v_expected  bigint;
    v_position  bigint;
    v_existing  integer;
    v_foreign   boolean;
    v_appended  boolean := false;
    v_same      boolean;
    v_positions bigint[];
    v_version   bigint;
BEGIN
    IF coalesce(cardinality(p_expected), 0) <> v_requests OR coalesce(cardinality(p_counts), 0) <> v_requests
       OR coalesce(cardinality(p_event_types), 0) <> v_events
       OR coalesce(cardinality(p_schema_versions), 0) <> v_events
       OR coalesce(cardinality(p_data), 0) <> v_events
       OR coalesce(cardinality(p_metadata), 0) <> v_events THEN
        RAISE EXCEPTION 'append_events: the request arrays (%) and event arrays (%) do not have matching lengths',
            v_requests, v_events
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- The log's write lock, held until COMMIT.
    LOCK TABLE tidemark.append_lock IN EXCLUSIVE MODE;

    FOR i IN 1 .. v_requests LOOP
        v_count := p_counts[i];
        IF v_count IS NULL OR v_count < 1 OR v_offset + v_count > v_events THEN
            RAISE EXCEPTION 'append_events: request % has % events, which the event arrays do not hold', i, v_count
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        v_first := v_offset + 1;
        v_last := v_offset + v_count;
        v_offset := v_last;
        request := i;

        SELECT count(*), coalesce(bool_or(e.stream_id <> p_streams[i]), false)
          INTO v_existing, v_foreign
          FROM tidemark.events AS e
         WHERE e.event_id = ANY (p_event_ids[v_first : v_last]);

        IF v_existing > 0 THEN
            outcome := 'id_conflict';
            positions := NULL;
            stream_version := NULL;
            IF v_existing = v_count AND NOT v_foreign THEN
                -- The same append again only if one transaction stored all of them as one
                -- contiguous block; positions come back in the order the ids were sent.
                SELECT array_agg(e.position ORDER BY u.n), max(e.stream_version),
                       count(DISTINCT e.transaction_id) = 1 AND max(e.position) - min(e.position) + 1 = v_count
                  INTO v_positions, v_version, v_same
                  FROM unnest(p_event_ids[v_first : v_last]) WITH ORDINALITY AS u(event_id, n)
                  JOIN tidemark.events AS e ON e.event_id = u.event_id;
                IF v_same THEN
                    outcome := 'duplicate';
                    positions := v_positions;
                    stream_version := v_version;
                END IF;
            END IF;
            RETURN NEXT;
            CONTINUE;
        END IF;

        SELECT coalesce(max(e.stream_version), 0) INTO v_current
          FROM tidemark.events AS e
         WHERE e.stream_id = p_streams[i];
        v_expected := p_expected[i];
        IF NOT tidemark.expected_version_matches(v_expected, v_current) THEN
            outcome := 'wrong_expected_version';
            positions := NULL;
            stream_version := v_current;
            RETURN NEXT;
            CONTINUE;
        END IF;

        -- A block of positions; nobody else draws from the sequence while the lock is held.
        v_position := nextval('tidemark.event_position_seq');
        IF v_count > 1 THEN
            PERFORM setval('tidemark.event_position_seq', v_position + v_count - 1);
        END IF;
        INSERT INTO tidemark.events
               (position, stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
        SELECT v_position + u.n - 1, p_streams[i], v_current + u.n,
               u.event_id, u.event_type, u.schema_version, u.data, u.metadata
          FROM unnest(p_event_ids[v_first : v_last], p_event_types[v_first : v_last],
                      p_schema_versions[v_first : v_last], p_data[v_first : v_last],
                      p_metadata[v_first : v_last])
               WITH ORDINALITY AS u(event_id, event_type, schema_version, data, metadata, n);
        outcome := 'appended';
        positions := ARRAY[v_position, v_position + v_count - 1];
        stream_version := v_current + v_count;
        v_appended := true;
        RETURN NEXT;
    END LOOP;

    IF v_offset <> v_events THEN
        RAISE EXCEPTION 'append_events: the counts add up to % events, but % were sent', v_offset, v_events
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_appended THEN
        -- Delivered at COMMIT; subscribers wake and read from their last position.
        PERFORM pg_notify('tidemark_events', '');
    END IF;
END
$$;

COMMENT ON FUNCTION tidemark.append_events(text[], bigint[], integer[], uuid[], text[], integer[], jsonb[], jsonb[]) IS
    'Appends requests under the log''s write lock. For ''appended'' rows, positions holds the first and last position of the contiguous block; for ''duplicate'', every original position.';

ALTER FUNCTION tidemark.append_events(text[], bigint[], integer[], uuid[], text[], integer[], jsonb[], jsonb[])
    OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.append_events(text[], bigint[], integer[], uuid[], text[], integer[], jsonb[], jsonb[])
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.append_events(text[], bigint[], integer[], uuid[], text[], integer[], jsonb[], jsonb[])
    TO tidemark_app;

CREATE FUNCTION tidemark.append_event(
    p_stream          text,
    p_expected        bigint,
    p_event_id        uuid,
    p_event_type      text,
    p_schema_version  integer,
    p_data            jsonb,
    p_metadata        jsonb
) RETURNS TABLE (request integer, outcome text, positions bigint[], stream_version bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_stored_stream  text;
    v_position       bigint;
    v_current        bigint;
BEGIN
    -- The log's write lock, held until COMMIT (see append_events).
    LOCK TABLE tidemark.append_lock IN EXCLUSIVE MODE;
    request := 1;

    SELECT e.stream_id, e.position, e.stream_version INTO v_stored_stream, v_position, v_current
      FROM tidemark.events AS e
     WHERE e.event_id = p_event_id;
    IF FOUND THEN
        IF v_stored_stream = p_stream THEN
            outcome := 'duplicate';
            positions := ARRAY[v_position];
            stream_version := v_current;
        ELSE
            outcome := 'id_conflict';
        END IF;
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT coalesce(max(e.stream_version), 0) INTO v_current
      FROM tidemark.events AS e
     WHERE e.stream_id = p_stream;
    IF NOT tidemark.expected_version_matches(p_expected, v_current) THEN
        outcome := 'wrong_expected_version';
        stream_version := v_current;
        RETURN NEXT;
        RETURN;
    END IF;

    v_position := nextval('tidemark.event_position_seq');
    INSERT INTO tidemark.events
           (position, stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
    VALUES (v_position, p_stream, v_current + 1, p_event_id, p_event_type, p_schema_version, p_data, p_metadata);
    PERFORM pg_notify('tidemark_events', '');
    outcome := 'appended';
    positions := ARRAY[v_position, v_position];
    stream_version := v_current + 1;
    RETURN NEXT;
END
$$;

ALTER FUNCTION tidemark.append_event(text, bigint, uuid, text, integer, jsonb, jsonb) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.append_event(text, bigint, uuid, text, integer, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.append_event(text, bigint, uuid, text, integer, jsonb, jsonb) TO tidemark_app;
