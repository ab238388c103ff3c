#include "tidemark_ext2fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <ext2fs/ext2fs.h>
#include <et/com_err.h>

/// The reader an I/O channel reads through: handed to the manager's open by the thread that
/// calls ext2fs_open2 (libext2fs gives open only a name).
struct tm_source {
    void *context;
    tm_ext_read_fn read;
};

struct tm_ext_fs {
    ext2_filsys fs;
};

struct tm_ext_file {
    ext2_file_t file;
};

static __thread struct tm_source *pending_source;

static errcode_t tm_io_open(const char *name, int flags, io_channel *channel);
static errcode_t tm_io_close(io_channel channel);
static errcode_t tm_io_set_blksize(io_channel channel, int blksize);
static errcode_t tm_io_read_blk64(io_channel channel, unsigned long long block, int count, void *data);
static errcode_t tm_io_read_blk(io_channel channel, unsigned long block, int count, void *data);
static errcode_t tm_io_write_blk64(io_channel channel, unsigned long long block, int count, const void *data);
static errcode_t tm_io_write_blk(io_channel channel, unsigned long block, int count, const void *data);
static errcode_t tm_io_write_byte(io_channel channel, unsigned long offset, int count, const void *data);
static errcode_t tm_io_flush(io_channel channel);
static errcode_t tm_io_set_option(io_channel channel, const char *option, const char *arg);

static struct struct_io_manager tm_io_manager = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "Tidemark restore point",
    .open = tm_io_open,
    .close = tm_io_close,
    .set_blksize = tm_io_set_blksize,
    .read_blk = tm_io_read_blk,
    .write_blk = tm_io_write_blk,
    .flush = tm_io_flush,
    .write_byte = tm_io_write_byte,
    .set_option = tm_io_set_option,
    .read_blk64 = tm_io_read_blk64,
    .write_blk64 = tm_io_write_blk64,
};

static errcode_t tm_io_open(const char *name, int flags, io_channel *channel) {
    if (pending_source == NULL) return EXT2_ET_BAD_DEVICE_NAME;
    if (flags & IO_FLAG_RW) return EXT2_ET_RO_FILSYS;
    io_channel io = NULL;
    errcode_t error = ext2fs_get_memzero(sizeof(struct struct_io_channel), &io);
    if (error) return error;
    struct tm_source *source = NULL;
    error = ext2fs_get_mem(sizeof(struct tm_source), &source);
    if (error) {
        ext2fs_free_mem(&io);
        return error;
    }
    *source = *pending_source;
    error = ext2fs_get_mem(strlen(name) + 1, &io->name);
    if (error) {
        ext2fs_free_mem(&source);
        ext2fs_free_mem(&io);
        return error;
    }
    strcpy(io->name, name);
    io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
    io->manager = &tm_io_manager;
    io->block_size = 1024;
    io->refcount = 1;
    io->private_data = source;
    *channel = io;
    return 0;
}

static errcode_t tm_io_close(io_channel channel) {
    if (--channel->refcount > 0) return 0;
    ext2fs_free_mem(&channel->private_data);
    ext2fs_free_mem(&channel->name);
    ext2fs_free_mem(&channel);
    return 0;
}

static errcode_t tm_io_set_blksize(io_channel channel, int blksize) {
    channel->block_size = blksize;
    return 0;
}

/// `count` blocks, or -count bytes when negative (libext2fs's convention).
static errcode_t tm_io_read_blk64(io_channel channel, unsigned long long block, int count, void *data) {
    struct tm_source *source = channel->private_data;
    size_t size = count < 0 ? (size_t)(-count) : (size_t)count * (size_t)channel->block_size;
    uint64_t offset = (uint64_t)block * (uint64_t)channel->block_size;
    int failed = source->read(source->context, offset, data, size);
    // An errno value is a com_err code too (error_message gives strerror's words).
    return failed;
}

static errcode_t tm_io_read_blk(io_channel channel, unsigned long block, int count, void *data) {
    return tm_io_read_blk64(channel, block, count, data);
}

static errcode_t tm_io_write_blk64(io_channel channel, unsigned long long block, int count, const void *data) {
    return EXT2_ET_RO_FILSYS;
}

static errcode_t tm_io_write_blk(io_channel channel, unsigned long block, int count, const void *data) {
    return EXT2_ET_RO_FILSYS;
}

static errcode_t tm_io_write_byte(io_channel channel, unsigned long offset, int count, const void *data) {
    return EXT2_ET_RO_FILSYS;
}

static errcode_t tm_io_flush(io_channel channel) { return 0; }

static errcode_t tm_io_set_option(io_channel channel, const char *option, const char *arg) {
    return EXT2_ET_INVALID_ARGUMENT;
}

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void add_tables(void) { add_error_table(&et_ext2_error_table); }

long tm_ext_open(void *context, tm_ext_read_fn read, tm_ext_fs **out) {
    pthread_once(&tables_once, add_tables);
    struct tm_source source = {.context = context, .read = read};
    struct tm_ext_fs *handle = calloc(1, sizeof(struct tm_ext_fs));
    if (handle == NULL) return EXT2_ET_NO_MEMORY;
    pending_source = &source;
    // Read-only, 64-bit block numbers; checksums are checked (a damaged file system is
    // named, not read as if it were sound).
    errcode_t error = ext2fs_open2("tidemark", NULL, EXT2_FLAG_64BITS, 0, 0, &tm_io_manager, &handle->fs);
    pending_source = NULL;
    if (error) {
        free(handle);
        return error;
    }
    *out = handle;
    return 0;
}

void tm_ext_close(tm_ext_fs *fs) {
    if (fs == NULL) return;
    ext2fs_close_free(&fs->fs);
    free(fs);
}

uint32_t tm_ext_root(void) { return EXT2_ROOT_INO; }

int tm_ext_needs_recovery(tm_ext_fs *fs) { return ext2fs_has_feature_journal_needs_recovery(fs->fs->super) ? 1 : 0; }

void tm_ext_geometry(tm_ext_fs *fs, uint32_t *block_size, uint64_t *blocks, uint32_t *inodes, const char **label_out) {
    *block_size = fs->fs->blocksize;
    *blocks = ext2fs_blocks_count(fs->fs->super);
    *inodes = fs->fs->super->s_inodes_count;
    *label_out = (const char *)fs->fs->super->s_volume_name;
}

long tm_ext_lookup(tm_ext_fs *fs, uint32_t directory, const char *name, int length, uint32_t *inode) {
    ext2_ino_t found = 0;
    errcode_t error = ext2fs_lookup(fs->fs, directory, name, length, NULL, &found);
    if (error) return error;
    *inode = found;
    return 0;
}

static int64_t seconds(uint32_t low, uint32_t extra, int has_extra) {
    int64_t value = (int64_t)(int32_t)low;
    if (has_extra) value += (int64_t)(extra & EXT4_EPOCH_MASK) << 32;
    return value;
}

long tm_ext_stat(tm_ext_fs *fs, uint32_t inode, tm_ext_inode *out) {
    struct ext2_inode_large large;
    memset(&large, 0, sizeof(large));
    errcode_t error = ext2fs_read_inode_full(fs->fs, inode, (struct ext2_inode *)&large, sizeof(large));
    if (error) return error;
    int inode_size = EXT2_INODE_SIZE(fs->fs->super);
    int extra = inode_size > EXT2_GOOD_OLD_INODE_SIZE ? large.i_extra_isize : 0;
    // An extra field is there when i_extra_isize reaches past it.
    int has_mtime = extra >= (int)(offsetof(struct ext2_inode_large, i_mtime_extra) + 4 - EXT2_GOOD_OLD_INODE_SIZE);
    int has_atime = extra >= (int)(offsetof(struct ext2_inode_large, i_atime_extra) + 4 - EXT2_GOOD_OLD_INODE_SIZE);
    int has_ctime = extra >= (int)(offsetof(struct ext2_inode_large, i_ctime_extra) + 4 - EXT2_GOOD_OLD_INODE_SIZE);
    out->mode = large.i_mode;
    out->links = large.i_links_count;
    out->uid = inode_uid(large);
    out->gid = inode_gid(large);
    out->size = EXT2_I_SIZE(&large);
    out->atime = seconds(large.i_atime, large.i_atime_extra, has_atime);
    out->mtime = seconds(large.i_mtime, large.i_mtime_extra, has_mtime);
    out->ctime = seconds(large.i_ctime, large.i_ctime_extra, has_ctime);
    out->atime_nsec = has_atime ? large.i_atime_extra >> EXT4_EPOCH_BITS : 0;
    out->mtime_nsec = has_mtime ? large.i_mtime_extra >> EXT4_EPOCH_BITS : 0;
    out->flags = large.i_flags;
    return 0;
}

struct list_context {
    tm_ext_entry_fn each;
    void *context;
};

static int list_entry(ext2_ino_t directory, int entry, struct ext2_dir_entry *dirent, int offset, int blocksize, char *buf,
                      void *private) {
    struct list_context *list = private;
    if (dirent->inode == 0) return 0;
    int length = ext2fs_dirent_name_len(dirent);
    if ((length == 1 && dirent->name[0] == '.') || (length == 2 && dirent->name[0] == '.' && dirent->name[1] == '.')) return 0;
    return list->each(list->context, dirent->name, length, dirent->inode) ? DIRENT_ABORT : 0;
}

long tm_ext_list(tm_ext_fs *fs, uint32_t directory, tm_ext_entry_fn each, void *context) {
    struct list_context list = {.each = each, .context = context};
    return ext2fs_dir_iterate2(fs->fs, directory, 0, NULL, list_entry, &list);
}

long tm_ext_readlink(tm_ext_fs *fs, uint32_t inode, char *buffer, size_t capacity, size_t *length) {
    struct ext2_inode_large large;
    memset(&large, 0, sizeof(large));
    errcode_t error = ext2fs_read_inode_full(fs->fs, inode, (struct ext2_inode *)&large, sizeof(large));
    if (error) return error;
    if (!LINUX_S_ISLNK(large.i_mode)) return EXT2_ET_INVALID_ARGUMENT;
    uint64_t size = EXT2_I_SIZE(&large);
    if (size > capacity) return EXT2_ET_INODE_CORRUPTED;
    if (ext2fs_is_fast_symlink((struct ext2_inode *)&large)) {
        memcpy(buffer, (char *)large.i_block, size);
        *length = size;
        return 0;
    }
    if (large.i_flags & EXT4_INLINE_DATA_FL) {
        size_t got = 0;
        char inline_buffer[EXT2_N_BLOCKS * 4 + 4096];
        error = ext2fs_inline_data_size(fs->fs, inode, &got);
        if (error) return error;
        if (got > sizeof(inline_buffer) || got < size) return EXT2_ET_INODE_CORRUPTED;
        error = ext2fs_inline_data_get(fs->fs, inode, (struct ext2_inode *)&large, inline_buffer, &got);
        if (error) return error;
        memcpy(buffer, inline_buffer, size);
        *length = size;
        return 0;
    }
    ext2_file_t file;
    error = ext2fs_file_open(fs->fs, inode, 0, &file);
    if (error) return error;
    unsigned int got = 0;
    error = ext2fs_file_read(file, buffer, (unsigned int)size, &got);
    ext2fs_file_close(file);
    if (error) return error;
    if (got != size) return EXT2_ET_SHORT_READ;
    *length = got;
    return 0;
}

long tm_ext_file_open(tm_ext_fs *fs, uint32_t inode, tm_ext_file **out) {
    struct tm_ext_file *handle = calloc(1, sizeof(struct tm_ext_file));
    if (handle == NULL) return EXT2_ET_NO_MEMORY;
    errcode_t error = ext2fs_file_open(fs->fs, inode, 0, &handle->file);
    if (error) {
        free(handle);
        return error;
    }
    *out = handle;
    return 0;
}

long tm_ext_file_read(tm_ext_file *file, void *buffer, uint32_t wanted, uint32_t *got) {
    unsigned int read = 0;
    errcode_t error = ext2fs_file_read(file->file, buffer, wanted, &read);
    *got = read;
    return error;
}

void tm_ext_file_close(tm_ext_file *file) {
    if (file == NULL) return;
    ext2fs_file_close(file->file);
    free(file);
}

long tm_ext_code_not_found(void) { return EXT2_ET_FILE_NOT_FOUND; }

long tm_ext_code_bad_magic(void) { return EXT2_ET_BAD_MAGIC; }

const char *tm_ext_message(long code) {
    pthread_once(&tables_once, add_tables);
    return error_message(code);
}
