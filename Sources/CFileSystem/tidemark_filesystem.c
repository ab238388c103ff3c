#define _GNU_SOURCE
#include <unistd.h>
#include "tidemark_filesystem.h"

int tidemark_syncfs(int descriptor) {
    return syncfs(descriptor);
}
