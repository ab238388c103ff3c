-- 0002 — the event log: one append-only table holding every event Tidemark ever recorded.
--
-- position        global order; handed out under the log's write lock (see 0003), so
--                 positions are commit-ordered. A gap can only follow a rolled-back append.
-- stream_id       the aggregate or process the event belongs to ("job-<id>", "session-<id>").
-- stream_version  1, 2, 3... within the stream; unique with stream_id (optimistic concurrency).
-- event_id        chosen by the writer; unique, so a retried append is recognised, not doubled.
-- category        the stream id up to its first '-', for reads such as "every job-* stream".
-- transaction_id  the writing transaction (xid8), for audits; never used for ordering, since
--                 xids restart in a cluster that a dump was restored into.

CREATE TABLE tidemark.events (
    position        bigint      NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL DEFAULT 1,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    category        text        GENERATED ALWAYS AS (split_part(stream_id, '-', 1)) STORED,
    CONSTRAINT events_pkey PRIMARY KEY (position),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_position_positive CHECK (position > 0),
    CONSTRAINT events_stream_version_positive CHECK (stream_version > 0),
    CONSTRAINT events_stream_id_valid CHECK (length(stream_id) BETWEEN 1 AND 200 AND stream_id !~ '[[:space:][:cntrl:]]'),
    CONSTRAINT events_event_type_valid CHECK (event_type ~ '^[A-Za-z][A-Za-z0-9_.-]{0,99}$'),
    CONSTRAINT events_schema_version_positive CHECK (schema_version > 0),
    CONSTRAINT events_data_is_object CHECK (jsonb_typeof(data) = 'object'),
    CONSTRAINT events_metadata_is_object CHECK (jsonb_typeof(metadata) = 'object')
);

CREATE INDEX events_category_position_idx ON tidemark.events (category, position);

COMMENT ON TABLE tidemark.events IS
    'Tidemark''s event log: append-only (UPDATE, DELETE and TRUNCATE are refused), ordered by position.';

-- Positions come from this sequence, and only while the log's write lock is held.
CREATE SEQUENCE tidemark.event_position_seq AS bigint MINVALUE 1 NO CYCLE;

-- The log's write lock: appends take this empty table IN EXCLUSIVE MODE until COMMIT (see
-- 0003). Only its owner may lock it, so no other role, reader or tool can hold up appends
-- (an advisory lock could be taken by anyone who connects).
CREATE TABLE tidemark.append_lock ();

-- Immutability is the database's job. These triggers fire for every role, the owner and
-- superusers included, and ENABLE ALWAYS keeps them firing under
-- session_replication_role = replica, the usual way to silence triggers.
CREATE FUNCTION tidemark.refuse_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tidemark.events is append-only: % is refused', TG_OP
        USING ERRCODE = 'TM001',
              HINT = 'Events are immutable. Record a correction as a new event; erasure is a separate, audited tool.';
END
$$;

CREATE TRIGGER events_refuse_update_delete
    BEFORE UPDATE OR DELETE ON tidemark.events
    FOR EACH STATEMENT EXECUTE FUNCTION tidemark.refuse_event_change();
CREATE TRIGGER events_refuse_truncate
    BEFORE TRUNCATE ON tidemark.events
    FOR EACH STATEMENT EXECUTE FUNCTION tidemark.refuse_event_change();
ALTER TABLE tidemark.events ENABLE ALWAYS TRIGGER events_refuse_update_delete;
ALTER TABLE tidemark.events ENABLE ALWAYS TRIGGER events_refuse_truncate;

ALTER TABLE tidemark.events OWNER TO tidemark_owner;
ALTER SEQUENCE tidemark.event_position_seq OWNER TO tidemark_owner;
ALTER TABLE tidemark.append_lock OWNER TO tidemark_owner;
ALTER FUNCTION tidemark.refuse_event_change() OWNER TO tidemark_owner;

REVOKE ALL ON tidemark.events FROM PUBLIC;
REVOKE ALL ON SEQUENCE tidemark.event_position_seq FROM PUBLIC;
REVOKE ALL ON tidemark.append_lock FROM PUBLIC;
GRANT SELECT ON tidemark.events TO tidemark_app, tidemark_reader;
