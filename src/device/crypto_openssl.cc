// The default crypto backend on OpenSSL 3; Apple builds pass a CryptoKit table instead.
#include <openssl/evp.h>

#include "device/ringo_device.h"

namespace {

int VerifyEd25519(void*, const uint8_t public_key[32], const void* msg, size_t len,
                  const uint8_t sig[64]) {
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key, 32);
  if (!key) return 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  // Ed25519 is one-shot (no digest): EVP_DigestVerify over the whole message.
  int ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
           EVP_DigestVerify(ctx, sig, 64, static_cast<const unsigned char*>(msg), len) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok ? 1 : 0;
}

void* Sha256Begin(void*) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

void Sha256Update(void*, void* state, const void* data, size_t len) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(state), data, len);
}

int Sha256End(void*, void* state, uint8_t out[32]) {
  auto* ctx = static_cast<EVP_MD_CTX*>(state);
  unsigned int n = 0;
  int ok = EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == 32;
  EVP_MD_CTX_free(ctx);
  return ok ? 0 : 1;
}

const ringo_crypto kOpenSsl = {VerifyEd25519, Sha256Begin, Sha256Update, Sha256End};

}  // namespace

extern "C" const ringo_crypto* ringo_crypto_openssl(void) { return &kOpenSsl; }
