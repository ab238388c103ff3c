-- 0018 — the guest file index (issue 16).
--
-- After a backup of a job with index_guest_files, the Job Manager walks each ext2/3/4 file
-- system of each new restore point (read from the chunks) and stores what it found here. The
-- index is derived data, rebuilt from the repository rather than from the log, so it lives in
-- a schema of its own; the log records that indexing ran (GuestIndexStarted/Finished on the
-- session's stream, with counts).
--
-- Incremental: one row per version of a file. A file system's indexed points are numbered
-- (seq, per VM, disk and partition); a row holds from its first_seq to its last_seq (NULL:
-- still there in the newest indexed point). Indexing a point closes the rows of files changed
-- or deleted since the previous indexed point and adds rows for files added or changed only,
-- so an unchanged file costs nothing more per point.

CREATE SCHEMA guest_index AUTHORIZATION tidemark_owner;

-- One row per file system indexed in a restore point, with what indexing it found.
CREATE TABLE guest_index.volumes (
    restore_point_id  text             NOT NULL,
    vm_id             text             NOT NULL,
    disk              text             NOT NULL,
    partition         integer          NOT NULL,  -- 0: a file system on the whole disk
    seq               integer          NOT NULL,
    session_id        text             NOT NULL,
    file_system       text             NOT NULL,
    indexed_at        timestamptz      NOT NULL DEFAULT now(),
    files             bigint           NOT NULL,
    added             bigint           NOT NULL,
    changed           bigint           NOT NULL,
    removed           bigint           NOT NULL,
    seconds           double precision NOT NULL,
    PRIMARY KEY (restore_point_id, disk, partition),
    UNIQUE (vm_id, disk, partition, seq)
);

CREATE TABLE guest_index.files (
    vm_id        text        NOT NULL,
    disk         text        NOT NULL,
    partition    integer     NOT NULL,
    path         text        NOT NULL,
    name         text        NOT NULL,
    kind         text        NOT NULL,
    size_bytes   bigint      NOT NULL,
    mode         text        NOT NULL,  -- permission bits in octal, as chmod takes them (644, 4755)
    uid          bigint      NOT NULL,
    gid          bigint      NOT NULL,
    modified_at  timestamptz NOT NULL,
    link_target  text,
    first_seq    integer     NOT NULL,
    last_seq     integer,
    PRIMARY KEY (vm_id, disk, partition, path, first_seq)
);
-- files find --name: prefix patterns use this index, others scan.
CREATE INDEX guest_files_name_idx ON guest_index.files (name text_pattern_ops);

ALTER TABLE guest_index.volumes OWNER TO tidemark_owner;
ALTER TABLE guest_index.files OWNER TO tidemark_owner;
GRANT USAGE ON SCHEMA guest_index TO tidemark_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON guest_index.volumes, guest_index.files TO tidemark_app;

-- Every indexed file in every indexed restore point: which point holds which version of a
-- file, its size, mode, owner and time. point_available is false once retention removed the
-- point (its rows stay until the file system's index is pruned).
CREATE VIEW reporting.guest_files AS
SELECT rp.vm_name, v.vm_id, v.restore_point_id, rp.created_at AS point_created_at, (rp.restore_point_id IS NOT NULL AND rp.removed_at IS NULL) AS point_available,
       v.disk, v.partition, f.path, f.name, f.kind, f.size_bytes, f.mode, f.uid, f.gid, f.modified_at, f.link_target
  FROM guest_index.volumes v
  JOIN guest_index.files f ON f.vm_id = v.vm_id AND f.disk = v.disk AND f.partition = v.partition
                          AND f.first_seq <= v.seq AND (f.last_seq IS NULL OR f.last_seq >= v.seq)
  LEFT JOIN projection.restore_points rp ON rp.restore_point_id = v.restore_point_id;

-- What each indexing found: per restore point and file system, files, added, changed, removed.
CREATE VIEW reporting.guest_file_indexes AS
SELECT v.restore_point_id, rp.vm_name, v.vm_id, rp.created_at AS point_created_at, v.session_id, v.disk, v.partition,
       v.file_system, v.indexed_at,
       v.files, v.added, v.changed, v.removed, v.seconds, (rp.restore_point_id IS NOT NULL AND rp.removed_at IS NULL) AS point_available
  FROM guest_index.volumes v
  LEFT JOIN projection.restore_points rp ON rp.restore_point_id = v.restore_point_id;

ALTER VIEW reporting.guest_files OWNER TO tidemark_owner;
ALTER VIEW reporting.guest_file_indexes OWNER TO tidemark_owner;
GRANT SELECT ON reporting.guest_files, reporting.guest_file_indexes TO tidemark_app, tidemark_reader;
