-- 0016 — publishes (instant access) as sessions (issue 16).
--
-- Category `publish`: streams `publish-<uuid>`, written by the publish workflow
-- (PublishManager), starting with PublishRequested; the index finds the publishes not yet
-- stopped ('tidemark publish list', a server restarting the ones it served).

INSERT INTO tidemark.stream_categories (category, writer, stream_pattern, event_types, first_event_type) VALUES
    ('publish', 'the publish workflow (PublishManager)',
     '^publish-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
     ARRAY['PublishRequested', 'PublishStarted', 'PublishClientConnected', 'PublishStopRequested', 'PublishStopped'],
     'PublishRequested');

CREATE INDEX events_publish_requested_idx ON tidemark.events (position)
    WHERE category = 'publish' AND event_type = 'PublishRequested';
CREATE INDEX events_publish_stopped_idx ON tidemark.events (stream_id)
    WHERE event_type = 'PublishStopped';
