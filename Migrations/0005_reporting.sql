-- 0005 — the reporting schema: stable views for SQL tools (psql, BI), documented in
-- docs/sql-cookbook.md. Column names here are a promise: later migrations may add
-- columns or views, never rename or remove one. Readers: GRANT tidemark_reader TO <role>.
--
-- Sizes are bytes, rates bytes per second, durations seconds, times timestamptz.

CREATE SCHEMA reporting AUTHORIZATION tidemark_owner;

CREATE VIEW reporting.jobs AS
SELECT j.job_id,
       j.name                       AS job_name,
       j.description,
       j.enabled,
       s.name                       AS server_name,
       r.name                       AS repository_name,
       CASE WHEN cardinality(j.proxy_ids) = 0 THEN 'automatic'
            ELSE (SELECT string_agg(p.name, ', ' ORDER BY p.name) FROM projection.proxies p WHERE p.proxy_id = ANY (j.proxy_ids))
       END                          AS proxies,
       CASE WHEN j.schedule ->> 'kind' = 'after'
            THEN 'after ' || coalesce((SELECT o.name FROM projection.jobs o WHERE o.job_id::text = j.schedule ->> 'job'), j.schedule ->> 'job')
            ELSE j.schedule_text
       END                          AS schedule,
       j.time_zone,
       j.retention,
       j.version                    AS definition_version,
       j.created_at,
       j.updated_at,
       j.updated_by,
       j.next_run_at,
       j.last_session_id,
       j.last_result,
       j.last_started_at,
       j.last_finished_at
  FROM projection.jobs j
  LEFT JOIN projection.managed_servers s ON s.server_id = j.server_id
  LEFT JOIN projection.repositories r ON r.repository_id = j.repository_id;

CREATE VIEW reporting.repositories AS
SELECT repository_id, name AS repository_name, path, max_concurrent_tasks, free_space_threshold_percent, site,
       version AS definition_version, created_at, updated_at, updated_by
  FROM projection.repositories;

CREATE VIEW reporting.proxies AS
SELECT proxy_id, name AS proxy_name, site, transport_modes, max_concurrent_tasks, datastores, host, cluster,
       version AS definition_version, created_at, updated_at, updated_by
  FROM projection.proxies;

CREATE VIEW reporting.managed_servers AS
SELECT server_id, name AS server_name, platform, url, user_name, password_reference, thumbprint, folder,
       version AS definition_version, created_at, updated_at, updated_by
  FROM projection.managed_servers;

CREATE VIEW reporting.throttling_rules AS
SELECT rule_id, name AS rule_name, source_sites, source_proxy_ids, target_repository_ids, bytes_per_second,
       window_start, window_end, version AS definition_version, created_at, updated_at, updated_by
  FROM projection.throttling_rules;

CREATE VIEW reporting.sessions AS
SELECT session_id, job_id, job_name, job_version, trigger, state, result, started_at, finished_at, vm_count,
       processed_bytes, read_bytes, transferred_bytes, dedupe_ratio, compression_ratio, rate_bytes_per_second,
       duration_seconds, bottleneck, busy_source_percent, busy_proxy_percent, busy_network_percent,
       busy_target_percent
  FROM projection.sessions;

CREATE VIEW reporting.tasks AS
SELECT t.session_id, s.job_id, s.job_name, t.task_id, t.vm_id, t.vm_name, t.disk_key, t.size_bytes, t.proxy_id,
       t.proxy_name, t.transport_mode, t.state, t.result, t.message, t.attempts, t.started_at, t.finished_at,
       t.read_bytes, t.transferred_bytes,
       CASE WHEN t.finished_at > t.started_at
            THEN t.read_bytes / extract(epoch FROM t.finished_at - t.started_at)::double precision
       END AS rate_bytes_per_second
  FROM projection.tasks t
  LEFT JOIN projection.sessions s ON s.session_id = t.session_id;

CREATE VIEW reporting.restore_points AS
SELECT rp.restore_point_id, rp.session_id, rp.job_id, s.job_name, rp.vm_id, rp.vm_name, rp.disks, rp.size_bytes,
       rp.created_at, rp.removed_at, rp.removal_reason, rp.removed_at IS NULL AS available
  FROM projection.restore_points rp
  LEFT JOIN projection.sessions s ON s.session_id = rp.session_id;

CREATE VIEW reporting.daily_statistics AS
SELECT day, sessions, succeeded, warnings, failed, processed_bytes, read_bytes, transferred_bytes, duration_seconds,
       restore_points_created, restore_points_removed
  FROM projection.daily_statistics;

-- Every change to every catalog object, straight from the log: who changed what, when.
CREATE VIEW reporting.catalog_changes AS
SELECT e.position,
       e.recorded_at                       AS changed_at,
       e.category                          AS object_kind,
       substr(e.stream_id, length(e.category) + 2) AS object_id,
       coalesce(e.data -> 'definition' ->> 'name', e.data ->> 'to', e.data ->> 'name') AS object_name,
       e.event_type                        AS change,
       e.metadata ->> 'actor'              AS changed_by,
       e.data -> 'changed'                 AS changed_fields
  FROM tidemark.events e
 WHERE e.category IN ('server', 'repository', 'proxy', 'throttle', 'job');

-- Each projection's position and how far it trails the log.
CREATE VIEW reporting.projection_status AS
SELECT c.projection, c.position, h.head, h.head - c.position AS events_behind, c.updated_at, c.rebuilt_at
  FROM projection.checkpoints c
 CROSS JOIN (SELECT coalesce(max(position), 0) AS head FROM tidemark.events) h;

DO $$
DECLARE
    v text;
BEGIN
    FOR v IN SELECT viewname FROM pg_views WHERE schemaname = 'reporting' LOOP
        EXECUTE format('ALTER VIEW reporting.%I OWNER TO tidemark_owner', v);
    END LOOP;
END
$$;

REVOKE ALL ON SCHEMA reporting FROM PUBLIC;
GRANT USAGE ON SCHEMA reporting TO tidemark_app, tidemark_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO tidemark_app, tidemark_reader;
