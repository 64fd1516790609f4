#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <stdio.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "CSystemCalls.h"

ssize_t peerdist_copy_file_range(int input, int64_t *input_offset, int output, int64_t *output_offset, size_t length) {
    off_t in = (off_t)*input_offset;
    off_t out = (off_t)*output_offset;
    ssize_t copied = copy_file_range(input, &in, output, &out, length, 0);
    *input_offset = (int64_t)in;
    *output_offset = (int64_t)out;
    return copied;
}

int peerdist_open_beneath(int directory, const char *path, int flags, unsigned int mode) {
#ifdef SYS_openat2
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)flags;
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, directory, path, &how, sizeof how);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int peerdist_syncfs(int descriptor) {
    return syncfs(descriptor);
}

int64_t peerdist_file_system_type(int descriptor) {
    struct statfs system;
    return fstatfs(descriptor, &system) == 0 ? (int64_t)system.f_type : -1;
}

int64_t peerdist_file_system_type_at(const char *path) {
    struct statfs system;
    return statfs(path, &system) == 0 ? (int64_t)system.f_type : -1;
}

int peerdist_rename_if_absent(int old_directory, const char *old_name, int new_directory, const char *new_name) {
    return renameat2(old_directory, old_name, new_directory, new_name, RENAME_NOREPLACE);
}
