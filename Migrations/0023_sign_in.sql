-- 0023 — password sign-in with a TOTP second factor (issue 17).
--
-- The `user` category gains PasswordSet (a bcrypt hash, never the password) and
-- SecondFactorSet (where the TOTP secret is sealed on the server's host, never the secret).
-- A password sign-in through the API is recorded in the server's `access-` stream as SignedIn
-- (or SignInFailed, with the reason), with the client's address.

UPDATE tidemark.stream_categories
   SET event_types = event_types || ARRAY['PasswordSet', 'SecondFactorSet']
 WHERE category = 'user';

-- Who may sign in with a password, and whether a code is asked for after it.
CREATE OR REPLACE VIEW reporting.users AS
SELECT substr(a.stream_id, 6)                          AS user_id,
       a.data ->> 'name'                               AS name,
       coalesce(g.data ->> 'role', a.data ->> 'role')  AS role,
       a.recorded_at                                   AS added_at,
       a.metadata ->> 'actor'                          AS added_by,
       r.recorded_at                                   AS removed_at,
       r.metadata ->> 'actor'                          AS removed_by,
       EXISTS (SELECT 1 FROM tidemark.events p WHERE p.stream_id = a.stream_id AND p.event_type = 'PasswordSet') AS has_password,
       coalesce((SELECT f.data ->> 'credential' IS NOT NULL FROM tidemark.events f
                  WHERE f.stream_id = a.stream_id AND f.event_type = 'SecondFactorSet'
                  ORDER BY f.stream_version DESC LIMIT 1), false) AS second_factor
  FROM tidemark.events a
  LEFT JOIN LATERAL (SELECT e.data FROM tidemark.events e
                      WHERE e.stream_id = a.stream_id AND e.event_type = 'RoleGranted'
                      ORDER BY e.stream_version DESC LIMIT 1) g ON true
  LEFT JOIN tidemark.events r ON r.stream_id = a.stream_id AND r.event_type = 'UserRemoved'
 WHERE a.category = 'user' AND a.event_type = 'UserAdded';
