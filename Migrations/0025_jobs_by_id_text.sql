-- 0025 — reporting.jobs' chained-job name without a scan per row (issue 17).
--
-- For a job scheduled "after" another, reporting.jobs looks the other's name up with
-- `o.job_id::text = j.schedule ->> 'job'`; job_id is a uuid, so the cast kept the primary key
-- out and each such row read every job (0.75 ms a row with 1,000 jobs: GET /api/v1/jobs, a
-- page of 50, took 9 ms in PostgreSQL, and the API fell behind at 100 requests a second).
CREATE INDEX jobs_id_text_idx ON projection.jobs ((job_id::text));
