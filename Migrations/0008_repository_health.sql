-- 0008 — repository health checks: what the `health-<repository>` streams say, projected.
--
-- Projection "health" (its own checkpoint): each restore point's latest verification and one
-- row per health check. reporting.restore_points gains `damaged`, `last_verified_at` and
-- `damage` at its end (columns are a promise: added, never renamed or dropped);
-- reporting.health_checks is new. The shadow twins get the same tables (LIKE ... INCLUDING
-- ALL), as 0004 made them.
--
-- The service role keeps SELECT, INSERT and UPDATE on projection.checkpoints but loses
-- DELETE: no code path deletes a checkpoint, and a deleted one made every reading command
-- fail. (A missing row is recreated at position 0 by the projector and by `db migrate`.)

CREATE TABLE projection.restore_point_health (
    restore_point_id    text        PRIMARY KEY,
    repository_id       text,
    damaged             boolean,
    last_verified_at    timestamptz,
    last_check_id       text,
    damage              text,
    damaged_references  bigint
);

CREATE TABLE projection.health_checks (
    check_id         text        PRIMARY KEY,
    repository_id    text,
    repository_name  text,
    trigger          text,
    actor            text,
    state            text,
    result           text,
    started_at       timestamptz,
    finished_at      timestamptz,
    planned          bigint,
    planned_bytes    bigint,
    verified         bigint,
    damaged          bigint,
    verified_bytes   bigint,
    corrupt_chunks   bigint,
    missing_chunks   bigint,
    healed_chunks    bigint
);
CREATE INDEX health_checks_repository_idx ON projection.health_checks (repository_id, started_at);

CREATE UNLOGGED TABLE projection_shadow.restore_point_health (LIKE projection.restore_point_health INCLUDING ALL);
CREATE UNLOGGED TABLE projection_shadow.health_checks (LIKE projection.health_checks INCLUDING ALL);

ALTER TABLE projection.restore_point_health OWNER TO tidemark_owner;
ALTER TABLE projection.health_checks OWNER TO tidemark_owner;
ALTER TABLE projection_shadow.restore_point_health OWNER TO tidemark_owner;
ALTER TABLE projection_shadow.health_checks OWNER TO tidemark_owner;

GRANT SELECT, INSERT, UPDATE, DELETE ON projection.restore_point_health, projection.health_checks TO tidemark_app;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON projection_shadow.restore_point_health, projection_shadow.health_checks TO tidemark_app;
GRANT SELECT ON projection.restore_point_health, projection.health_checks TO tidemark_reader;

INSERT INTO projection.checkpoints (projection) VALUES ('health') ON CONFLICT (projection) DO NOTHING;

REVOKE DELETE ON projection.checkpoints FROM tidemark_app;

CREATE OR REPLACE VIEW reporting.restore_points AS
SELECT rp.restore_point_id, rp.session_id, rp.job_id, s.job_name, rp.vm_id, rp.vm_name, rp.disks, rp.size_bytes,
       rp.created_at, rp.removed_at, rp.removal_reason, rp.removed_at IS NULL AS available,
       coalesce(h.damaged, false) AS damaged,
       h.last_verified_at,
       h.damage
  FROM projection.restore_points rp
  LEFT JOIN projection.sessions s ON s.session_id = rp.session_id
  LEFT JOIN projection.restore_point_health h ON h.restore_point_id = rp.restore_point_id;

CREATE VIEW reporting.health_checks AS
SELECT check_id, repository_id, repository_name, trigger, actor, state, result, started_at, finished_at, planned,
       planned_bytes, verified, damaged, verified_bytes, corrupt_chunks, missing_chunks, healed_chunks
  FROM projection.health_checks;

ALTER VIEW reporting.restore_points OWNER TO tidemark_owner;
ALTER VIEW reporting.health_checks OWNER TO tidemark_owner;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO tidemark_app, tidemark_reader;
