-- 0013 — task slots in one round trip each, a session's throttle shared across the processes
-- that move its data, and a running process's reach kept up to date.
--
-- Task slots:
--
-- A Job Manager claims, counts and frees task slots on ONE connection (the claims live as long
-- as its backend), so every slot call of every parallel task queues behind the others. Taking a
-- repository slot tried the slots one call at a time; ranking the proxies counted each proxy's
-- slots in a call of its own; ending a task freed two slots in two calls; a task resumed on a
-- proxy process could try up to ten thousand slots. And the functions were LANGUAGE sql, which
-- PostgreSQL parses and plans again at every top-level call. The bench of 200 small VMs spent
-- about a tenth of the database's time there.
--
-- * claim_free_slot(class, limit, skip): the first free slot below the limit, or NULL, in one
--   call (skip: slots this connection holds already, which a claim would count as free).
-- * slots_in_use_of(classes): the live claims of several objects at once.
-- * release_slots(classes, slots): frees several claims at once.
-- * claim_slot, release_slot, slots_in_use, backend_alive: the same answers, in PL/pgSQL
--   (plans cached per connection); backend_alive reads one backend's entry
--   (pg_stat_get_activity(pid)) rather than the whole pg_stat_activity view.

CREATE OR REPLACE FUNCTION tidemark.backend_alive(p_pid integer, p_started timestamptz) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM pg_stat_get_activity(p_pid) AS a
                    WHERE a.pid = p_pid AND (a.backend_start IS NULL OR p_started IS NULL OR a.backend_start = p_started));
END
$$;

CREATE OR REPLACE FUNCTION tidemark.claim_slot(p_class integer, p_slot integer) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_started timestamptz := (SELECT a.backend_start FROM pg_stat_get_activity(pg_backend_pid()) AS a);
BEGIN
    INSERT INTO tidemark.slot_claims AS c (lock_class, slot, holder_pid, holder_started)
    VALUES (p_class, p_slot, pg_backend_pid(), v_started)
    ON CONFLICT (lock_class, slot) DO UPDATE
       SET holder_pid = EXCLUDED.holder_pid, holder_started = EXCLUDED.holder_started, claimed_at = clock_timestamp()
     WHERE NOT tidemark.backend_alive(c.holder_pid, c.holder_started);
    RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION tidemark.release_slot(p_class integer, p_slot integer) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM tidemark.slot_claims WHERE lock_class = p_class AND slot = p_slot AND holder_pid = pg_backend_pid();
END
$$;

CREATE OR REPLACE FUNCTION tidemark.slots_in_use(p_class integer) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT count(*)::integer FROM tidemark.slot_claims c
             WHERE c.lock_class = p_class AND tidemark.backend_alive(c.holder_pid, c.holder_started));
END
$$;

-- The first slot below p_limit, not in p_skip, that this connection could claim; NULL when
-- every one is held by a live backend. Slots are tried in order, so the numbers stay low.
CREATE FUNCTION tidemark.claim_free_slot(p_class integer, p_limit integer, p_skip integer[]) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_slot integer;
BEGIN
    IF p_limit IS NULL OR p_limit < 1 THEN
        RETURN NULL;
    END IF;
    -- Free numbers first (no row), then rows whose holder is gone, lowest first.
    FOR v_slot IN
        SELECT s FROM generate_series(0, p_limit - 1) AS s
         WHERE s <> ALL (coalesce(p_skip, '{}'))
           AND NOT EXISTS (SELECT 1 FROM tidemark.slot_claims c
                            WHERE c.lock_class = p_class AND c.slot = s AND tidemark.backend_alive(c.holder_pid, c.holder_started))
         ORDER BY s
    LOOP
        IF tidemark.claim_slot(p_class, v_slot) THEN
            RETURN v_slot;
        END IF;
        -- Taken by another backend since the look: try the next one.
    END LOOP;
    RETURN NULL;
END
$$;
ALTER FUNCTION tidemark.claim_free_slot(integer, integer, integer[]) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.claim_free_slot(integer, integer, integer[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.claim_free_slot(integer, integer, integer[]) TO tidemark_app;

-- Live claims per class, for every class asked (0 for one with none).
CREATE FUNCTION tidemark.slots_in_use_of(p_classes integer[]) RETURNS TABLE (lock_class integer, in_use integer)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT k.class, (SELECT count(*)::integer FROM tidemark.slot_claims c
                      WHERE c.lock_class = k.class AND tidemark.backend_alive(c.holder_pid, c.holder_started))
      FROM unnest(p_classes) AS k(class);
END
$$;
ALTER FUNCTION tidemark.slots_in_use_of(integer[]) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.slots_in_use_of(integer[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.slots_in_use_of(integer[]) TO tidemark_app;

-- Frees this connection's claims (class i, slot i); others' claims are left alone.
CREATE FUNCTION tidemark.release_slots(p_classes integer[], p_slots integer[]) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF coalesce(cardinality(p_classes), 0) <> coalesce(cardinality(p_slots), 0) THEN
        RAISE EXCEPTION 'release_slots: % classes but % slots', cardinality(p_classes), cardinality(p_slots)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM tidemark.slot_claims AS c
     USING unnest(p_classes, p_slots) AS r(class, slot)
     WHERE c.lock_class = r.class AND c.slot = r.slot AND c.holder_pid = pg_backend_pid();
END
$$;
ALTER FUNCTION tidemark.release_slots(integer[], integer[]) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.release_slots(integer[], integer[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.release_slots(integer[], integer[]) TO tidemark_app;

-- Throttles shared across processes. A session under a throttling rule whose tasks run on
-- several movers (proxy processes, the Job Manager's embedded mover) must stay under the rule's
-- rate in total, not per process. The Job Manager gives each running task an equal share (the
-- rate divided by the session's tasks under the rule) and writes the shares of the tasks that
-- processes run whenever the count changes, before it assigns a new task (so a task's row
-- finds its share already there, and a new task does not raise the shares' sum above the
-- rate); a process sets its bucket for the session to the sum of its tasks' shares at each
-- look at what it holds.
CREATE TABLE tidemark.throttle_shares (
    session_id        text   NOT NULL,
    rule_id           text   NOT NULL,
    task_id           text   NOT NULL,
    bytes_per_second  bigint NOT NULL CHECK (bytes_per_second > 0),
    PRIMARY KEY (session_id, task_id)
);
ALTER TABLE tidemark.throttle_shares OWNER TO tidemark_owner;
GRANT SELECT ON tidemark.throttle_shares TO tidemark_app, tidemark_reader;

-- The rule's shares for the session: p_tasks (the tasks processes run under it) each get
-- p_bytes_per_second; the rule's other tasks lose theirs. The processes holding any of them
-- are rung, so they look now rather than at their next poll. Returns how many were set.
CREATE FUNCTION tidemark.share_session_throttle(p_session text, p_rule text, p_tasks text[], p_bytes_per_second bigint)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_count    integer;
    v_instance uuid;
BEGIN
    IF p_bytes_per_second IS NULL OR p_bytes_per_second < 1 THEN
        RAISE EXCEPTION 'share_session_throttle: a share of % bytes per second is not a rate', p_bytes_per_second
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The rule's other tasks lose their share once their assignment is no longer open (one
    -- still open is a task a resumed session has not counted again yet).
    DELETE FROM tidemark.throttle_shares AS t
     WHERE t.session_id = p_session AND t.rule_id = p_rule AND t.task_id <> ALL (coalesce(p_tasks, '{}'))
       AND NOT EXISTS (SELECT 1 FROM tidemark.proxy_assignments a
                        WHERE a.session_id = t.session_id AND a.task_id = t.task_id AND a.state IN ('assigned', 'running'));
    INSERT INTO tidemark.throttle_shares AS t (session_id, rule_id, task_id, bytes_per_second)
    SELECT p_session, p_rule, u.task, p_bytes_per_second FROM unnest(coalesce(p_tasks, '{}')) AS u(task)
    ON CONFLICT (session_id, task_id) DO UPDATE SET rule_id = EXCLUDED.rule_id, bytes_per_second = EXCLUDED.bytes_per_second;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    FOR v_instance IN
        SELECT DISTINCT a.instance_id FROM tidemark.proxy_assignments a
         WHERE a.session_id = p_session AND a.task_id = ANY (coalesce(p_tasks, '{}')) AND a.state IN ('assigned', 'running')
    LOOP
        PERFORM pg_notify('tidemark_proxy_tasks', v_instance::text);
    END LOOP;
    RETURN v_count;
END
$$;
ALTER FUNCTION tidemark.share_session_throttle(text, text, text[], bigint) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.share_session_throttle(text, text, text[], bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.share_session_throttle(text, text, text[], bigint) TO tidemark_app;

-- A session that ended shares nothing any more.
CREATE FUNCTION tidemark.end_session_throttles(p_session text) RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM tidemark.throttle_shares WHERE session_id = p_session;
END
$$;
ALTER FUNCTION tidemark.end_session_throttles(text) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.end_session_throttles(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.end_session_throttles(text) TO tidemark_app;

-- What a process holds, now with each task's throttle share (its current share, else the one
-- its order carried; NULL: not throttled). A column added at the end: a process that names
-- the first four columns reads on as before.
DROP FUNCTION tidemark.open_assignments(uuid);
CREATE FUNCTION tidemark.open_assignments(p_instance uuid)
RETURNS TABLE (session_id text, task_id text, token bigint, state text, throttle_bytes_per_second bigint)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT a.session_id, a.task_id, a.token, a.state,
           coalesce(t.bytes_per_second, (a.assignment ->> 'throttle_bytes_per_second')::bigint)
      FROM tidemark.proxy_assignments a
      JOIN tidemark.proxy_processes p ON p.instance_id = a.instance_id
      LEFT JOIN tidemark.throttle_shares t ON t.session_id = a.session_id AND t.task_id = a.task_id
     WHERE a.instance_id = p_instance AND a.state IN ('assigned', 'running') AND tidemark.proxy_caller(p);
END
$$;
ALTER FUNCTION tidemark.open_assignments(uuid) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.open_assignments(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.open_assignments(uuid) TO tidemark_proxy;

-- A running process checks what it reaches again every so often (a server added to the
-- catalog, a share mounted on its host) and says so: its row's reach, which the Job Manager
-- chooses by, and a ProxyProcessReachChanged event in its stream. Bounded like a
-- registration's reach; only the login that registered the process, only while it is live.
UPDATE tidemark.stream_categories SET event_types = event_types || ARRAY['ProxyProcessReachChanged']
 WHERE category = 'proxyprocess' AND NOT ('ProxyProcessReachChanged' = ANY (event_types));

CREATE FUNCTION tidemark.proxy_update_reach(p_instance uuid, p_reach jsonb) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_reach IS NULL OR jsonb_typeof(p_reach) <> 'object' OR octet_length(p_reach::text) > 65536 THEN
        RAISE EXCEPTION 'proxy_update_reach: the reach must be a JSON object of at most 64 KiB'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE tidemark.proxy_processes AS p SET reach = p_reach
     WHERE p.instance_id = p_instance AND tidemark.proxy_caller(p) AND tidemark.proxy_live(p);
    RETURN FOUND;
END
$$;
ALTER FUNCTION tidemark.proxy_update_reach(uuid, jsonb) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.proxy_update_reach(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.proxy_update_reach(uuid, jsonb) TO tidemark_proxy;
