-- 0012 — proxies enrolled by key, and a login narrower than the service role for them.
--
-- Until now any tidemark_app login could register as a proxy with a key of its own and be
-- handed the vCenter logins of that proxy's tasks. Two changes close that:
--
-- * Enrolment. A proxy host keeps an Ed25519 identity key in a file of its own (`tidemark
--   proxy key`); an administrator pins its public half in the catalog (`tidemark proxy enrol`,
--   a ProxyUpdated event: audited, by actor). A process signs its registration (its instance
--   id, its proxy's id and the per-process X25519 key logins are sealed to) with the identity
--   key; the Job Manager gives tasks, and seals logins, only to a process whose signature the
--   enrolled key verifies. PostgreSQL has no Ed25519, so the database stores the proof and the
--   Job Manager checks it (ProxyFleet): a registration that does not verify is shown as
--   unverified and its proxy's bytes move in the Job Manager's own process.
--
-- * tidemark_proxy. The login a proxy host connects as: it reads the log (the catalog, the
--   chain head for manifests), appends only to proxyprocess streams, and calls only the
--   process's side of the mailbox — register, heartbeat, stop, take, report, and list what it
--   holds — each bound to the login that registered the process (give each proxy host its own
--   login, `CREATE ROLE site_a_proxy LOGIN PASSWORD '...' IN ROLE tidemark_proxy`, and one
--   host cannot act for another's process). It cannot read the mailbox tables, assign or
--   revoke tasks, or write the catalog or a session. tidemark_app loses the process's side.

DO $$
BEGIN
    BEGIN
        CREATE ROLE tidemark_proxy LOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
    END;
    EXECUTE format('ALTER ROLE tidemark_proxy IN DATABASE %I SET idle_in_transaction_session_timeout = %L',
                   current_database(), '60s');
END
$$;

GRANT USAGE ON SCHEMA tidemark TO tidemark_proxy;
GRANT SELECT ON tidemark.events, tidemark.schema_migrations TO tidemark_proxy;
GRANT EXECUTE ON FUNCTION tidemark.append_events(text[], bigint[], integer[], uuid[], text[], integer[], jsonb[], jsonb[])
    TO tidemark_proxy;
GRANT EXECUTE ON FUNCTION tidemark.append_event(text, bigint, uuid, text, integer, jsonb, jsonb) TO tidemark_proxy;

-- Who may write each category: a login that is a member of one of these roles. The append
-- functions (SECURITY DEFINER) check the session's login, not the function's owner.
ALTER TABLE tidemark.stream_categories ADD COLUMN writer_roles text[] NOT NULL DEFAULT ARRAY['tidemark_app'];
-- A process stream may also start with ProxyProcessLost: a registration evicted (or found
-- lost) before it recorded that it started.
UPDATE tidemark.stream_categories SET writer_roles = ARRAY['tidemark_app', 'tidemark_proxy'], first_event_type = NULL
 WHERE category = 'proxyprocess';

CREATE OR REPLACE FUNCTION tidemark.stream_refusal(
    p_rule tidemark.stream_categories, p_stream text, p_types text[], p_current bigint
) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_type  text;
BEGIN
    IF p_rule.category IS NULL THEN
        RETURN format('its category %L is not one Tidemark writes (known: %s); streams of your own go under note- or custom-',
            split_part(p_stream, '-', 1),
            (SELECT string_agg(c.category, ', ' ORDER BY c.category) FROM tidemark.stream_categories AS c));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM unnest(p_rule.writer_roles) AS r(role) JOIN pg_roles AS g ON g.rolname = r.role
                    WHERE pg_has_role(session_user, g.oid, 'USAGE')) THEN
        RETURN format('the login %I may not write %s streams (they are written by %s, as %s)',
            session_user, p_rule.category, p_rule.writer, array_to_string(p_rule.writer_roles, ' or '));
    END IF;
    -- A proxy login writes only the streams of processes it registered itself.
    IF p_rule.category = 'proxyprocess' AND NOT pg_has_role(session_user, 'tidemark_app', 'USAGE')
       AND NOT EXISTS (SELECT 1 FROM tidemark.proxy_processes AS p
                        WHERE p.instance_id::text = substr(p_stream, 14) AND p.login_role = session_user) THEN
        RETURN format('the login %I writes only the streams of proxy processes it registered', session_user);
    END IF;
    IF p_rule.stream_pattern IS NOT NULL AND p_stream !~ p_rule.stream_pattern THEN
        RETURN format('%s streams are named %s-<uuid>, written by %s', p_rule.category, p_rule.category, p_rule.writer);
    END IF;
    IF p_rule.event_types IS NOT NULL THEN
        SELECT t INTO v_type FROM unnest(p_types) AS t WHERE t IS NULL OR t <> ALL (p_rule.event_types) LIMIT 1;
        IF FOUND THEN
            RETURN format('%s streams hold only %s events (written by %s), not %L',
                p_rule.category, array_to_string(p_rule.event_types, ', '), p_rule.writer, v_type);
        END IF;
    END IF;
    IF p_rule.first_event_type IS NOT NULL AND p_current = 0 AND p_types[1] IS DISTINCT FROM p_rule.first_event_type THEN
        RETURN format('a %s stream starts with %s (written by %s), not %L',
            p_rule.category, p_rule.first_event_type, p_rule.writer, p_types[1]);
    END IF;
    RETURN NULL;
END
$$;

-- The process's proof and the login that registered it (earlier rows: whoever migrated).
ALTER TABLE tidemark.proxy_processes
    ADD COLUMN identity_key bytea,
    ADD COLUMN signature    bytea,
    ADD COLUMN login_role   text NOT NULL DEFAULT session_user;

-- Whether the calling login registered this process.
CREATE FUNCTION tidemark.proxy_caller(p tidemark.proxy_processes) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT p.login_role = session_user $$;
ALTER FUNCTION tidemark.proxy_caller(tidemark.proxy_processes) OWNER TO tidemark_owner;

DROP FUNCTION tidemark.proxy_register(uuid, text, text, text, integer, text, text[], jsonb, integer, bytea, double precision);

-- Registers a process with its identity key and signature (checked by the Job Manager);
-- refused (TM020) while another process of the same proxy is live.
CREATE FUNCTION tidemark.proxy_register(
    p_instance uuid, p_proxy_id text, p_proxy_name text, p_host text, p_pid integer, p_version text,
    p_modes text[], p_reach jsonb, p_max_tasks integer, p_public_key bytea, p_lease_seconds double precision,
    p_identity_key bytea, p_signature bytea
) RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_live tidemark.proxy_processes;
BEGIN
    IF octet_length(p_identity_key) IS DISTINCT FROM 32 OR octet_length(p_signature) IS DISTINCT FROM 64
       OR octet_length(p_public_key) IS DISTINCT FROM 32 THEN
        RAISE EXCEPTION 'a proxy registration needs a 32-byte identity key, a 64-byte signature and a 32-byte public key'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- What a registration says ends up in the Job Manager's events and reports: bounded here,
    -- so a login that registers under a proxy's name cannot bloat them (or push an event over
    -- its size limit) with what it claims.
    IF char_length(p_proxy_name) NOT BETWEEN 1 AND 200 OR char_length(p_host) NOT BETWEEN 1 AND 255
       OR char_length(p_version) NOT BETWEEN 1 AND 100 OR cardinality(p_modes) NOT BETWEEN 1 AND 3
       OR octet_length(p_reach::text) > 65536 OR p_max_tasks NOT BETWEEN 1 AND 256
       OR p_lease_seconds IS NULL OR p_lease_seconds < 1 OR p_lease_seconds > 3600 THEN
        RAISE EXCEPTION 'a proxy registration is out of bounds: name 1-200 characters, host 1-255, version 1-100, 1-3 transport modes, reach at most 64 KiB, 1-256 tasks, a lease of 1 to 3600 seconds'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM tidemark.events WHERE stream_id = 'proxy-' || p_proxy_id) THEN
        RAISE EXCEPTION 'the catalog has no proxy with id %', p_proxy_id USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Registrations of one proxy serialise (two processes starting at once: one wins),
    -- without holding up other proxies' heartbeats.
    PERFORM pg_advisory_xact_lock(hashtext('tidemark.proxy_register'), hashtext(p_proxy_id));
    SELECT * INTO v_live FROM tidemark.proxy_processes p
     WHERE p.proxy_id = p_proxy_id AND tidemark.proxy_live(p) ORDER BY started_at DESC LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'proxy ''%'' already runs on host % (pid %, last heartbeat % s ago)', p_proxy_name, v_live.host, v_live.pid,
            round(extract(epoch FROM clock_timestamp() - v_live.heartbeat_at)::numeric, 1)
            USING ERRCODE = 'TM020',
                  HINT = 'Stop that process first, or wait until its lease runs out if its host is gone.';
    END IF;
    INSERT INTO tidemark.proxy_processes (instance_id, proxy_id, proxy_name, host, pid, version, transport_modes, reach, max_tasks,
                                          public_key, lease_seconds, identity_key, signature, login_role)
    VALUES (p_instance, p_proxy_id, p_proxy_name, p_host, p_pid, p_version, p_modes, p_reach, p_max_tasks, p_public_key,
            p_lease_seconds, p_identity_key, p_signature, session_user);
END
$$;
ALTER FUNCTION tidemark.proxy_register(uuid, text, text, text, integer, text, text[], jsonb, integer, bytea, double precision, bytea, bytea)
    OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.proxy_register(uuid, text, text, text, integer, text, text[], jsonb, integer, bytea, double precision, bytea, bytea)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.proxy_register(uuid, text, text, text, integer, text, text[], jsonb, integer, bytea, double precision, bytea, bytea)
    TO tidemark_proxy;

-- The heartbeat, now only from the login that registered the process.
CREATE OR REPLACE FUNCTION tidemark.proxy_heartbeat(p_instance uuid, p_running integer) RETURNS boolean
LANGUAGE sql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH beat AS (
        UPDATE tidemark.proxy_processes p SET heartbeat_at = clock_timestamp(), running_tasks = p_running
         WHERE p.instance_id = p_instance AND tidemark.proxy_live(p) AND tidemark.proxy_caller(p)
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM beat)
$$;
REVOKE EXECUTE ON FUNCTION tidemark.proxy_heartbeat(uuid, integer) FROM tidemark_app;
GRANT EXECUTE ON FUNCTION tidemark.proxy_heartbeat(uuid, integer) TO tidemark_proxy;

-- Takes back every open assignment of a process that ended ('abandoned': it handed them
-- back; 'revoked': it was evicted), erasing their sealed logins, and wakes the Job Managers
-- following them: shared by `proxy_end` and `proxy_evict`.
CREATE FUNCTION tidemark.release_assignments(p_instance uuid, p_state text, p_message text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_session text;
    v_task    text;
BEGIN
    FOR v_session, v_task IN
        UPDATE tidemark.proxy_assignments SET state = p_state, sealed_credentials = NULL, updated_at = clock_timestamp(),
               message = p_message
         WHERE instance_id = p_instance AND state IN ('assigned', 'running')
        RETURNING session_id, task_id
    LOOP
        PERFORM pg_notify('tidemark_assignment_reports', v_session || '/' || v_task);
    END LOOP;
END
$$;
ALTER FUNCTION tidemark.release_assignments(uuid, text, text) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.release_assignments(uuid, text, text) FROM PUBLIC;

-- 'stopped' only by the login that registered the process; 'lost' by anyone who sees its
-- lease ran out (the Job Manager, as tidemark_app).
CREATE OR REPLACE FUNCTION tidemark.proxy_end(p_instance uuid, p_reason text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE tidemark.proxy_processes p SET ended_at = clock_timestamp(), end_reason = p_reason
     WHERE p.instance_id = p_instance AND p.ended_at IS NULL
       AND ((p_reason = 'stopped' AND tidemark.proxy_caller(p)) OR (p_reason = 'lost' AND NOT tidemark.proxy_live(p)));
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF p_reason = 'stopped' THEN
        PERFORM tidemark.release_assignments(p_instance, 'abandoned', 'the proxy process stopped before it took the task');
    END IF;
    RETURN true;
END
$$;
GRANT EXECUTE ON FUNCTION tidemark.proxy_end(uuid, text) TO tidemark_proxy;

CREATE OR REPLACE FUNCTION tidemark.take_assignments(p_instance uuid)
RETURNS TABLE (session_id text, task_id text, token bigint, assignment jsonb, sealed_credentials bytea)
LANGUAGE sql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE tidemark.proxy_assignments a SET state = 'running', updated_at = clock_timestamp()
     WHERE a.instance_id = p_instance AND a.state = 'assigned'
       AND EXISTS (SELECT 1 FROM tidemark.proxy_processes p
                    WHERE p.instance_id = p_instance AND tidemark.proxy_live(p) AND tidemark.proxy_caller(p))
    RETURNING a.session_id, a.task_id, a.token, a.assignment, a.sealed_credentials
$$;
REVOKE EXECUTE ON FUNCTION tidemark.take_assignments(uuid) FROM tidemark_app;
GRANT EXECUTE ON FUNCTION tidemark.take_assignments(uuid) TO tidemark_proxy;

CREATE OR REPLACE FUNCTION tidemark.report_assignment(
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
       AND EXISTS (SELECT 1 FROM tidemark.proxy_processes p
                    WHERE p.instance_id = a.instance_id AND tidemark.proxy_live(p) AND tidemark.proxy_caller(p));
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM pg_notify('tidemark_assignment_reports', p_session || '/' || p_task);
    RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION tidemark.report_assignment(text, text, bigint, text, jsonb, jsonb, text) FROM tidemark_app;
GRANT EXECUTE ON FUNCTION tidemark.report_assignment(text, text, bigint, text, jsonb, jsonb, text) TO tidemark_proxy;

-- Ends every live process of a proxy whose identity key is not `p_key` (the one just enrolled):
-- what `tidemark proxy enrol` does, so a registration squatting a proxy's name, or a host
-- whose key was replaced, is cleared at once. Their open assignments are handed back. Returns
-- the instances ended, for the caller to record `ProxyProcessLost`.
CREATE FUNCTION tidemark.proxy_evict(p_proxy_id text, p_key bytea) RETURNS SETOF uuid
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_instance uuid;
BEGIN
    FOR v_instance IN
        UPDATE tidemark.proxy_processes p SET ended_at = clock_timestamp(), end_reason = 'lost'
         WHERE p.proxy_id = p_proxy_id AND p.ended_at IS NULL AND p.identity_key IS DISTINCT FROM p_key
        RETURNING p.instance_id
    LOOP
        PERFORM tidemark.release_assignments(v_instance, 'revoked', 'its process was evicted: its key is not the enrolled one');
        PERFORM pg_notify('tidemark_proxy_tasks', v_instance::text);
        RETURN NEXT v_instance;
    END LOOP;
END
$$;
ALTER FUNCTION tidemark.proxy_evict(text, bytea) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.proxy_evict(text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.proxy_evict(text, bytea) TO tidemark_app;

-- What a process holds now (assigned or running), for its look that squares the database
-- with what it runs: the mailbox table itself stays closed to proxy logins.
CREATE FUNCTION tidemark.open_assignments(p_instance uuid)
RETURNS TABLE (session_id text, task_id text, token bigint, state text)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.session_id, a.task_id, a.token, a.state FROM tidemark.proxy_assignments a
      JOIN tidemark.proxy_processes p ON p.instance_id = a.instance_id
     WHERE a.instance_id = p_instance AND a.state IN ('assigned', 'running') AND tidemark.proxy_caller(p)
$$;
ALTER FUNCTION tidemark.open_assignments(uuid) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.open_assignments(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.open_assignments(uuid) TO tidemark_proxy;

-- The enrolled key (base64, from the catalog) and each process's identity key and login.
-- Whether a process's signature verifies is the Job Manager's check: `tidemark proxy list`
-- shows it. Columns added at the end: a promise kept.
CREATE OR REPLACE VIEW reporting.proxies AS
SELECT d.proxy_id, d.name AS proxy_name, d.site, d.transport_modes, d.max_concurrent_tasks, d.datastores, d.host, d.cluster,
       d.version AS definition_version, d.created_at, d.updated_at, d.updated_by,
       CASE WHEN p.instance_id IS NULL OR p.end_reason = 'stopped' THEN 'embedded'
            WHEN tidemark.proxy_live(p) THEN 'live'
            ELSE 'offline' END AS process_state,
       p.instance_id AS process_instance_id, p.host AS process_host, p.pid AS process_pid, p.version AS process_version,
       p.started_at AS process_started_at, p.heartbeat_at AS last_heartbeat_at, p.running_tasks, p.max_tasks AS process_max_tasks,
       d.definition ->> 'enrolled_key' AS enrolled_key,
       encode(p.identity_key, 'base64') AS process_identity_key,
       p.login_role AS process_login
  FROM projection.proxies d
  LEFT JOIN LATERAL (SELECT * FROM tidemark.proxy_processes x WHERE x.proxy_id = d.proxy_id::text ORDER BY x.started_at DESC LIMIT 1) p
    ON true;
