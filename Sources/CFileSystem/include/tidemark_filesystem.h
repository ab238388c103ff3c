#ifndef TIDEMARK_FILESYSTEM_H
#define TIDEMARK_FILESYSTEM_H

/// syncfs(2): flushes the whole file system holding `descriptor` (data and metadata) in one
/// call. Glibc declares it only under _GNU_SOURCE, which Swift's Glibc module does not set.
int tidemark_syncfs(int descriptor);

/// fallocate(2) with FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE: the range reads as zeros
/// and takes no space, the file's size unchanged (a restore's zero blocks over old data).
int tidemark_punch_hole(int descriptor, long long offset, long long length);

#include <spawn.h>

/// posix_spawn_file_actions_addclosefrom_np: the child closes every descriptor from `from`
/// up. A server a tool leaves running (pg_ctl's postgres) must not hold the caller's pipes
/// and files open for its whole life: a reader waiting for the end of such a pipe would
/// wait until the server stops.
int tidemark_spawn_close_from(posix_spawn_file_actions_t *actions, int from);

#endif
