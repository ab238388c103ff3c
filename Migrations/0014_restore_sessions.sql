-- 0014 — restores as sessions (issue 15).
--
-- Category `restore`: streams `restore-<uuid>`, written by the restore workflow
-- (RestoreManager.request, RestoreRecorder), starting with RestoreRequested.
--
-- Log query indexes: a VM's restore points by name and by id, and one by its id (a restore
-- chooses from the log itself, so a point retention removed a moment ago is never offered).
--
-- Projection "restores" (its own checkpoint): one row per restore and one per VM of a
-- restore, and reporting.restores for SQL tools: who restored what, when, to where, how it
-- ended. The shadow twins as 0004 made them.

INSERT INTO tidemark.stream_categories (category, writer, stream_pattern, event_types, first_event_type) VALUES
    ('restore', 'the restore workflow (RestoreManager.request, RestoreRecorder)',
     '^restore-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
     ARRAY['RestoreRequested', 'RestoreTargetRequested', 'RestoreTargetPrepared', 'RestoreDiskStarted', 'RestoreDiskCheckpointed',
           'RestoreDiskFinished', 'RestorePowerOnRequested', 'RestorePoweredOn', 'RestorePowerOffRequested', 'RestorePoweredOff',
           'RestoreFinished'],
     'RestoreRequested');

CREATE INDEX events_restore_point_vm_name_idx ON tidemark.events ((data ->> 'vm_name'), position)
    WHERE category = 'session' AND event_type = 'RestorePointCreated';
CREATE INDEX events_restore_point_vm_id_idx ON tidemark.events ((data ->> 'vm_id'), position)
    WHERE category = 'session' AND event_type = 'RestorePointCreated';
CREATE INDEX events_restore_requested_idx ON tidemark.events (position)
    WHERE category = 'restore' AND event_type = 'RestoreRequested';
CREATE INDEX events_restore_finished_idx ON tidemark.events (stream_id)
    WHERE event_type = 'RestoreFinished';

CREATE TABLE projection.restores (
    restore_id        text        PRIMARY KEY,
    what              text,
    actor             text,
    reason_given      text,
    repository_id     text,
    repository_name   text,
    target_server_id  text,
    target_server     text,
    target_folder     text,
    target_datastore  text,
    state             text,
    result            text,
    reason            text,
    requested_at      timestamptz,
    finished_at       timestamptz,
    read_bytes        bigint,
    written_bytes     bigint,
    skipped_bytes     bigint,
    duration_seconds  double precision,
    bytes_per_second  bigint,
    bottleneck        text
);
CREATE INDEX restores_requested_idx ON projection.restores (requested_at);

CREATE TABLE projection.restore_vms (
    restore_id        text        NOT NULL,
    vm_id             text        NOT NULL,
    vm_name           text,
    restore_point_id  text,
    point_created_at  timestamptz,
    target_name       text,
    target_vm_id      text,
    target_vm_name    text,
    adopted           boolean,
    files             text[],
    disks             integer,
    powered_on        boolean,
    PRIMARY KEY (restore_id, vm_id)
);

CREATE UNLOGGED TABLE projection_shadow.restores (LIKE projection.restores INCLUDING ALL);
CREATE UNLOGGED TABLE projection_shadow.restore_vms (LIKE projection.restore_vms INCLUDING ALL);

ALTER TABLE projection.restores OWNER TO tidemark_owner;
ALTER TABLE projection.restore_vms OWNER TO tidemark_owner;
ALTER TABLE projection_shadow.restores OWNER TO tidemark_owner;
ALTER TABLE projection_shadow.restore_vms OWNER TO tidemark_owner;

GRANT SELECT, INSERT, UPDATE, DELETE ON projection.restores, projection.restore_vms TO tidemark_app;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON projection_shadow.restores, projection_shadow.restore_vms TO tidemark_app;
GRANT SELECT ON projection.restores, projection.restore_vms TO tidemark_reader;

INSERT INTO projection.checkpoints (projection) VALUES ('restores') ON CONFLICT (projection) DO NOTHING;

-- One row per restore, its VMs gathered: who asked (the actor, and the reason they gave),
-- what (VMs and restore points), to where (server and VMs created, or files), how it ended.
CREATE VIEW reporting.restores AS
SELECT r.restore_id, r.what, r.actor AS requested_by, r.reason_given, r.requested_at, r.finished_at, r.state, r.result,
       r.reason, r.repository_name,
       coalesce(v.vm_names, '{}') AS vm_names, coalesce(v.restore_points, '{}') AS restore_points,
       r.target_server, r.target_folder, r.target_datastore,
       coalesce(v.target_vms, '{}') AS target_vms, coalesce(v.files, '{}') AS files,
       r.read_bytes, r.written_bytes, r.skipped_bytes, r.duration_seconds, r.bytes_per_second, r.bottleneck,
       coalesce(v.powered_on, 0) AS vms_powered_on
  FROM projection.restores r
  LEFT JOIN LATERAL (
        SELECT array_agg(x.vm_name ORDER BY x.vm_name) AS vm_names,
               array_agg(x.restore_point_id ORDER BY x.vm_name) AS restore_points,
               array_agg(x.target_vm_name ORDER BY x.vm_name) FILTER (WHERE x.target_vm_name IS NOT NULL) AS target_vms,
               (SELECT array_agg(f ORDER BY f) FROM projection.restore_vms y, unnest(y.files) AS f WHERE y.restore_id = r.restore_id) AS files,
               count(*) FILTER (WHERE x.powered_on)::integer AS powered_on
          FROM projection.restore_vms x WHERE x.restore_id = r.restore_id) v ON true;

ALTER VIEW reporting.restores OWNER TO tidemark_owner;
GRANT SELECT ON reporting.restores TO tidemark_app, tidemark_reader;
