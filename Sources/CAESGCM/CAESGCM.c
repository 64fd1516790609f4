#include "CAESGCM.h"

// BoringSSL's AEAD interface under the prefix swift-crypto gives its copy (CCryptoBoringSSL is
// not a product of swift-crypto, so its header cannot be imported; these are its declarations).
struct evp_aead_st;
struct evp_aead_ctx_st;
extern const struct evp_aead_st *CCryptoBoringSSL_EVP_aead_aes_256_gcm(void);
extern struct evp_aead_ctx_st *CCryptoBoringSSL_EVP_AEAD_CTX_new(const struct evp_aead_st *aead, const uint8_t *key,
                                                                size_t key_len, size_t tag_len);
extern void CCryptoBoringSSL_EVP_AEAD_CTX_free(struct evp_aead_ctx_st *ctx);
extern int CCryptoBoringSSL_EVP_AEAD_CTX_seal_scatter(const struct evp_aead_ctx_st *ctx, uint8_t *out, uint8_t *out_tag,
                                                      size_t *out_tag_len, size_t max_out_tag_len, const uint8_t *nonce,
                                                      size_t nonce_len, const uint8_t *in, size_t in_len,
                                                      const uint8_t *extra_in, size_t extra_in_len, const uint8_t *ad,
                                                      size_t ad_len);
extern int CCryptoBoringSSL_EVP_AEAD_CTX_open_gather(const struct evp_aead_ctx_st *ctx, uint8_t *out, const uint8_t *nonce,
                                                     size_t nonce_len, const uint8_t *in, size_t in_len,
                                                     const uint8_t *in_tag, size_t in_tag_len, const uint8_t *ad,
                                                     size_t ad_len);

enum { key_size = 32, nonce_size = 12, tag_size = 16 };

peerdist_aes_gcm *peerdist_aes_gcm_new(const uint8_t *key) {
    return (peerdist_aes_gcm *)CCryptoBoringSSL_EVP_AEAD_CTX_new(CCryptoBoringSSL_EVP_aead_aes_256_gcm(), key, key_size,
                                                                 tag_size);
}

void peerdist_aes_gcm_free(peerdist_aes_gcm *key) {
    CCryptoBoringSSL_EVP_AEAD_CTX_free((struct evp_aead_ctx_st *)key);
}

int peerdist_aes_gcm_seal(const peerdist_aes_gcm *key, uint8_t *output, uint8_t *tag, const uint8_t *nonce,
                          const uint8_t *input, size_t length, const uint8_t *associated_data, size_t associated_length) {
    size_t written = 0;
    int sealed = CCryptoBoringSSL_EVP_AEAD_CTX_seal_scatter((const struct evp_aead_ctx_st *)key, output, tag, &written,
                                                            tag_size, nonce, nonce_size, input, length, NULL, 0,
                                                            associated_data, associated_length);
    return sealed == 1 && written == tag_size;
}

int peerdist_aes_gcm_open(const peerdist_aes_gcm *key, uint8_t *output, const uint8_t *nonce, const uint8_t *input,
                          size_t length, const uint8_t *tag, const uint8_t *associated_data, size_t associated_length) {
    return CCryptoBoringSSL_EVP_AEAD_CTX_open_gather((const struct evp_aead_ctx_st *)key, output, nonce, nonce_size,
                                                     input, length, tag, tag_size, associated_data, associated_length);
}
