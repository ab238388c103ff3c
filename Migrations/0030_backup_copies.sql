-- 0030 — backup copy jobs with GFS retention (issue 19).
--
-- A copy job's sessions carry the job they copy (SessionStarted.copy_of_job_id), and its
-- restore points the point they copy (RestorePointCreated.copy_of) and their GFS flags
-- (RestorePointCreated.gfs: weekly, monthly, yearly). No event carried them before this
-- migration, so the new columns need no backfill. Each reporting view gains its columns at
-- its end.

ALTER TABLE projection.sessions ADD COLUMN copy_of_job_id text;
ALTER TABLE projection_shadow.sessions ADD COLUMN copy_of_job_id text;
ALTER TABLE projection.restore_points ADD COLUMN copy_of text, ADD COLUMN gfs text[];
ALTER TABLE projection_shadow.restore_points ADD COLUMN copy_of text, ADD COLUMN gfs text[];

CREATE INDEX restore_points_copy_of ON projection.restore_points (copy_of) WHERE copy_of IS NOT NULL;

CREATE OR REPLACE VIEW reporting.sessions AS
SELECT session_id, job_id, job_name, job_version, trigger, state, result, started_at, finished_at, vm_count,
       processed_bytes, read_bytes, transferred_bytes, dedupe_ratio, compression_ratio, rate_bytes_per_second,
       duration_seconds, bottleneck, busy_source_percent, busy_proxy_percent, busy_network_percent,
       busy_target_percent, reason, repository_id,
       CASE WHEN copy_of_job_id IS NULL THEN 'backup' ELSE 'copy' END AS session_kind,
       copy_of_job_id
  FROM projection.sessions;

CREATE OR REPLACE VIEW reporting.restore_points AS
SELECT rp.restore_point_id, rp.session_id, rp.job_id, s.job_name, rp.vm_id, rp.vm_name, rp.disks, rp.size_bytes,
       rp.created_at, rp.removed_at, rp.removal_reason, rp.removed_at IS NULL AS available,
       coalesce(h.damaged, false) AS damaged,
       h.last_verified_at,
       h.damage,
       rp.copy_of,
       coalesce('weekly' = ANY (rp.gfs), false)  AS gfs_weekly,
       coalesce('monthly' = ANY (rp.gfs), false) AS gfs_monthly,
       coalesce('yearly' = ANY (rp.gfs), false)  AS gfs_yearly
  FROM projection.restore_points rp
  LEFT JOIN projection.sessions s ON s.session_id = rp.session_id
  LEFT JOIN projection.restore_point_health h ON h.restore_point_id = rp.restore_point_id;

CREATE OR REPLACE VIEW reporting.jobs AS
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
       j.last_finished_at,
       j.last_reason,
       CASE WHEN j.definition ? 'copy' THEN 'copy' ELSE 'backup' END AS job_kind,
       j.definition #>> '{copy,source}' AS copy_of_job_id,
       (SELECT o.name FROM projection.jobs o WHERE o.job_id::text = j.definition #>> '{copy,source}') AS copy_of_job_name,
       j.definition #>> '{copy,mode}' AS copy_mode,
       nullif(concat_ws(', ',
           CASE WHEN (j.definition #>> '{copy,gfs,weekly}')::int > 0 THEN 'weekly ' || (j.definition #>> '{copy,gfs,weekly}') END,
           CASE WHEN (j.definition #>> '{copy,gfs,monthly}')::int > 0 THEN 'monthly ' || (j.definition #>> '{copy,gfs,monthly}') END,
           CASE WHEN (j.definition #>> '{copy,gfs,yearly}')::int > 0 THEN 'yearly ' || (j.definition #>> '{copy,gfs,yearly}') END),
         '') AS gfs
  FROM projection.jobs j
  LEFT JOIN projection.managed_servers s ON s.server_id = j.server_id
  LEFT JOIN projection.repositories r ON r.repository_id = j.repository_id;

ALTER VIEW reporting.sessions OWNER TO tidemark_owner;
ALTER VIEW reporting.restore_points OWNER TO tidemark_owner;
ALTER VIEW reporting.jobs OWNER TO tidemark_owner;
GRANT SELECT ON reporting.sessions, reporting.restore_points, reporting.jobs TO tidemark_app, tidemark_reader;
