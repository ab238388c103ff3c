#ifndef TIDEMARK_EXT2FS_H
#define TIDEMARK_EXT2FS_H

#include <stddef.h>
#include <stdint.h>

/// A narrow, read-only window on libext2fs for Tidemark: an ext2/3/4 file system opened
/// over a reader the caller gives (Tidemark reads a restore point's chunks), never over a
/// device or a file, and the few calls a file browser and a file restore need. Every call
/// returns 0 or a libext2fs/com_err error code (tm_ext_message names it).

/// Reads `count` bytes at byte `offset` of the file system into `buffer`; returns 0, or an
/// errno value (the caller keeps its own error to report).
typedef int (*tm_ext_read_fn)(void *context, uint64_t offset, void *buffer, size_t count);

typedef struct tm_ext_fs tm_ext_fs;
typedef struct tm_ext_file tm_ext_file;

/// What Tidemark shows and restores of an inode.
typedef struct {
    uint16_t mode;
    uint16_t links;
    uint32_t uid;
    uint32_t gid;
    uint64_t size;
    int64_t atime;
    int64_t mtime;
    int64_t ctime;
    uint32_t atime_nsec;
    uint32_t mtime_nsec;
    uint32_t flags;
} tm_ext_inode;

/// One directory entry; return non-zero to stop the listing.
typedef int (*tm_ext_entry_fn)(void *context, const char *name, int length, uint32_t inode);

long tm_ext_open(void *context, tm_ext_read_fn read, tm_ext_fs **out);
void tm_ext_close(tm_ext_fs *fs);
/// The root directory's inode (2).
uint32_t tm_ext_root(void);
/// The file system's block size and counts (for `files` summaries).
void tm_ext_geometry(tm_ext_fs *fs, uint32_t *block_size, uint64_t *blocks, uint32_t *inodes, const char **label_out);
/// Whether the journal holds transactions not yet written to their places (a file system
/// snapshotted while mounted): what is read may miss the guest's last writes.
int tm_ext_needs_recovery(tm_ext_fs *fs);
/// One name in one directory (no path walking: the caller walks, so symbolic links resolve
/// inside the guest's tree).
long tm_ext_lookup(tm_ext_fs *fs, uint32_t directory, const char *name, int length, uint32_t *inode);
long tm_ext_stat(tm_ext_fs *fs, uint32_t inode, tm_ext_inode *out);
long tm_ext_list(tm_ext_fs *fs, uint32_t directory, tm_ext_entry_fn each, void *context);
/// A symbolic link's target (fast, inline or in blocks), at most `capacity` bytes.
long tm_ext_readlink(tm_ext_fs *fs, uint32_t inode, char *buffer, size_t capacity, size_t *length);
long tm_ext_file_open(tm_ext_fs *fs, uint32_t inode, tm_ext_file **out);
long tm_ext_file_read(tm_ext_file *file, void *buffer, uint32_t wanted, uint32_t *got);
void tm_ext_file_close(tm_ext_file *file);
/// The codes Tidemark tells apart: a name not in a directory, no superblock.
long tm_ext_code_not_found(void);
long tm_ext_code_bad_magic(void);
/// libext2fs's words for an error code.
const char *tm_ext_message(long code);

#endif
