-- 0019 — users, roles and API tokens as events (issue 17).
--
-- Category `user`: streams `user-<uuid>`, written by identity commands (IdentityStore.execute:
-- `tidemark user ...`), starting with UserAdded. Category `token`: streams `token-<uuid>`
-- (`tidemark token ...`), starting with TokenIssued; a token's SHA-256 is stored, never the
-- token. Category `access`: streams `access-<uuid>`, one per running API server, the sign-in
-- records its requests leave (SignInFailed: a refused token, with the client's address).

INSERT INTO tidemark.stream_categories (category, writer, stream_pattern, event_types, first_event_type) VALUES
    ('user', 'identity commands (IdentityStore.execute)',
     '^user-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
     ARRAY['UserAdded', 'RoleGranted', 'UserRemoved'], 'UserAdded'),
    ('token', 'identity commands (IdentityStore.execute)',
     '^token-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
     ARRAY['TokenIssued', 'TokenRevoked'], 'TokenIssued'),
    ('access', 'the API server (AccessRecorder)',
     '^access-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
     ARRAY['SignedIn', 'SignInFailed'], NULL);

-- Users as the log says they are now: the latest role, who added them and when.
CREATE VIEW reporting.users AS
SELECT substr(a.stream_id, 6)                          AS user_id,
       a.data ->> 'name'                               AS name,
       coalesce(g.data ->> 'role', a.data ->> 'role')  AS role,
       a.recorded_at                                   AS added_at,
       a.metadata ->> 'actor'                          AS added_by,
       r.recorded_at                                   AS removed_at,
       r.metadata ->> 'actor'                          AS removed_by
  FROM tidemark.events a
  LEFT JOIN LATERAL (SELECT e.data FROM tidemark.events e
                      WHERE e.stream_id = a.stream_id AND e.event_type = 'RoleGranted'
                      ORDER BY e.stream_version DESC LIMIT 1) g ON true
  LEFT JOIN tidemark.events r ON r.stream_id = a.stream_id AND r.event_type = 'UserRemoved'
 WHERE a.category = 'user' AND a.event_type = 'UserAdded';

-- API tokens without their secrets: whose, issued by whom, until when, revoked by whom.
CREATE VIEW reporting.api_tokens AS
SELECT substr(i.stream_id, 7)                    AS token_id,
       i.data ->> 'prefix'                       AS prefix,
       i.data ->> 'user_name'                    AS user_name,
       i.data ->> 'label'                        AS label,
       i.recorded_at                             AS issued_at,
       i.metadata ->> 'actor'                    AS issued_by,
       (i.data ->> 'expires_at')::timestamptz    AS expires_at,
       r.recorded_at                             AS revoked_at,
       r.metadata ->> 'actor'                    AS revoked_by
  FROM tidemark.events i
  LEFT JOIN tidemark.events r ON r.stream_id = i.stream_id AND r.event_type = 'TokenRevoked'
 WHERE i.category = 'token' AND i.event_type = 'TokenIssued';

-- Sign-ins through the API, refused ones included: who, from where, why refused.
CREATE VIEW reporting.sign_ins AS
SELECT e.position,
       e.recorded_at                  AS at,
       e.event_type = 'SignedIn'      AS succeeded,
       e.data ->> 'user_name'         AS user_name,
       e.data ->> 'token_prefix'      AS token_prefix,
       e.data ->> 'method'            AS method,
       e.data ->> 'client_address'    AS client_address,
       e.data ->> 'reason'            AS reason
  FROM tidemark.events e
 WHERE e.category = 'access';

GRANT SELECT ON reporting.users, reporting.api_tokens, reporting.sign_ins TO tidemark_app, tidemark_reader;
