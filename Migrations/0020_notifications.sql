-- 0020 — notifications of finished sessions (issue 17).
--
-- Category `notify`: streams `notify-<uuid>`, one per channel (`tidemark notify add|remove`).
-- Category `notification`: streams `notification-<session uuid>`, written by the server's
-- NotificationService: NotificationsDue first (a new stream, so one server delivers), then
-- each attempt's NotificationSent or NotificationFailed.

INSERT INTO tidemark.stream_categories (category, writer, stream_pattern, event_types, first_event_type) VALUES
    ('notify', 'notification channel commands (NotificationChannels)',
     '^notify-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
     ARRAY['NotificationChannelAdded', 'NotificationChannelRemoved'], 'NotificationChannelAdded'),
    ('notification', 'the server''s notifications (NotificationService)',
     '^notification-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
     ARRAY['NotificationsDue', 'NotificationSent', 'NotificationFailed'], 'NotificationsDue');

-- Every delivery attempt: which session, which channel, what happened. A missing mail is
-- explained here (or by the absence of a row: no channel wanted that session).
CREATE VIEW reporting.notifications AS
SELECT e.position,
       e.recorded_at                         AS at,
       substr(e.stream_id, 14)               AS session_id,
       d.data ->> 'job_name'                 AS job_name,
       d.data ->> 'result'                   AS session_result,
       e.data ->> 'channel'                  AS channel,
       (e.data ->> 'attempt')::integer       AS attempt,
       CASE e.event_type WHEN 'NotificationSent' THEN 'sent' ELSE 'failed' END AS outcome,
       coalesce(e.data ->> 'detail', e.data ->> 'error') AS detail,
       (e.data ->> 'will_retry')::boolean    AS will_retry
  FROM tidemark.events e
  JOIN tidemark.events d ON d.stream_id = e.stream_id AND d.stream_version = 1
 WHERE e.category = 'notification' AND e.event_type IN ('NotificationSent', 'NotificationFailed');

GRANT SELECT ON reporting.notifications TO tidemark_app, tidemark_reader;
