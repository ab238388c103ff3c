-- 0004 — the projections' tables: the catalog, sessions and statistics folded from the log.
--
-- Projections are disposable: every row here can be rebuilt from tidemark.events. The
-- service role writes them (it owns nothing, so it cannot change their shape); the
-- projector updates a projection's checkpoint in the same transaction as its rows.
--
-- projection_shadow holds one UNLOGGED twin of every table (LIKE ... INCLUDING ALL): a
-- rebuild fills the twins from position zero while readers keep the live tables, then
-- replaces the live rows in one transaction. A migration that changes a live table must
-- change its twin the same way.
--
-- Session and task rows are assembled from many events, a batch at a time, by upserts that
-- keep a column's stored value where the batch has none: their columns are nullable.
--
-- Ids made by Tidemark (catalog objects) are uuid; ids that come from the infrastructure
-- or from session events (VMs, tasks, restore points, sessions) are text, so an odd id
-- from a hypervisor can never stop a projection.

CREATE SCHEMA projection AUTHORIZATION tidemark_owner;
CREATE SCHEMA projection_shadow AUTHORIZATION tidemark_owner;

-- One row per projection: the log position its tables reflect.
CREATE TABLE projection.checkpoints (
    projection  text        PRIMARY KEY,
    position    bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    rebuilt_at  timestamptz
);
INSERT INTO projection.checkpoints (projection) VALUES ('catalog'), ('sessions'), ('statistics');

-- Projection "catalog": the current definition of every object, from the catalog events,
-- and each job's last session, from SessionStarted/SessionFinished.
CREATE TABLE projection.managed_servers (
    server_id           uuid        PRIMARY KEY,
    name                text        NOT NULL,
    platform            text        NOT NULL,
    url                 text,
    user_name           text,
    password_reference  text,
    thumbprint          text,
    folder              text,
    version             bigint      NOT NULL,
    definition          jsonb       NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    updated_by          text
);

CREATE TABLE projection.repositories (
    repository_id                 uuid        PRIMARY KEY,
    name                          text        NOT NULL,
    path                          text        NOT NULL,
    max_concurrent_tasks          integer     NOT NULL,
    free_space_threshold_percent  integer     NOT NULL,
    site                          text        NOT NULL,
    version                       bigint      NOT NULL,
    definition                    jsonb       NOT NULL,
    created_at                    timestamptz NOT NULL,
    updated_at                    timestamptz NOT NULL,
    updated_by                    text
);

CREATE TABLE projection.proxies (
    proxy_id              uuid        PRIMARY KEY,
    name                  text        NOT NULL,
    site                  text        NOT NULL,
    transport_modes       text[]      NOT NULL,
    max_concurrent_tasks  integer     NOT NULL,
    datastores            text[]      NOT NULL,
    host                  text,
    cluster               text,
    version               bigint      NOT NULL,
    definition            jsonb       NOT NULL,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    updated_by            text
);

CREATE TABLE projection.throttling_rules (
    rule_id               uuid        PRIMARY KEY,
    name                  text        NOT NULL,
    source_sites          text[]      NOT NULL,
    source_proxy_ids      uuid[]      NOT NULL,
    target_repository_ids uuid[]      NOT NULL,
    bytes_per_second      bigint      NOT NULL,
    window_start          text,
    window_end            text,
    version               bigint      NOT NULL,
    definition            jsonb       NOT NULL,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    updated_by            text
);

CREATE TABLE projection.jobs (
    job_id               uuid        PRIMARY KEY,
    name                 text        NOT NULL,
    description          text        NOT NULL,
    enabled              boolean     NOT NULL,
    server_id            uuid        NOT NULL,
    repository_id        uuid        NOT NULL,
    proxy_ids            uuid[]      NOT NULL,
    schedule             jsonb       NOT NULL,
    schedule_text        text        NOT NULL,
    time_zone            text        NOT NULL,
    retention            text        NOT NULL,
    version              bigint      NOT NULL,
    definition           jsonb       NOT NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    updated_by           text,
    -- Filled by the scheduler's events (the Job Manager issue); NULL until then.
    next_run_at          timestamptz,
    last_session_id      text,
    last_result          text,
    last_started_at      timestamptz,
    last_finished_at     timestamptz
);
CREATE INDEX jobs_last_session_idx ON projection.jobs (last_session_id);

-- Projection "sessions": one row per session, per task (a VM disk, or a VM), per restore point.
CREATE TABLE projection.sessions (
    session_id              text        PRIMARY KEY,
    job_id                  text,
    job_name                text,
    job_version             bigint,
    trigger                 text,
    state                   text,
    result                  text,
    started_at              timestamptz,
    finished_at             timestamptz,
    vm_count                integer,
    processed_bytes         bigint,
    read_bytes              bigint,
    transferred_bytes       bigint,
    dedupe_ratio            double precision,
    compression_ratio       double precision,
    rate_bytes_per_second   double precision,
    duration_seconds        double precision,
    bottleneck              text,
    busy_source_percent     double precision,
    busy_proxy_percent      double precision,
    busy_network_percent    double precision,
    busy_target_percent     double precision,
    last_event_at           timestamptz NOT NULL
);
CREATE INDEX sessions_job_started_idx ON projection.sessions (job_id, started_at);

CREATE TABLE projection.tasks (
    session_id          text        NOT NULL,
    task_id             text        NOT NULL,
    vm_id               text,
    vm_name             text,
    disk_key            integer,
    size_bytes          bigint,
    proxy_id            text,
    proxy_name          text,
    transport_mode      text,
    state               text,
    result              text,
    message             text,
    attempts            integer,
    started_at          timestamptz,
    finished_at         timestamptz,
    offset_bytes        bigint,
    read_bytes          bigint,
    transferred_bytes   bigint,
    new_chunks          bigint,
    PRIMARY KEY (session_id, task_id)
);

CREATE TABLE projection.restore_points (
    restore_point_id  text        PRIMARY KEY,
    session_id        text        NOT NULL,
    job_id            text,
    vm_id             text        NOT NULL,
    vm_name           text,
    disks             text[]      NOT NULL,
    size_bytes        bigint,
    created_at        timestamptz NOT NULL,
    removed_at        timestamptz,
    removal_reason    text
);
CREATE INDEX restore_points_vm_idx ON projection.restore_points (vm_id, created_at);

-- Projection "statistics": totals per UTC day of the sessions that finished that day. Batches
-- add to the stored sums, so the duration is an exact decimal: float sums would depend on
-- where batches happened to split, and a rebuild must equal the live rows.
CREATE TABLE projection.daily_statistics (
    day                       date    PRIMARY KEY,
    sessions                  integer NOT NULL,
    succeeded                 integer NOT NULL,
    warnings                  integer NOT NULL,
    failed                    integer NOT NULL,
    processed_bytes           bigint  NOT NULL,
    read_bytes                bigint  NOT NULL,
    transferred_bytes         bigint  NOT NULL,
    duration_seconds          numeric(18,3) NOT NULL,
    restore_points_created    integer NOT NULL,
    restore_points_removed    integer NOT NULL
);

-- The shadow twins.
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'projection' AND tablename <> 'checkpoints' LOOP
        EXECUTE format('CREATE UNLOGGED TABLE projection_shadow.%I (LIKE projection.%I INCLUDING ALL)', t, t);
        EXECUTE format('ALTER TABLE projection_shadow.%I OWNER TO tidemark_owner', t);
        EXECUTE format('ALTER TABLE projection.%I OWNER TO tidemark_owner', t);
    END LOOP;
END
$$;
ALTER TABLE projection.checkpoints OWNER TO tidemark_owner;

REVOKE ALL ON SCHEMA projection, projection_shadow FROM PUBLIC;
GRANT USAGE ON SCHEMA projection, projection_shadow TO tidemark_app;
GRANT USAGE ON SCHEMA projection TO tidemark_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA projection TO tidemark_app;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA projection_shadow TO tidemark_app;
GRANT SELECT ON ALL TABLES IN SCHEMA projection TO tidemark_reader;
