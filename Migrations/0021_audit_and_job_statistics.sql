-- 0021 — the audit trail and per-job statistics as views (issue 17: the API serves them, and
-- SQL tools read the same rows).

-- Who did what, when, from where: every event a person's intent put in the log. The catalog's
-- and identity's commands, sign-in records, notification channels, two-person approvals and the
-- settings (migration 0022) whole; of the workflows,
-- the requests only (a manual start, a stop, a restore, a publish and its stop), not the
-- progress that followed. `actor` and `client_address` are the metadata the writer recorded
-- (an API request's authenticated user and address, a command's `cli:<login>`). A token's
-- SHA-256 and a password's bcrypt hash are left out, as reporting.api_tokens and
-- reporting.users leave them out.
CREATE VIEW reporting.audit_trail AS
SELECT e.position,
       e.recorded_at                      AS at,
       e.category,
       e.stream_id,
       e.event_type,
       e.metadata ->> 'actor'             AS actor,
       e.metadata ->> 'client_address'    AS client_address,
       e.metadata ->> 'host'              AS host,
       e.data - 'sha256' - 'password_hash' AS details
  FROM tidemark.events e
 WHERE e.category IN ('server', 'repository', 'proxy', 'throttle', 'job', 'user', 'token', 'access', 'notify', 'control',
                      'approval', 'setting')
    OR (e.category = 'session' AND e.event_type = 'SessionStarted' AND e.data ->> 'trigger' = 'manual')
    OR (e.category = 'restore' AND e.event_type IN ('RestoreRequested', 'RestorePowerOnRequested', 'RestorePowerOffRequested'))
    OR (e.category = 'publish' AND e.event_type IN ('PublishRequested', 'PublishStopRequested'));

GRANT SELECT ON reporting.audit_trail TO tidemark_app, tidemark_reader;

-- Each job's sessions summed up: how often it ran, how it ended, when it last succeeded, what
-- it moved. A lateral join per job, so a page of jobs reads only those jobs' sessions (by
-- sessions_job_started_idx), not every session there is.
CREATE VIEW reporting.job_statistics AS
SELECT j.job_id,
       j.name AS job_name,
       st.sessions,
       st.succeeded,
       st.warnings,
       st.failed,
       st.stopped,
       st.running,
       st.last_started_at,
       st.last_success_at,
       st.processed_bytes,
       st.read_bytes,
       st.transferred_bytes,
       st.average_duration_seconds,
       st.longest_duration_seconds
  FROM projection.jobs j
 CROSS JOIN LATERAL (
        SELECT count(*)                                                             AS sessions,
               count(*) FILTER (WHERE s.result = 'success')                         AS succeeded,
               count(*) FILTER (WHERE s.result = 'warning')                         AS warnings,
               count(*) FILTER (WHERE s.result = 'failed')                          AS failed,
               count(*) FILTER (WHERE s.result = 'stopped')                         AS stopped,
               count(*) FILTER (WHERE s.state = 'running')                          AS running,
               max(s.started_at)                                                    AS last_started_at,
               max(s.finished_at) FILTER (WHERE s.result IN ('success', 'warning')) AS last_success_at,
               coalesce(sum(s.processed_bytes), 0)::bigint                          AS processed_bytes,
               coalesce(sum(s.read_bytes), 0)::bigint                               AS read_bytes,
               coalesce(sum(s.transferred_bytes), 0)::bigint                        AS transferred_bytes,
               avg(s.duration_seconds) FILTER (WHERE s.state = 'finished')::double precision AS average_duration_seconds,
               max(s.duration_seconds)::double precision                            AS longest_duration_seconds
          FROM projection.sessions s
         WHERE s.job_id = j.job_id::text) st;

GRANT SELECT ON reporting.job_statistics TO tidemark_app, tidemark_reader;

-- Pages of jobs by name (the API's lists, job_statistics): without it each page scans and
-- sorts every job, and job_statistics aggregates every job's sessions before the limit.
CREATE INDEX jobs_name_idx ON projection.jobs (name);

-- The API's sessions list is newest first over every session (GET /api/v1/sessions): without
-- this index each page sorts the whole table.
CREATE INDEX sessions_newest_idx ON projection.sessions ((coalesce(started_at, '-infinity'::timestamptz)) DESC, session_id DESC);
