-- 0006 — why a session ended as it did, and how far behind the projections are.
--
-- A failed or warning session says why: `reason` on sessions (from SessionFinished), the
-- last session's reason on jobs. Views only gain columns at their end (a promise to SQL
-- tools). Catalog changes whose event carries no name (JobEnabled, JobDisabled) take the
-- name the object had then, from the latest earlier event of its stream that names it.

ALTER TABLE projection.sessions ADD COLUMN reason text;
ALTER TABLE projection_shadow.sessions ADD COLUMN reason text;
ALTER TABLE projection.jobs ADD COLUMN last_reason text;
ALTER TABLE projection_shadow.jobs ADD COLUMN last_reason text;

CREATE OR REPLACE VIEW reporting.sessions AS
SELECT session_id, job_id, job_name, job_version, trigger, state, result, started_at, finished_at, vm_count,
       processed_bytes, read_bytes, transferred_bytes, dedupe_ratio, compression_ratio, rate_bytes_per_second,
       duration_seconds, bottleneck, busy_source_percent, busy_proxy_percent, busy_network_percent,
       busy_target_percent, reason
  FROM projection.sessions;

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
       j.last_reason
  FROM projection.jobs j
  LEFT JOIN projection.managed_servers s ON s.server_id = j.server_id
  LEFT JOIN projection.repositories r ON r.repository_id = j.repository_id;

CREATE OR REPLACE VIEW reporting.catalog_changes AS
SELECT e.position,
       e.recorded_at                       AS changed_at,
       e.category                          AS object_kind,
       substr(e.stream_id, length(e.category) + 2) AS object_id,
       coalesce(e.data -> 'definition' ->> 'name', e.data ->> 'to', e.data ->> 'name',
                (SELECT coalesce(p.data -> 'definition' ->> 'name', p.data ->> 'to', p.data ->> 'name')
                   FROM tidemark.events p
                  WHERE p.stream_id = e.stream_id AND p.stream_version < e.stream_version
                    AND coalesce(p.data -> 'definition' ->> 'name', p.data ->> 'to', p.data ->> 'name') IS NOT NULL
                  ORDER BY p.stream_version DESC
                  LIMIT 1))                AS object_name,
       e.event_type                        AS change,
       e.metadata ->> 'actor'              AS changed_by,
       e.data -> 'changed'                 AS changed_fields
  FROM tidemark.events e
 WHERE e.category IN ('server', 'repository', 'proxy', 'throttle', 'job');

-- seconds_behind: how long the oldest event a projection has not applied has waited (0 when
-- it is caught up), so a stale report can be told from a quiet system.
CREATE OR REPLACE VIEW reporting.projection_status AS
SELECT c.projection, c.position, h.head, h.head - c.position AS events_behind, c.updated_at, c.rebuilt_at,
       coalesce(extract(epoch FROM now() - (SELECT e.recorded_at FROM tidemark.events e
                                              WHERE e.position > c.position ORDER BY e.position LIMIT 1))::double precision,
                0)                 AS seconds_behind
  FROM projection.checkpoints c
 CROSS JOIN (SELECT coalesce(max(position), 0) AS head FROM tidemark.events) h;

ALTER VIEW reporting.sessions OWNER TO tidemark_owner;
ALTER VIEW reporting.jobs OWNER TO tidemark_owner;
ALTER VIEW reporting.catalog_changes OWNER TO tidemark_owner;
ALTER VIEW reporting.projection_status OWNER TO tidemark_owner;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO tidemark_app, tidemark_reader;
