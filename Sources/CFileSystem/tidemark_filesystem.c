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
