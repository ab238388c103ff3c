-- 0011 — proxy processes and the tasks the Job Manager assigns to them.
--
-- A proxy process (`tidemark proxy run NAME`) runs a catalog proxy anywhere PostgreSQL and the
-- repository are reachable. It registers a row here (host, version, the transport modes it
-- serves, what it reaches, its task limit, the public key credentials are sealed to) and a
-- ProxyProcessStarted event in its stream `proxyprocess-<instance>`; it heartbeats the row.
-- A process whose heartbeat is older than its lease is dead to everyone: it cannot heartbeat
-- again (it must register anew, under a new instance id), the Job Manager declares it lost
-- and moves its tasks. Liveness is the database's clock, the one clock every host shares.
--
-- An assignment is one task (a disk) given to one process under a fencing token from one
-- sequence: a task given again gets a larger token, and every report of the earlier holder
-- is refused here (and its repository writes by the progress fence, DiskProgressFence). The
-- rows are a mailbox and a lease, not history: the session's events say who did what.
--
-- The service role reads these tables and changes them only through the functions below
-- (SECURITY DEFINER), which hold the rules: one live process per proxy, larger tokens win,
-- reports only from the current holder.
--
-- A proxy never had a process, or whose last process stopped cleanly, is embedded: the Job
-- Manager moves its bytes in its own process, as before this migration.

CREATE TABLE tidemark.proxy_processes (
    instance_id      uuid             PRIMARY KEY,
    proxy_id         text             NOT NULL,
    proxy_name       text             NOT NULL,
    host             text             NOT NULL,
    pid              integer          NOT NULL,
    version          text             NOT NULL,
    transport_modes  text[]           NOT NULL,
    reach            jsonb            NOT NULL,
    max_tasks        integer          NOT NULL CHECK (max_tasks > 0),
    public_key       bytea            NOT NULL,
    lease_seconds    double precision NOT NULL CHECK (lease_seconds > 0),
    started_at       timestamptz      NOT NULL DEFAULT clock_timestamp(),
    heartbeat_at     timestamptz      NOT NULL DEFAULT clock_timestamp(),
    running_tasks    integer          NOT NULL DEFAULT 0,
    ended_at         timestamptz,
    end_reason       text             CHECK (end_reason IN ('stopped', 'lost'))
);
CREATE INDEX proxy_processes_by_proxy ON tidemark.proxy_processes (proxy_id, started_at DESC);
ALTER TABLE tidemark.proxy_processes OWNER TO tidemark_owner;
GRANT SELECT ON tidemark.proxy_processes TO tidemark_app, tidemark_reader;

COMMENT ON TABLE tidemark.proxy_processes IS
    'Proxy processes (tidemark proxy run): registration and heartbeat. Live while ended_at is NULL and heartbeat_at + lease_seconds is in the future.';

-- Whether a process is live now.
CREATE FUNCTION tidemark.proxy_live(p tidemark.proxy_processes) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.ended_at IS NULL AND p.heartbeat_at + make_interval(secs => p.lease_seconds) > clock_timestamp()
$$;
ALTER FUNCTION tidemark.proxy_live(tidemark.proxy_processes) OWNER TO tidemark_owner;

-- Registers a process; refused (TM020) while another process of the same proxy is live.
CREATE FUNCTION tidemark.proxy_register(
    p_instance uuid, p_proxy_id text, p_proxy_name text, p_host text, p_pid integer, p_version text,
    p_modes text[], p_reach jsonb, p_max_tasks integer, p_public_key bytea, p_lease_seconds double precision
) RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_live tidemark.proxy_processes;
BEGIN
    -- Registrations serialise: two processes of one proxy starting at once, one wins.
    LOCK TABLE tidemark.proxy_processes IN SHARE ROW EXCLUSIVE MODE;
    SELECT * INTO v_live FROM tidemark.proxy_processes p
     WHERE p.proxy_id = p_proxy_id AND tidemark.proxy_live(p) ORDER BY started_at DESC LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'proxy ''%'' already runs on host % (pid %, last heartbeat % s ago)', p_proxy_name, v_live.host, v_live.pid,
            round(extract(epoch FROM clock_timestamp() - v_live.heartbeat_at)::numeric, 1)
            USING ERRCODE = 'TM020',
                  HINT = 'Stop that process first, or wait until its lease runs out if its host is gone.';
    END IF;
    INSERT INTO tidemark.proxy_processes (instance_id, proxy_id, proxy_name, host, pid, version, transport_modes, reach, max_tasks,
                                          public_key, lease_seconds)
    VALUES (p_instance, p_proxy_id, p_proxy_name, p_host, p_pid, p_version, p_modes, p_reach, p_max_tasks, p_public_key,
            p_lease_seconds);
END
$$;
ALTER FUNCTION tidemark.proxy_register(uuid, text, text, text, integer, text, text[], jsonb, integer, bytea, double precision)
    OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.proxy_register(uuid, text, text, text, integer, text, text[], jsonb, integer, bytea, double precision)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.proxy_register(uuid, text, text, text, integer, text, text[], jsonb, integer, bytea, double precision)
    TO tidemark_app;

-- Extends a live process's lease; false once it lapsed or ended (the process must stop its
-- tasks: they are, or are about to be, someone else's).
CREATE FUNCTION tidemark.proxy_heartbeat(p_instance uuid, p_running integer) RETURNS boolean
LANGUAGE sql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH beat AS (
        UPDATE tidemark.proxy_processes p SET heartbeat_at = clock_timestamp(), running_tasks = p_running
         WHERE p.instance_id = p_instance AND tidemark.proxy_live(p)
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM beat)
$$;
ALTER FUNCTION tidemark.proxy_heartbeat(uuid, integer) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.proxy_heartbeat(uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.proxy_heartbeat(uuid, integer) TO tidemark_app;

-- Ends a process: 'stopped' by itself (its proxy is embedded again), or 'lost' when its lease
-- ran out (declared by whoever noticed: true for exactly one caller, who records the event).
-- A stopping process's tasks not yet handed back (one assigned as it stopped) are handed
-- back here, so they move at once.
CREATE FUNCTION tidemark.proxy_end(p_instance uuid, p_reason text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_session text;
    v_task    text;
BEGIN
    UPDATE tidemark.proxy_processes p SET ended_at = clock_timestamp(), end_reason = p_reason
     WHERE p.instance_id = p_instance AND p.ended_at IS NULL
       AND (p_reason = 'stopped' OR NOT tidemark.proxy_live(p));
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF p_reason = 'stopped' THEN
        FOR v_session, v_task IN
            UPDATE tidemark.proxy_assignments SET state = 'abandoned', sealed_credentials = NULL, updated_at = clock_timestamp(),
                   message = 'the proxy process stopped before it took the task'
             WHERE instance_id = p_instance AND state IN ('assigned', 'running')
            RETURNING session_id, task_id
        LOOP
            PERFORM pg_notify('tidemark_assignment_reports', v_session || '/' || v_task);
        END LOOP;
    END IF;
    RETURN true;
END
$$;
ALTER FUNCTION tidemark.proxy_end(uuid, text) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.proxy_end(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.proxy_end(uuid, text) TO tidemark_app;

CREATE SEQUENCE tidemark.assignment_tokens;
ALTER SEQUENCE tidemark.assignment_tokens OWNER TO tidemark_owner;
GRANT USAGE ON SEQUENCE tidemark.assignment_tokens TO tidemark_app;

CREATE TABLE tidemark.proxy_assignments (
    session_id          text        NOT NULL,
    task_id             text        NOT NULL,
    token               bigint      NOT NULL,
    instance_id         uuid        NOT NULL REFERENCES tidemark.proxy_processes (instance_id),
    assignment          jsonb       NOT NULL,
    sealed_credentials  bytea,
    state               text        NOT NULL CHECK (state IN ('assigned', 'running', 'finished', 'failed', 'revoked', 'abandoned')),
    progress            jsonb,
    outcome             jsonb,
    message             text,
    assigned_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (session_id, task_id)
);
CREATE INDEX proxy_assignments_open ON tidemark.proxy_assignments (instance_id) WHERE state IN ('assigned', 'running');
ALTER TABLE tidemark.proxy_assignments OWNER TO tidemark_owner;
GRANT SELECT (session_id, task_id, token, instance_id, state, progress, outcome, message, assigned_at, updated_at)
    ON tidemark.proxy_assignments TO tidemark_app;

COMMENT ON TABLE tidemark.proxy_assignments IS
    'Tasks handed to proxy processes under fencing tokens: the mailbox between the Job Manager and a proxy. The session''s events are the record.';

-- A new fencing token: every holder of a task's transfer (a process or the Job Manager's
-- embedded data mover) takes one, so a later holder always outranks an earlier one.
CREATE FUNCTION tidemark.next_assignment_token() RETURNS bigint
LANGUAGE sql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT nextval('tidemark.assignment_tokens') $$;
ALTER FUNCTION tidemark.next_assignment_token() OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.next_assignment_token() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.next_assignment_token() TO tidemark_app;

-- Gives a task to a live process under a token larger than any it had; false when the
-- process is no longer live or the task holds a larger token already. Wakes the process.
CREATE FUNCTION tidemark.assign_task(
    p_session text, p_task text, p_token bigint, p_instance uuid, p_assignment jsonb, p_sealed bytea
) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM 1 FROM tidemark.proxy_processes p WHERE p.instance_id = p_instance AND tidemark.proxy_live(p) FOR SHARE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO tidemark.proxy_assignments AS a (session_id, task_id, token, instance_id, assignment, sealed_credentials, state)
    VALUES (p_session, p_task, p_token, p_instance, p_assignment, p_sealed, 'assigned')
    ON CONFLICT (session_id, task_id) DO UPDATE
       SET token = EXCLUDED.token, instance_id = EXCLUDED.instance_id, assignment = EXCLUDED.assignment,
           sealed_credentials = EXCLUDED.sealed_credentials, state = 'assigned', progress = NULL, outcome = NULL,
           message = NULL, assigned_at = clock_timestamp(), updated_at = clock_timestamp()
     WHERE a.token < EXCLUDED.token;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM pg_notify('tidemark_proxy_tasks', p_instance::text);
    RETURN true;
END
$$;
ALTER FUNCTION tidemark.assign_task(text, text, bigint, uuid, jsonb, bytea) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.assign_task(text, text, bigint, uuid, jsonb, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.assign_task(text, text, bigint, uuid, jsonb, bytea) TO tidemark_app;

-- The tasks waiting for a live process, now marked running: what it is to do, with the
-- sealed credentials (read once; only the process's private key opens them).
CREATE FUNCTION tidemark.take_assignments(p_instance uuid)
RETURNS TABLE (session_id text, task_id text, token bigint, assignment jsonb, sealed_credentials bytea)
LANGUAGE sql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE tidemark.proxy_assignments a SET state = 'running', updated_at = clock_timestamp()
     WHERE a.instance_id = p_instance AND a.state = 'assigned'
       AND EXISTS (SELECT 1 FROM tidemark.proxy_processes p WHERE p.instance_id = p_instance AND tidemark.proxy_live(p))
    RETURNING a.session_id, a.task_id, a.token, a.assignment, a.sealed_credentials
$$;
ALTER FUNCTION tidemark.take_assignments(uuid) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.take_assignments(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.take_assignments(uuid) TO tidemark_app;

-- A holder's report: progress while running, or its end ('finished', 'failed', 'abandoned').
-- False (refused) unless the task is still running under this token on a live process: a
-- stale holder learns here that the task moved on without it. Wakes the Job Manager
-- following the task (channel tidemark_assignment_reports, payload '<session>/<task>').
CREATE FUNCTION tidemark.report_assignment(
    p_session text, p_task text, p_token bigint, p_state text, p_progress jsonb, p_outcome jsonb, p_message text
) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_state NOT IN ('running', 'finished', 'failed', 'abandoned') THEN
        RETURN false;
    END IF;
    UPDATE tidemark.proxy_assignments a
       SET state = p_state, progress = coalesce(p_progress, a.progress), outcome = p_outcome, message = p_message,
           updated_at = clock_timestamp(),
           sealed_credentials = CASE WHEN p_state = 'running' THEN a.sealed_credentials END
     WHERE a.session_id = p_session AND a.task_id = p_task AND a.token = p_token AND a.state = 'running'
       AND EXISTS (SELECT 1 FROM tidemark.proxy_processes p WHERE p.instance_id = a.instance_id AND tidemark.proxy_live(p));
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM pg_notify('tidemark_assignment_reports', p_session || '/' || p_task);
    RETURN true;
END
$$;
ALTER FUNCTION tidemark.report_assignment(text, text, bigint, text, jsonb, jsonb, text) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.report_assignment(text, text, bigint, text, jsonb, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.report_assignment(text, text, bigint, text, jsonb, jsonb, text) TO tidemark_app;

-- Takes a task back from its holder (its process was lost, the session is stopping): later
-- reports under the token are refused. Wakes the holder, which stops the task.
CREATE FUNCTION tidemark.revoke_assignment(p_session text, p_task text, p_token bigint) RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_instance uuid;
BEGIN
    UPDATE tidemark.proxy_assignments SET state = 'revoked', sealed_credentials = NULL, updated_at = clock_timestamp()
     WHERE session_id = p_session AND task_id = p_task AND token = p_token AND state IN ('assigned', 'running')
    RETURNING instance_id INTO v_instance;
    IF FOUND THEN
        PERFORM pg_notify('tidemark_proxy_tasks', v_instance::text);
    END IF;
END
$$;
ALTER FUNCTION tidemark.revoke_assignment(text, text, bigint) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.revoke_assignment(text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.revoke_assignment(text, text, bigint) TO tidemark_app;

-- Removes an assignment whose end the session has recorded.
CREATE FUNCTION tidemark.close_assignment(p_session text, p_task text, p_token bigint) RETURNS void
LANGUAGE sql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM tidemark.proxy_assignments WHERE session_id = p_session AND task_id = p_task AND token = p_token
$$;
ALTER FUNCTION tidemark.close_assignment(text, text, bigint) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.close_assignment(text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.close_assignment(text, text, bigint) TO tidemark_app;

-- The proxy process streams: written by the process itself (started, stopped) and by the Job
-- Manager that declares it lost.
INSERT INTO tidemark.stream_categories (category, writer, stream_pattern, event_types, first_event_type) VALUES
    ('proxyprocess', 'proxy processes (ProxyAgent) and the Job Manager that declares one lost (ProxyFleet)',
     '^proxyprocess-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
     ARRAY['ProxyProcessStarted', 'ProxyProcessStopped', 'ProxyProcessLost'], 'ProxyProcessStarted');

-- Each proxy's process now: embedded (no process, or the last one stopped cleanly), live or
-- offline (its last process missed its lease). Columns added at the end: a promise kept.
CREATE OR REPLACE VIEW reporting.proxies AS
SELECT d.proxy_id, d.name AS proxy_name, d.site, d.transport_modes, d.max_concurrent_tasks, d.datastores, d.host, d.cluster,
       d.version AS definition_version, d.created_at, d.updated_at, d.updated_by,
       CASE WHEN p.instance_id IS NULL OR p.end_reason = 'stopped' THEN 'embedded'
            WHEN tidemark.proxy_live(p) THEN 'live'
            ELSE 'offline' END AS process_state,
       p.instance_id AS process_instance_id, p.host AS process_host, p.pid AS process_pid, p.version AS process_version,
       p.started_at AS process_started_at, p.heartbeat_at AS last_heartbeat_at, p.running_tasks, p.max_tasks AS process_max_tasks
  FROM projection.proxies d
  LEFT JOIN LATERAL (SELECT * FROM tidemark.proxy_processes x WHERE x.proxy_id = d.proxy_id::text ORDER BY x.started_at DESC LIMIT 1) p
    ON true;

-- Removes every assignment of a session that ended (revoking any still held): a Job Manager
-- that crashed between recording a task's end and closing its assignment leaves none behind.
CREATE FUNCTION tidemark.close_session_assignments(p_session text) RETURNS void
LANGUAGE sql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM tidemark.proxy_assignments WHERE session_id = p_session
$$;
ALTER FUNCTION tidemark.close_session_assignments(text) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.close_session_assignments(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.close_session_assignments(text) TO tidemark_app;

-- The host of the proxy process that moved a task (NULL: the Job Manager's embedded mover).
ALTER TABLE projection.tasks ADD COLUMN proxy_host text;
ALTER TABLE projection_shadow.tasks ADD COLUMN proxy_host text;

CREATE OR REPLACE VIEW reporting.tasks AS
SELECT t.session_id, s.job_id, s.job_name, t.task_id, t.vm_id, t.vm_name, t.disk_key, t.size_bytes, t.proxy_id,
       t.proxy_name, t.transport_mode, t.state, t.result, t.message, t.attempts, t.started_at, t.finished_at,
       t.read_bytes, t.transferred_bytes,
       CASE WHEN t.finished_at > t.started_at
            THEN t.read_bytes / extract(epoch FROM t.finished_at - t.started_at)::double precision
       END AS rate_bytes_per_second,
       t.proxy_host
  FROM projection.tasks t
  LEFT JOIN projection.sessions s ON s.session_id = t.session_id;
