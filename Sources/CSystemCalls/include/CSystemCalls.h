// Linux system calls that Swift's Glibc module does not declare (they need _GNU_SOURCE).
#ifndef PEERDIST_CSYSTEMCALLS_H
#define PEERDIST_CSYSTEMCALLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// copy_file_range(2): copies `length` bytes between two files inside the kernel, advancing both
/// offsets. Returns the bytes copied, 0 at the end of the input, or -1 with errno set.
ssize_t peerdist_copy_file_range(int input, int64_t *input_offset, int output, int64_t *output_offset, size_t length);

#endif
