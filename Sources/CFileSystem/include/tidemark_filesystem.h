#ifndef TIDEMARK_FILESYSTEM_H
#define TIDEMARK_FILESYSTEM_H

/// syncfs(2): flushes the whole file system holding `descriptor` (data and metadata) in one
/// call. Glibc declares it only under _GNU_SOURCE, which Swift's Glibc module does not set.
int tidemark_syncfs(int descriptor);

#endif
