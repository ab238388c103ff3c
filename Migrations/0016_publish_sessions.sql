-- 0016 — publishes (instant access) as sessions (issue 16).
--
-- Category `publish`: streams `publish-<uuid>`, written by the publish workflow
-- (PublishManager), starting with PublishRequested; the index finds the publishes not yet
-- stopped ('tidemark publish list', a server restarting the ones it served).

INSERT INTO tidemark.stream_categories (category, writer, stream_pattern, event_types, first_event_type) VALUES
    ('publish', 'the publish workflow (PublishManager)',
     '^publish-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
     ARRAY['PublishRequested', 'PublishStarted', 'PublishClientConnected', 'PublishStopRequested', 'PublishStopped'],
     'PublishRequested');

CREATE INDEX events_publish_requested_idx ON tidemark.events (position)
    WHERE category = 'publish' AND event_type = 'PublishRequested';
CREATE INDEX events_publish_stopped_idx ON tidemark.events (stream_id)
    WHERE event_type = 'PublishStopped';

-- Projection "publishes" (its own checkpoint): one row per publish — who asked and why, which
-- restore point, where it was served, what was served, who stopped it — and
-- reporting.publishes for SQL tools. The shadow twin as 0004 made them.
CREATE TABLE projection.publishes (
    publish_id        text        PRIMARY KEY,
    vm_id             text,
    vm_name           text,
    restore_point_id  text,
    repository_name   text,
    disks             text[],
    actor             text,
    reason_given      text,
    writable          boolean,
    address           text,
    host              text,
    requested_at      timestamptz,
    stopped_at        timestamptz,
    state             text,
    clients           bigint,
    reads             bigint,
    bytes_read        bigint,
    writes            bigint,
    bytes_written     bigint,
    errors            bigint,
    stop_reason       text,
    stopped_by        text,
    overlay_kept      text
);
CREATE INDEX publishes_requested_idx ON projection.publishes (requested_at);

CREATE UNLOGGED TABLE projection_shadow.publishes (LIKE projection.publishes INCLUDING ALL);

ALTER TABLE projection.publishes OWNER TO tidemark_owner;
ALTER TABLE projection_shadow.publishes OWNER TO tidemark_owner;

GRANT SELECT, INSERT, UPDATE, DELETE ON projection.publishes TO tidemark_app;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON projection_shadow.publishes TO tidemark_app;
GRANT SELECT ON projection.publishes TO tidemark_reader;

INSERT INTO projection.checkpoints (projection) VALUES ('publishes') ON CONFLICT (projection) DO NOTHING;

-- One row per publish: who published which point of which VM, why, where, for how long, what
-- was read and written through it, and who stopped it.
CREATE VIEW reporting.publishes AS
SELECT p.publish_id, p.vm_name, p.restore_point_id, p.repository_name, p.disks, p.actor AS requested_by, p.reason_given,
       p.writable, p.address, p.host, p.requested_at, p.stopped_at, p.state, p.clients, p.reads, p.bytes_read, p.writes,
       p.bytes_written, p.errors, p.stop_reason, p.stopped_by, p.overlay_kept
  FROM projection.publishes p;

ALTER VIEW reporting.publishes OWNER TO tidemark_owner;
GRANT SELECT ON reporting.publishes TO tidemark_app, tidemark_reader;
