#define _GNU_SOURCE
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
