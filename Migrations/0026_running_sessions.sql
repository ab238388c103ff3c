-- 0026 — the running sessions without reading every session (issue 18).
--
-- The console's dashboard lists the sessions running now; with 100,000 sessions finished,
-- `state = 'running'` read them all. Few run at once, so a partial index stays tiny.
CREATE INDEX sessions_running_idx ON projection.sessions (started_at) WHERE state = 'running';

-- Each job's last success, which the dashboard asks of every enabled job: without this a job
-- that always warns read its whole history through (job_id, started_at) to find none.
CREATE INDEX sessions_job_success_idx ON projection.sessions (job_id, started_at) WHERE result = 'success';
