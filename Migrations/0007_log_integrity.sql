-- 0007 — the log's integrity: who may write which streams, how large an event may be, and a
-- hash chain that makes any later change to the log visible.
--
-- Stream categories. Every category Tidemark writes is listed in tidemark.stream_categories
-- with the code path that writes it; the append functions refuse a stream whose category is
-- not listed (SQLSTATE TM010), one that does not have the category's shape (a uuid after
-- the prefix), an event type the category does not hold, and a first event the category
-- does not start with. `note` and `custom` are the namespace of `tidemark events append`,
-- `bench` that of `tidemark bench`. A later migration that adds a category inserts its row.
-- The database cannot tell the Job Manager from the command line (both are tidemark_app):
-- which command may write which category is the binary's rule; these checks are what the
-- service role cannot get around.
--
-- Size. data and metadata of one event, as text, together at most 1 MiB (SQLSTATE TM011):
-- bulk data belongs in the repository.
--
-- The chain. Every event carries two more columns, set by the append functions under the
-- log's write lock: digest, the sha256 of the event's canonical text (tidemark.event_digest),
-- and chain_hash = sha256(chain_hash of the event before it || digest), the first event's
-- predecessor being 32 zero bytes. An edited event no longer matches its digest; a deleted or
-- inserted event breaks the next event's link; `tidemark events verify` names the first
-- position that does not hold. A superuser who recomputes the chain after a forgery is caught
-- by the chain heads the Job Manager records in each restore point's manifests, outside the
-- database. The columns live in the event row itself so that the chain costs an append one
-- index lookup (the newest event's hash) and two hashes, not a second row. The chain's
-- statements in the append functions sit between `-- chained {` and `-- } unchained: ...`
-- markers: `tidemark bench append` swaps each block for its unchained line in its own
-- throwaway database, to measure what the chain costs against the same functions without it.

-- Appends wait until the backfill below and the new functions are committed.
LOCK TABLE tidemark.append_lock IN EXCLUSIVE MODE;

CREATE TABLE tidemark.stream_categories (
    category          text   NOT NULL,
    writer            text   NOT NULL,
    stream_pattern    text,
    event_types       text[],
    first_event_type  text,
    CONSTRAINT stream_categories_pkey PRIMARY KEY (category)
);

COMMENT ON TABLE tidemark.stream_categories IS
    'The stream categories the append functions accept, and which code writes each. stream_pattern, event_types and first_event_type (NULL: anything) are checked on every append.';

INSERT INTO tidemark.stream_categories (category, writer, stream_pattern, event_types, first_event_type) VALUES
    ('server',     'catalog commands (CatalogStore.execute)', NULL, NULL, NULL),
    ('repository', 'catalog commands (CatalogStore.execute)', NULL, NULL, NULL),
    ('proxy',      'catalog commands (CatalogStore.execute)', NULL, NULL, NULL),
    ('throttle',   'catalog commands (CatalogStore.execute)', NULL, NULL, NULL),
    ('job',        'catalog commands (CatalogStore.execute)', NULL, NULL, NULL),
    ('session',    'the Job Manager (SessionRecorder, JobManager.begin)',
        '^session-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', NULL, 'SessionStarted'),
    ('schedule',   'the scheduler (Scheduler.tick)',
        '^schedule-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', ARRAY['RunRequested', 'RunSkipped'], NULL),
    ('health',     'repository health checks (HealthCheck)', NULL, NULL, NULL),
    ('control',    'job stop (JobManager.requestStop)',
        '^control-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', ARRAY['StopRequested'], NULL),
    ('note',       'tidemark events append', NULL, NULL, NULL),
    ('custom',     'tidemark events append', NULL, NULL, NULL),
    ('bench',      'tidemark bench', NULL, NULL, NULL);

-- Why a stream and its event types are refused under its category's rule (NULL when no
-- category matched), or NULL when they are accepted. Shared by both append functions, which
-- read the rule in the query that reads the stream's version.
CREATE FUNCTION tidemark.stream_refusal(
    p_rule tidemark.stream_categories, p_stream text, p_types text[], p_current bigint
) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_type  text;
BEGIN
    IF p_rule.category IS NULL THEN
        RETURN format('its category %L is not one Tidemark writes (known: %s); streams of your own go under note- or custom-',
            split_part(p_stream, '-', 1),
            (SELECT string_agg(c.category, ', ' ORDER BY c.category) FROM tidemark.stream_categories AS c));
    END IF;
    IF p_rule.stream_pattern IS NOT NULL AND p_stream !~ p_rule.stream_pattern THEN
        RETURN format('%s streams are named %s-<uuid>, written by %s', p_rule.category, p_rule.category, p_rule.writer);
    END IF;
    IF p_rule.event_types IS NOT NULL THEN
        SELECT t INTO v_type FROM unnest(p_types) AS t WHERE t IS NULL OR t <> ALL (p_rule.event_types) LIMIT 1;
        IF FOUND THEN
            RETURN format('%s streams hold only %s events (written by %s), not %L',
                p_rule.category, array_to_string(p_rule.event_types, ', '), p_rule.writer, v_type);
        END IF;
    END IF;
    IF p_rule.first_event_type IS NOT NULL AND p_current = 0 AND p_types[1] IS DISTINCT FROM p_rule.first_event_type THEN
        RETURN format('a %s stream starts with %s (written by %s), not %L',
            p_rule.category, p_rule.first_event_type, p_rule.writer, p_types[1]);
    END IF;
    RETURN NULL;
END
$$;

-- The digest of one stored event: sha256 of its columns as text, joined by newlines, which
-- none of them can hold (the table's checks; jsonb's text form escapes them). recorded_at
-- is epoch microseconds, so the digest does not depend on the session's time zone.
CREATE FUNCTION tidemark.event_digest(
    p_position bigint, p_stream_id text, p_stream_version bigint, p_event_id uuid, p_event_type text,
    p_schema_version integer, p_recorded_at timestamptz, p_data text, p_metadata text
) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT sha256(convert_to(
        p_position::text || E'\n' || p_stream_id || E'\n' || p_stream_version::text || E'\n' || p_event_id::text
        || E'\n' || p_event_type || E'\n' || p_schema_version::text
        || E'\n' || ((extract(epoch FROM p_recorded_at) * 1000000)::bigint)::text
        || E'\n' || p_data || E'\n' || p_metadata, 'UTF8'))
$$;

ALTER TABLE tidemark.events ADD COLUMN digest bytea, ADD COLUMN chain_hash bytea;

COMMENT ON COLUMN tidemark.events.digest IS
    'sha256 of the event''s canonical text (tidemark.event_digest), set by the append functions.';
COMMENT ON COLUMN tidemark.events.chain_hash IS
    'sha256(chain_hash of the event before || digest); the first event follows 32 zero bytes.';

-- The existing log, chained in position order (gaps in positions are not breaks: a rolled-back
-- append leaves one). The hashes are computed in one pass, then written in one UPDATE with the
-- immutability trigger off for this transaction only.
DO $$
DECLARE
    v_previous   bytea := decode(repeat('00', 32), 'hex');
    v_positions  bigint[] := '{}';
    v_digests    bytea[] := '{}';
    v_hashes     bytea[] := '{}';
    v_event      record;
BEGIN
    FOR v_event IN
        SELECT e.position,
               tidemark.event_digest(e.position, e.stream_id, e.stream_version, e.event_id, e.event_type,
                                     e.schema_version, e.recorded_at, e.data::text, e.metadata::text) AS digest
          FROM tidemark.events AS e
         ORDER BY e.position
    LOOP
        v_previous := sha256(v_previous || v_event.digest);
        v_positions := v_positions || v_event.position;
        v_digests := v_digests || v_event.digest;
        v_hashes := v_hashes || v_previous;
    END LOOP;
    ALTER TABLE tidemark.events DISABLE TRIGGER events_refuse_update_delete;
    UPDATE tidemark.events AS e SET digest = u.digest, chain_hash = u.hash
      FROM unnest(v_positions, v_digests, v_hashes) AS u(position, digest, hash)
     WHERE e.position = u.position;
    ALTER TABLE tidemark.events ENABLE ALWAYS TRIGGER events_refuse_update_delete;
END
$$;

ALTER TABLE tidemark.events
    ALTER COLUMN digest SET NOT NULL,
    ALTER COLUMN chain_hash SET NOT NULL,
    ADD CONSTRAINT events_chain_lengths CHECK (octet_length(digest) = 32 AND octet_length(chain_hash) = 32);

-- Events enter only through the append functions, which chain them: they set
-- tidemark.appending for their own duration (a SET clause of the function, undone when it
-- returns). An INSERT from anywhere else (an append
-- still running the functions this migration replaces, an owner's hand-written INSERT) is
-- refused rather than left out of the chain for ever.
CREATE FUNCTION tidemark.refuse_unchained_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('tidemark.appending', true) IS DISTINCT FROM 'on' THEN
        RAISE EXCEPTION 'events enter tidemark.events only through tidemark.append_events or tidemark.append_event'
            USING ERRCODE = 'TM012',
                  HINT = 'Those functions chain every event (tidemark.events.chain_hash); retry the append.';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_refuse_unchained_insert
    BEFORE INSERT ON tidemark.events
    FOR EACH STATEMENT EXECUTE FUNCTION tidemark.refuse_unchained_insert();
ALTER TABLE tidemark.events ENABLE ALWAYS TRIGGER events_refuse_unchained_insert;

CREATE OR REPLACE FUNCTION tidemark.append_events(
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
SET tidemark.appending = 'on'
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
    v_refusal   text;
    v_rule      tidemark.stream_categories;
    v_found     record;
    v_size      integer;
    v_data      text;
    v_metadata  text;
    v_times     timestamptz[];
    v_digests   bytea[];
    v_hashes    bytea[];
    v_previous  bytea;
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

        -- The stream's version and its category's rule, in one statement.
        SELECT (SELECT coalesce(max(e.stream_version), 0) FROM tidemark.events AS e WHERE e.stream_id = p_streams[i]) AS version,
               r AS rule
          INTO v_found
          FROM (SELECT 1) AS one
          LEFT JOIN tidemark.stream_categories AS r ON r.category = split_part(p_streams[i], '-', 1);
        v_current := v_found.version;
        v_rule := v_found.rule;

        v_refusal := tidemark.stream_refusal(v_rule, p_streams[i], p_event_types[v_first : v_last], v_current);
        IF v_refusal IS NOT NULL THEN
            RAISE EXCEPTION 'the stream ''%'' is refused: %', p_streams[i], v_refusal
                USING ERRCODE = 'TM010';
        END IF;

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
        -- Each event's digest and link, in position order: the first follows the newest
        -- event in the log (read once per call, under the lock), the rest the one before.
        -- chained {
        IF v_previous IS NULL THEN
            v_previous := coalesce((SELECT e.chain_hash FROM tidemark.events AS e ORDER BY e.position DESC LIMIT 1),
                                   '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
        END IF;
        -- } unchained: NULL;
        v_times := '{}';
        v_digests := '{}';
        v_hashes := '{}';
        FOR k IN 0 .. v_count - 1 LOOP
            v_data := p_data[v_first + k]::text;
            v_metadata := p_metadata[v_first + k]::text;
            v_size := octet_length(v_data) + octet_length(v_metadata);
            IF v_size > 1048576 THEN
                RAISE EXCEPTION 'an event for the stream ''%'' has % bytes of data and metadata; the limit is 1048576 (1 MiB)',
                    p_streams[i], v_size
                    USING ERRCODE = 'TM011',
                          HINT = 'Keep bulk data in the repository and reference it from the event.';
            END IF;
            v_times[k + 1] := clock_timestamp();
            -- chained {
            v_digests[k + 1] := tidemark.event_digest(v_position + k, p_streams[i], v_current + k + 1, p_event_ids[v_first + k],
                                                      p_event_types[v_first + k], p_schema_versions[v_first + k],
                                                      v_times[k + 1], v_data, v_metadata);
            v_previous := sha256(v_previous || v_digests[k + 1]);
            v_hashes[k + 1] := v_previous;
            -- } unchained: v_digests[k + 1] := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea; v_hashes[k + 1] := v_digests[k + 1];
        END LOOP;
        INSERT INTO tidemark.events AS e
               (position, stream_id, stream_version, event_id, event_type, schema_version, recorded_at, data, metadata,
                digest, chain_hash)
        SELECT v_position + u.n - 1, p_streams[i], v_current + u.n,
               u.event_id, u.event_type, u.schema_version, u.recorded_at, u.data, u.metadata, u.digest, u.chain_hash
          FROM unnest(p_event_ids[v_first : v_last], p_event_types[v_first : v_last],
                      p_schema_versions[v_first : v_last], p_data[v_first : v_last],
                      p_metadata[v_first : v_last], v_times, v_digests, v_hashes)
               WITH ORDINALITY AS u(event_id, event_type, schema_version, data, metadata, recorded_at, digest, chain_hash, n);
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

CREATE OR REPLACE FUNCTION tidemark.append_event(
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
SET tidemark.appending = 'on'
AS $$
DECLARE
    v_stored_stream  text;
    v_position       bigint;
    v_current        bigint;
    v_refusal        text;
    v_rule           tidemark.stream_categories;
    v_found          record;
    v_digest         bytea;
    v_size           integer;
    v_data           text;
    v_metadata       text;
    v_now            timestamptz;
    v_previous       bytea;
    v_link           bytea;
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

    SELECT (SELECT coalesce(max(e.stream_version), 0) FROM tidemark.events AS e WHERE e.stream_id = p_stream) AS version,
           r AS rule
      INTO v_found
      FROM (SELECT 1) AS one
      LEFT JOIN tidemark.stream_categories AS r ON r.category = split_part(p_stream, '-', 1);
    v_current := v_found.version;
    v_rule := v_found.rule;

    v_refusal := tidemark.stream_refusal(v_rule, p_stream, ARRAY[p_event_type], v_current);
    IF v_refusal IS NOT NULL THEN
        RAISE EXCEPTION 'the stream ''%'' is refused: %', p_stream, v_refusal
            USING ERRCODE = 'TM010';
    END IF;

    IF NOT tidemark.expected_version_matches(p_expected, v_current) THEN
        outcome := 'wrong_expected_version';
        stream_version := v_current;
        RETURN NEXT;
        RETURN;
    END IF;

    v_data := p_data::text;
    v_metadata := p_metadata::text;
    v_size := octet_length(v_data) + octet_length(v_metadata);
    IF v_size > 1048576 THEN
        RAISE EXCEPTION 'an event for the stream ''%'' has % bytes of data and metadata; the limit is 1048576 (1 MiB)',
            p_stream, v_size
            USING ERRCODE = 'TM011',
                  HINT = 'Keep bulk data in the repository and reference it from the event.';
    END IF;

    v_position := nextval('tidemark.event_position_seq');
    v_now := clock_timestamp();
    -- The link to the newest event (see append_events).
    -- chained {
    v_digest := tidemark.event_digest(v_position, p_stream, v_current + 1, p_event_id, p_event_type, p_schema_version,
                                      v_now, v_data, v_metadata);
    v_previous := coalesce((SELECT e.chain_hash FROM tidemark.events AS e ORDER BY e.position DESC LIMIT 1),
                           '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    v_link := sha256(v_previous || v_digest);
    -- } unchained: v_digest := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea; v_link := v_digest;
    INSERT INTO tidemark.events
           (position, stream_id, stream_version, event_id, event_type, schema_version, recorded_at, data, metadata,
            digest, chain_hash)
    VALUES (v_position, p_stream, v_current + 1, p_event_id, p_event_type, p_schema_version, v_now, p_data, p_metadata,
            v_digest, v_link);
    PERFORM pg_notify('tidemark_events', '');
    outcome := 'appended';
    positions := ARRAY[v_position, v_position];
    stream_version := v_current + 1;
    RETURN NEXT;
END
$$;

ALTER TABLE tidemark.stream_categories OWNER TO tidemark_owner;
ALTER FUNCTION tidemark.stream_refusal(tidemark.stream_categories, text, text[], bigint) OWNER TO tidemark_owner;
ALTER FUNCTION tidemark.event_digest(bigint, text, bigint, uuid, text, integer, timestamptz, text, text) OWNER TO tidemark_owner;
ALTER FUNCTION tidemark.refuse_unchained_insert() OWNER TO tidemark_owner;

REVOKE ALL ON tidemark.stream_categories FROM PUBLIC;
GRANT SELECT ON tidemark.stream_categories TO tidemark_app, tidemark_reader;
