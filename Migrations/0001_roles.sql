-- 0001 — the roles of a Tidemark catalog.
--
-- Roles belong to the whole PostgreSQL cluster, not to one database, so this file
-- tolerates roles that another Tidemark database of the same cluster already created.
--
--   tidemark_owner   NOLOGIN. Owns the tidemark schema, its tables and functions. Nobody
--                    connects as it; migrations (run by a superuser or a member of it)
--                    create objects and hand them to it.
--   tidemark_app     LOGIN. The role the Tidemark server and command line connect as.
--                    It owns nothing. It may SELECT the log and append only by calling
--                    tidemark.append_events (SECURITY DEFINER), so it can neither write
--                    an event out of commit order nor change or remove one. On a shared
--                    server give it a password: ALTER ROLE tidemark_app PASSWORD '...'.
--   tidemark_reader  NOLOGIN. Read-only access for auditors and SQL tools (psql, BI);
--                    GRANT tidemark_reader TO a person's role.

DO $$
BEGIN
    BEGIN
        CREATE ROLE tidemark_owner NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
    END;
    BEGIN
        CREATE ROLE tidemark_app LOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
    END;
    BEGIN
        CREATE ROLE tidemark_reader NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
    END;
END
$$;

-- A service session left idle inside a transaction would hold whatever it locked (the
-- log's write lock among them) until someone noticed; end such sessions after a minute.
-- Set for this database only: a per-role setting is one row for the whole cluster, which
-- two databases migrating at once would update concurrently.
DO $$
BEGIN
    EXECUTE format('ALTER ROLE tidemark_app IN DATABASE %I SET idle_in_transaction_session_timeout = %L',
                   current_database(), '60s');
END
$$;

ALTER SCHEMA tidemark OWNER TO tidemark_owner;
REVOKE ALL ON SCHEMA tidemark FROM PUBLIC;
GRANT USAGE ON SCHEMA tidemark TO tidemark_app, tidemark_reader;
GRANT SELECT ON tidemark.schema_migrations TO tidemark_app, tidemark_reader;
