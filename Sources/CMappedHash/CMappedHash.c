// SHA-256 of blocks of a file mapping, surviving the file's truncation (SIGBUS) meanwhile.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "CMappedHash.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

/// The jump out of the hashing this thread is doing, while it reads a mapping; NULL otherwise.
static _Thread_local sigjmp_buf *armed_jump;
static struct sigaction previous_action;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void on_bus_error(int signal_number, siginfo_t *info, void *context) {
    sigjmp_buf *jump = armed_jump;
    if (jump != NULL) {
        armed_jump = NULL;
        siglongjmp(*jump, 1);
    }
    // Not a fault of ours: put back whoever had the signal before and return, so the faulting
    // instruction runs again and faults into their handler (or the default action).
    (void)signal_number;
    (void)info;
    (void)context;
    sigaction(SIGBUS, &previous_action, NULL);
}

static void install_handler(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_bus_error;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, &previous_action);
}

int peerdist_sha256_blocks_of_mapping(const void *mapping, size_t length, size_t block_size, uint8_t *digests) {
    if (block_size == 0) return -1;
    pthread_once(&install_once, install_handler);
    sigjmp_buf jump;
    // 1: the signal mask is restored on the way out, so SIGBUS is not left blocked.
    if (sigsetjmp(jump, 1) != 0) return -1;
    armed_jump = &jump;
    const unsigned char *bytes = mapping;
    for (size_t offset = 0, index = 0; offset < length; offset += block_size, index += 1) {
        size_t count = length - offset < block_size ? length - offset : block_size;
        SHA256(bytes + offset, count, digests + index * SHA256_DIGEST_LENGTH);
    }
    armed_jump = NULL;
    return 0;
}
