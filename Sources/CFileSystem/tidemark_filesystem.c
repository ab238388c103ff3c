#define _GNU_SOURCE
#include <unistd.h>
#include "tidemark_filesystem.h"

int tidemark_syncfs(int descriptor) {
    return syncfs(descriptor);
}

#include <fcntl.h>

int tidemark_punch_hole(int descriptor, long long offset, long long length) {
    return fallocate(descriptor, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
}

#include <spawn.h>

int tidemark_spawn_close_from(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
