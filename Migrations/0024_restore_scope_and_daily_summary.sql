-- 0024 — restore operators limited to some VMs or jobs, and daily summaries (issue 17).
--
-- UserAdded and RoleGranted may carry `scope`: {"vms": [names], "jobs": [{"id", "name"}]}.
-- The API refuses a limited restore operator's restore or publish of any other VM (403). The
-- column is added at the end: the view's other columns stay as they were.

CREATE OR REPLACE VIEW reporting.users AS
SELECT substr(a.stream_id, 6)                          AS user_id,
       a.data ->> 'name'                               AS name,
       coalesce(g.data ->> 'role', a.data ->> 'role')  AS role,
       a.recorded_at                                   AS added_at,
       a.metadata ->> 'actor'                          AS added_by,
       r.recorded_at                                   AS removed_at,
       r.metadata ->> 'actor'                          AS removed_by,
       EXISTS (SELECT 1 FROM tidemark.events p WHERE p.stream_id = a.stream_id AND p.event_type = 'PasswordSet') AS has_password,
       coalesce((SELECT f.data ->> 'credential' IS NOT NULL FROM tidemark.events f
                  WHERE f.stream_id = a.stream_id AND f.event_type = 'SecondFactorSet'
                  ORDER BY f.stream_version DESC LIMIT 1), false) AS second_factor,
       CASE WHEN g.data IS NOT NULL THEN g.data -> 'scope' ELSE a.data -> 'scope' END AS restore_scope
  FROM tidemark.events a
  LEFT JOIN LATERAL (SELECT e.data FROM tidemark.events e
                      WHERE e.stream_id = a.stream_id AND e.event_type = 'RoleGranted'
                      ORDER BY e.stream_version DESC LIMIT 1) g ON true
  LEFT JOIN tidemark.events r ON r.stream_id = a.stream_id AND r.event_type = 'UserRemoved'
 WHERE a.category = 'user' AND a.event_type = 'UserAdded';

-- Daily summaries (issue 17): a channel `--on summary` is sent the sessions and restores of
-- the 24 hours before its `summary_at`, in a stream of its own per channel and due time,
-- `notification-summary-<channel uuid>-<YYYYMMDDHHMM>` (UTC), with the same events as a
-- session's notifications (`NotificationsDue` with result `summary` first). In
-- reporting.notifications such a row's session_id is `summary-<channel uuid>-<time>`.
UPDATE tidemark.stream_categories
   SET stream_pattern = '^notification-((summary-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-[0-9]{12})|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}))$'
 WHERE category = 'notification';
