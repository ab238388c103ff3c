-- 0009 — locks only the service can hold.
--
-- Advisory locks can be taken by any role that connects: a tidemark_reader login took the
-- scheduler's leader lock (and nobody scheduled), and could as well have held the catalog
-- lock, a repository's task slots or a session. Each is now something only tidemark_app may
-- take, with the semantics it had:
--
-- * The catalog lock: an empty table locked IN EXCLUSIVE MODE for the command's transaction
--   (LOCK at that level needs UPDATE on the table, which only tidemark_app has).
-- * Task slots, session ownership, projection maintenance: a claim row per (class, slot),
--   held while the claiming server process lives. A claim whose backend is gone (the Job
--   Manager crashed, its connection dropped) is free, as an advisory lock would have been.
--   A backend is alive when pg_stat_activity lists its pid with the start time recorded in
--   the claim; another login role's backends show no start time, and then the pid alone
--   counts (servers that log in as different members of tidemark_app).
-- * The scheduler's leadership: a lease with an expiry, renewed by heartbeat, and a fencing
--   token that grows with every new holder. The leader's appends check the token under a
--   share lock on the lease row, in the append's transaction: a leader that froze (SIGSTOP)
--   past its expiry is replaced, and its late appends are refused.

CREATE TABLE tidemark.catalog_lock ();
ALTER TABLE tidemark.catalog_lock OWNER TO tidemark_owner;
GRANT UPDATE ON tidemark.catalog_lock TO tidemark_app;

CREATE TABLE tidemark.slot_claims (
    lock_class      integer     NOT NULL,
    slot            integer     NOT NULL,
    holder_pid      integer     NOT NULL,
    holder_started  timestamptz,
    claimed_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (lock_class, slot)
);
ALTER TABLE tidemark.slot_claims OWNER TO tidemark_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON tidemark.slot_claims TO tidemark_app;

-- Whether the server process that made a claim still runs. Invoker's rights: the service
-- sees its own backends' start times.
CREATE FUNCTION tidemark.backend_alive(p_pid integer, p_started timestamptz) RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM pg_stat_activity a
                    WHERE a.pid = p_pid AND (a.backend_start IS NULL OR p_started IS NULL OR a.backend_start = p_started))
$$;
ALTER FUNCTION tidemark.backend_alive(integer, timestamptz) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.backend_alive(integer, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.backend_alive(integer, timestamptz) TO tidemark_app;

-- Claims a slot for this connection's server process: true if it was free, or its holder is
-- gone. Concurrent claims of one slot serialise on its row; exactly one wins.
CREATE FUNCTION tidemark.claim_slot(p_class integer, p_slot integer) RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH me AS (SELECT pg_backend_pid() AS pid,
                       (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()) AS started),
    claimed AS (
        INSERT INTO tidemark.slot_claims AS c (lock_class, slot, holder_pid, holder_started)
        SELECT p_class, p_slot, me.pid, me.started FROM me
        ON CONFLICT (lock_class, slot) DO UPDATE
           SET holder_pid = EXCLUDED.holder_pid, holder_started = EXCLUDED.holder_started, claimed_at = clock_timestamp()
         WHERE NOT tidemark.backend_alive(c.holder_pid, c.holder_started)
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM claimed)
$$;
ALTER FUNCTION tidemark.claim_slot(integer, integer) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.claim_slot(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.claim_slot(integer, integer) TO tidemark_app;

CREATE FUNCTION tidemark.release_slot(p_class integer, p_slot integer) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM tidemark.slot_claims WHERE lock_class = p_class AND slot = p_slot AND holder_pid = pg_backend_pid()
$$;
ALTER FUNCTION tidemark.release_slot(integer, integer) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.release_slot(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.release_slot(integer, integer) TO tidemark_app;

-- Slots of a class held by live server processes.
CREATE FUNCTION tidemark.slots_in_use(p_class integer) RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(*)::integer FROM tidemark.slot_claims c
     WHERE c.lock_class = p_class AND tidemark.backend_alive(c.holder_pid, c.holder_started)
$$;
ALTER FUNCTION tidemark.slots_in_use(integer) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.slots_in_use(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.slots_in_use(integer) TO tidemark_app;

CREATE TABLE tidemark.leases (
    name        text        PRIMARY KEY,
    holder      text        NOT NULL,
    token       bigint      NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
ALTER TABLE tidemark.leases OWNER TO tidemark_owner;
GRANT SELECT, INSERT, UPDATE ON tidemark.leases TO tidemark_app;
GRANT SELECT ON tidemark.leases TO tidemark_reader;

-- Takes the lease if nobody holds it or its holder let it expire: the new token (one more
-- than any before), or NULL. Times are the database's clock, the one clock all servers share.
CREATE FUNCTION tidemark.acquire_lease(p_name text, p_holder text, p_seconds double precision) RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO tidemark.leases AS l (name, holder, token, acquired_at, expires_at)
    VALUES (p_name, p_holder, 1, clock_timestamp(), clock_timestamp() + make_interval(secs => p_seconds))
    ON CONFLICT (name) DO UPDATE
       SET holder = EXCLUDED.holder, token = l.token + 1, acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
     WHERE l.expires_at < clock_timestamp()
    RETURNING token
$$;
ALTER FUNCTION tidemark.acquire_lease(text, text, double precision) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.acquire_lease(text, text, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.acquire_lease(text, text, double precision) TO tidemark_app;

-- Extends the holder's lease; false once it expired (even if nobody took it yet: the holder
-- must step down and acquire again, under a new token).
CREATE FUNCTION tidemark.renew_lease(p_name text, p_holder text, p_token bigint, p_seconds double precision) RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH renewed AS (
        UPDATE tidemark.leases SET expires_at = clock_timestamp() + make_interval(secs => p_seconds)
         WHERE name = p_name AND holder = p_holder AND token = p_token AND expires_at > clock_timestamp()
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM renewed)
$$;
ALTER FUNCTION tidemark.renew_lease(text, text, bigint, double precision) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.renew_lease(text, text, bigint, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.renew_lease(text, text, bigint, double precision) TO tidemark_app;

-- Ends the holder's lease now (a graceful shutdown), so a successor need not wait it out.
CREATE FUNCTION tidemark.release_lease(p_name text, p_holder text, p_token bigint) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE tidemark.leases SET expires_at = clock_timestamp()
     WHERE name = p_name AND holder = p_holder AND token = p_token
$$;
ALTER FUNCTION tidemark.release_lease(text, text, bigint) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.release_lease(text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.release_lease(text, text, bigint) TO tidemark_app;

-- The fence: raises unless the lease is held under this token and not expired. Call it in
-- the transaction that appends on the leader's behalf: the share lock on the lease row keeps
-- any takeover waiting until that transaction ends.
CREATE FUNCTION tidemark.check_lease(p_name text, p_token bigint) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_token   bigint;
    v_expires timestamptz;
BEGIN
    SELECT token, expires_at INTO v_token, v_expires FROM tidemark.leases WHERE name = p_name FOR SHARE;
    IF v_token IS DISTINCT FROM p_token OR v_expires <= clock_timestamp() THEN
        RAISE EXCEPTION 'the % lease is no longer held under token % (now %, expiring %)', p_name, p_token, v_token, v_expires
            USING ERRCODE = 'TM002',
                  HINT = 'Another server took over after this one stopped renewing; this server stepped down.';
    END IF;
END
$$;
ALTER FUNCTION tidemark.check_lease(text, bigint) OWNER TO tidemark_owner;
REVOKE ALL ON FUNCTION tidemark.check_lease(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tidemark.check_lease(text, bigint) TO tidemark_app;
