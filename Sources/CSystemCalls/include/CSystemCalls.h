// Linux system calls that Swift's Glibc module does not declare (they need _GNU_SOURCE, or
// glibc has no wrapper for them yet).
#ifndef PEERDIST_CSYSTEMCALLS_H
#define PEERDIST_CSYSTEMCALLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// copy_file_range(2): copies `length` bytes between two files inside the kernel, advancing both
/// offsets. Returns the bytes copied, 0 at the end of the input, or -1 with errno set.
ssize_t peerdist_copy_file_range(int input, int64_t *input_offset, int output, int64_t *output_offset, size_t length);

/// openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS: opens the
/// relative `path` below `directory` in one call, failing (ELOOP, EXDEV) rather than following a
/// symbolic link or leaving the directory. -1 with errno ENOSYS where the kernel predates it.
int peerdist_open_beneath(int directory, const char *path, int flags, unsigned int mode);

/// syncfs(2): flushes every file system buffer of the file system holding `descriptor`.
int peerdist_syncfs(int descriptor);

/// fstatfs(2)'s f_type (the file system's magic number) for `descriptor`, or -1 with errno set.
int64_t peerdist_file_system_type(int descriptor);

/// statfs(2)'s f_type for `path`, or -1 with errno set.
int64_t peerdist_file_system_type_at(const char *path);

/// renameat2(2) with RENAME_NOREPLACE: renames only when nothing is at the new name (else -1 with
/// errno EEXIST), in one call. -1 with errno EINVAL or ENOSYS where the file system or the kernel
/// cannot.
int peerdist_rename_if_absent(int old_directory, const char *old_name, int new_directory, const char *new_name);

#endif
