-- 0027 — a managed server's check from the console or the API (issue 18).
--
-- `POST /api/v1/servers/{name}/check` connects to the server as a session would and records
-- who asked (ServerCheckStarted) and what it found (ServerCheckFinished) on the stream
-- `check-<check uuid>`. reporting.server_checks is one row per check; finished_at and ok
-- are NULL while a check runs and for one a crash cut short (a probe: nothing to resume,
-- check again). Who asked is `checked_by`; the address they asked from is the audit trail's,
-- which now lists each check's request as it lists a restore's.
INSERT INTO tidemark.stream_categories (category, writer, stream_pattern, event_types, first_event_type) VALUES
    ('check', 'server checks (JobManager.checkServer)',
     '^check-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
     ARRAY['ServerCheckStarted', 'ServerCheckFinished'], 'ServerCheckStarted');

CREATE VIEW reporting.server_checks AS
SELECT s.data ->> 'check_id'                       AS check_id,
       s.data ->> 'server_id'                      AS server_id,
       s.data ->> 'server_name'                    AS server_name,
       s.data ->> 'platform'                       AS platform,
       s.data ->> 'location'                       AS location,
       s.recorded_at                               AS started_at,
       s.metadata ->> 'actor'                      AS checked_by,
       f.recorded_at                               AS finished_at,
       (f.data ->> 'ok')::boolean                  AS ok,
       f.data ->> 'reason'                         AS reason,
       f.data ->> 'certificate_thumbprint'         AS certificate_thumbprint,
       (f.data ->> 'certificate_pinned')::boolean  AS certificate_pinned,
       f.data ->> 'product'                        AS product,
       f.data ->> 'api'                            AS api,
       (f.data ->> 'datacenters')::integer         AS datacenters,
       (f.data ->> 'hosts')::integer               AS hosts,
       (f.data ->> 'vms')::integer                 AS vms,
       (f.data ->> 'disks')::integer               AS disks,
       (f.data ->> 'duration_ms')::bigint          AS duration_ms
  FROM tidemark.events s
  LEFT JOIN tidemark.events f ON f.stream_id = s.stream_id AND f.event_type = 'ServerCheckFinished'
 WHERE s.category = 'check' AND s.event_type = 'ServerCheckStarted';

GRANT SELECT ON reporting.server_checks TO tidemark_app, tidemark_reader;

-- As 0021's, with the checks' requests: a check logs in to a vCenter with stored credentials.
CREATE OR REPLACE VIEW reporting.audit_trail AS
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
    OR (e.category = 'publish' AND e.event_type IN ('PublishRequested', 'PublishStopRequested'))
    OR (e.category = 'check' AND e.event_type = 'ServerCheckStarted');
