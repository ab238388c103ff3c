-- 0017 — file-level restores, and disk restores that take a kept publish overlay (issue 16).
--
-- A file restore is a restore session like the others: RestoreRequested with what = 'files'
-- and the guest paths, the folder and the file system read (guest_files), then
-- RestoreFilesCopied with what was written, then RestoreFinished. The restores projection
-- keeps the folder in target_folder and the guest paths in the VM's files; reporting.restores
-- gains the count of files written as its last column (columns are only ever added).

UPDATE tidemark.stream_categories
   SET event_types = event_types || ARRAY['RestoreFilesCopied']
 WHERE category = 'restore' AND NOT ('RestoreFilesCopied' = ANY (event_types));

-- A disk restore can take a kept publish overlay's sectors over the restored disk (migrate
-- after instant access): RestoreOverlayApplied once they are written.
UPDATE tidemark.stream_categories
   SET event_types = event_types || ARRAY['RestoreOverlayApplied']
 WHERE category = 'restore' AND NOT ('RestoreOverlayApplied' = ANY (event_types));

ALTER TABLE projection.restores ADD COLUMN files_restored integer;
ALTER TABLE projection_shadow.restores ADD COLUMN files_restored integer;

CREATE OR REPLACE VIEW reporting.restores AS
SELECT r.restore_id, r.what, r.actor AS requested_by, r.reason_given, r.requested_at, r.finished_at, r.state, r.result,
       r.reason, r.repository_name,
       coalesce(v.vm_names, '{}') AS vm_names, coalesce(v.restore_points, '{}') AS restore_points,
       r.target_server, r.target_folder, r.target_datastore,
       coalesce(v.target_vms, '{}') AS target_vms, coalesce(v.files, '{}') AS files,
       r.read_bytes, r.written_bytes, r.skipped_bytes, r.duration_seconds, r.bytes_per_second, r.bottleneck,
       coalesce(v.powered_on, 0) AS vms_powered_on,
       r.throttle_rule, r.throttle_bytes_per_second,
       r.files_restored
  FROM projection.restores r
  LEFT JOIN LATERAL (
        SELECT array_agg(x.vm_name ORDER BY x.vm_name) AS vm_names,
               array_agg(x.restore_point_id ORDER BY x.vm_name) AS restore_points,
               array_agg(x.target_vm_name ORDER BY x.vm_name) FILTER (WHERE x.target_vm_name IS NOT NULL) AS target_vms,
               (SELECT array_agg(f ORDER BY f) FROM projection.restore_vms y, unnest(y.files) AS f WHERE y.restore_id = r.restore_id) AS files,
               count(*) FILTER (WHERE x.powered_on)::integer AS powered_on
          FROM projection.restore_vms x WHERE x.restore_id = r.restore_id) v ON true;
