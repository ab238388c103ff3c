-- 0028 — statistics per repository over time (issue 18: the console's statistics page, the
-- API's /statistics/repositories, and SQL tools).
--
-- A session's repository is the one its RepositoryChecked event names (the job's repository
-- when the session ran, not whichever the job names today): the sessions projection keeps it
-- in `repository_id` from now on; the sessions projected before this migration get it here,
-- from their events, as a rebuild would. reporting.sessions gains the column at its end.

ALTER TABLE projection.sessions ADD COLUMN repository_id text;
ALTER TABLE projection_shadow.sessions ADD COLUMN repository_id text;

UPDATE projection.sessions s
   SET repository_id = c.repository_id
  FROM (SELECT DISTINCT ON (e.stream_id) substr(e.stream_id, length('session-') + 1) AS session_id,
               e.data ->> 'repository_id' AS repository_id
          FROM tidemark.events e
         WHERE e.category = 'session' AND e.event_type = 'RepositoryChecked'
         ORDER BY e.stream_id, e.position DESC) c
 WHERE c.session_id = s.session_id;

CREATE OR REPLACE VIEW reporting.sessions AS
SELECT session_id, job_id, job_name, job_version, trigger, state, result, started_at, finished_at, vm_count,
       processed_bytes, read_bytes, transferred_bytes, dedupe_ratio, compression_ratio, rate_bytes_per_second,
       duration_seconds, bottleneck, busy_source_percent, busy_proxy_percent, busy_network_percent,
       busy_target_percent, reason, repository_id
  FROM projection.sessions;

-- Each repository's finished sessions per UTC day they finished (as reporting.daily_statistics
-- counts them): how many and how they ended, bytes processed, read and transferred, the time
-- spent, the dedupe and compression ratios (averaged weighted by bytes processed, so a large
-- session counts for what it moved), and the most frequent bottleneck. A repository removed
-- since keeps its rows, without a name.
CREATE VIEW reporting.repository_daily_statistics AS
SELECT (s.finished_at AT TIME ZONE 'UTC')::date                                         AS day,
       s.repository_id,
       r.name                                                                            AS repository_name,
       count(*)                                                                          AS sessions,
       count(*) FILTER (WHERE s.result = 'success')                                      AS succeeded,
       count(*) FILTER (WHERE s.result = 'warning')                                      AS warnings,
       count(*) FILTER (WHERE s.result = 'failed')                                       AS failed,
       count(*) FILTER (WHERE s.result = 'stopped')                                      AS stopped,
       coalesce(sum(s.processed_bytes), 0)::bigint                                       AS processed_bytes,
       coalesce(sum(s.read_bytes), 0)::bigint                                            AS read_bytes,
       coalesce(sum(s.transferred_bytes), 0)::bigint                                     AS transferred_bytes,
       coalesce(sum(s.duration_seconds), 0)::double precision                            AS duration_seconds,
       (sum(s.dedupe_ratio * s.processed_bytes)
          / nullif(sum(s.processed_bytes) FILTER (WHERE s.dedupe_ratio IS NOT NULL), 0))::double precision
                                                                                         AS dedupe_ratio,
       (sum(s.compression_ratio * s.processed_bytes)
          / nullif(sum(s.processed_bytes) FILTER (WHERE s.compression_ratio IS NOT NULL), 0))::double precision
                                                                                         AS compression_ratio,
       mode() WITHIN GROUP (ORDER BY s.bottleneck)                                       AS bottleneck
  FROM projection.sessions s
  LEFT JOIN projection.repositories r ON r.repository_id::text = s.repository_id
 WHERE s.state = 'finished' AND s.repository_id IS NOT NULL AND s.finished_at IS NOT NULL
 GROUP BY 1, 2, 3;

ALTER VIEW reporting.sessions OWNER TO tidemark_owner;
ALTER VIEW reporting.repository_daily_statistics OWNER TO tidemark_owner;
GRANT SELECT ON reporting.sessions, reporting.repository_daily_statistics TO tidemark_app, tidemark_reader;
