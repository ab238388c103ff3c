-- 0029 — repositories that are a repository service on another host (issue 19): the
-- definition's `service` (address, pinned thumbprint, where the token is kept — never the
-- token) at the end of reporting.repositories. A folder repository has NULL in both; a
-- service has an empty `path`.

CREATE OR REPLACE VIEW reporting.repositories AS
SELECT repository_id, name AS repository_name, path, max_concurrent_tasks, free_space_threshold_percent, site,
       version AS definition_version, created_at, updated_at, updated_by,
       definition -> 'service' ->> 'url'        AS service_url,
       definition -> 'service' ->> 'thumbprint' AS service_thumbprint
  FROM projection.repositories;

ALTER VIEW reporting.repositories OWNER TO tidemark_owner;
GRANT SELECT ON reporting.repositories TO tidemark_app, tidemark_reader;
