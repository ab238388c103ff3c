-- 0010 — indexes for the questions the workflows ask the log itself (EventStore's log
-- queries, LogQuery.swift): before this, each was a scan of every session event, and the
-- server asks for unfinished sessions every second. All partial, so an append pays for an
-- index only when it writes the event the index is for. The predicates and expressions are
-- the literals the queries spell (`LogQueryPlanTests` checks with EXPLAIN that they are used).

-- Unfinished sessions: the starts in log order, and a session's finish by its stream.
CREATE INDEX events_session_started_idx ON tidemark.events (position)
    WHERE category = 'session' AND event_type = 'SessionStarted';
CREATE INDEX events_session_finished_idx ON tidemark.events (stream_id)
    WHERE event_type = 'SessionFinished';

-- A job's sessions (how its last ones ended: the scheduler's last result, the size estimate).
CREATE INDEX events_session_started_job_idx ON tidemark.events ((data ->> 'job_id'), position)
    WHERE category = 'session' AND event_type = 'SessionStarted';

-- A job's live restore points (incremental bases, retention).
CREATE INDEX events_restore_point_job_idx ON tidemark.events ((data ->> 'job_id'), position)
    WHERE category = 'session' AND event_type = 'RestorePointCreated';
CREATE INDEX events_restore_point_removed_idx ON tidemark.events ((data ->> 'restore_point_id'))
    WHERE category = 'session' AND event_type = 'RestorePointRemoved';

-- Whether sessions used a repository before (a repository.json gone missing is a volume not mounted).
CREATE INDEX events_repository_checked_idx ON tidemark.events ((data ->> 'repository_id'))
    WHERE category = 'session' AND event_type = 'RepositoryChecked';
