-- 0022 — two-person approval (issue 17).
--
-- Category `approval`: streams `approval-<uuid>`, one per request (ApprovalStore): an
-- ApprovalRequested, then Approved (appended in one transaction with the change it approves)
-- or Denied. Category `setting`: the stream `setting-two-person-approval`, the policy's
-- switches (`tidemark settings two-person-approval on|off`, on the server's host only).

INSERT INTO tidemark.stream_categories (category, writer, stream_pattern, event_types, first_event_type) VALUES
    ('approval', 'two-person approval (ApprovalStore)',
     '^approval-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
     ARRAY['ApprovalRequested', 'Approved', 'Denied'], 'ApprovalRequested'),
    ('setting', 'settings commands (tidemark settings)',
     '^setting-two-person-approval$',
     ARRAY['TwoPersonApprovalTurnedOff', 'TwoPersonApprovalTurnedOn'], NULL);

-- Each request and where it stands: pending until decided or past expires_at.
CREATE VIEW reporting.approvals AS
SELECT r.data ->> 'id'                                  AS approval_id,
       r.data -> 'action' ->> 'kind'                    AS action,
       r.data -> 'action' ->> 'object_kind'             AS object_kind,
       r.data -> 'action' ->> 'object_name'             AS object_name,
       (r.data -> 'action' ->> 'version')::bigint       AS object_version,
       r.data ->> 'requested_by'                        AS requested_by,
       r.recorded_at                                    AS requested_at,
       (r.data ->> 'expires_at')::timestamptz           AS expires_at,
       CASE WHEN d.event_type = 'Approved' THEN 'approved'
            WHEN d.event_type = 'Denied' THEN 'denied'
            WHEN now() >= (r.data ->> 'expires_at')::timestamptz THEN 'expired'
            ELSE 'pending' END                          AS state,
       d.data ->> 'decided_by'                          AS decided_by,
       d.recorded_at                                    AS decided_at,
       d.data ->> 'reason'                              AS reason,
       r.data -> 'action' ->> 'retention_from'          AS retention_from,
       r.data -> 'action' ->> 'retention_to'            AS retention_to,
       r.data -> 'action' ->> 'document'                AS document
  FROM tidemark.events r
  LEFT JOIN tidemark.events d ON d.stream_id = r.stream_id AND d.stream_version = 2
 WHERE r.category = 'approval' AND r.event_type = 'ApprovalRequested';

GRANT SELECT ON reporting.approvals TO tidemark_app, tidemark_reader;
