// AES-256-GCM between caller-owned buffers, in place when they are the same, through the
// BoringSSL that swift-crypto links into every PeerDist binary.
//
// swift-crypto's Swift API returns a new Data for every seal and open, and builds a combined
// box on the way: two copies of every block on the sender and three on the receiver. BoringSSL's
// AES-GCM (VAES/AVX-512 where the CPU has it) measured about three times OpenSSL 3.0's here, so
// these wrappers call it directly rather than the system libcrypto.
#ifndef PEERDIST_CAESGCM_H
#define PEERDIST_CAESGCM_H

#include <stddef.h>
#include <stdint.h>

/// An expanded AES-256-GCM key with a 16-byte tag; safe to use from several threads at once.
typedef struct peerdist_aes_gcm peerdist_aes_gcm;

/// A key from 32 bytes; NULL when out of memory.
peerdist_aes_gcm *peerdist_aes_gcm_new(const uint8_t *key);
void peerdist_aes_gcm_free(peerdist_aes_gcm *key);

/// Encrypts `length` bytes of `input` into `output` (equal to `input`, or not overlapping it)
/// and writes the 16-byte tag to `tag`, with a 12-byte nonce. Returns 1, or 0 on failure.
int peerdist_aes_gcm_seal(const peerdist_aes_gcm *key, uint8_t *output, uint8_t *tag, const uint8_t *nonce,
                          const uint8_t *input, size_t length, const uint8_t *associated_data, size_t associated_length);

/// Checks the 16-byte `tag` and decrypts `length` bytes of `input` into `output` (equal to
/// `input`, or not overlapping it). Returns 1, or 0 when the bytes, tag, nonce or associated
/// data are not the ones sealed (then `output` holds zeros).
int peerdist_aes_gcm_open(const peerdist_aes_gcm *key, uint8_t *output, const uint8_t *nonce, const uint8_t *input,
                          size_t length, const uint8_t *tag, const uint8_t *associated_data, size_t associated_length);

#endif
