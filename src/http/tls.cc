// The server's TLS context: loading the certificate and key, and the protocol settings.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "http/server_impl.h"

namespace ringo::http {

namespace {

// OpenSSL's reason for the first queued failure, or `fallback`; clears the thread's error queue.
std::string OpenSslReason(const std::string& fallback) {
  unsigned long e = ERR_peek_error();
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return reason ? reason : fallback;
}

}  // namespace

Result<std::shared_ptr<asio::ssl::context>> MakeServerTlsContext(const std::string& cert_file,
                                                                 const std::string& key_file) {
  if (cert_file.empty() || key_file.empty()) {
    return InvalidArgument("TLS needs both a certificate and a private key file");
  }
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Clients speak HTTP/1.1 only; no client certificates are asked for.
  SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(native, cert_file.c_str()) != 1) {
    return InvalidArgument("cannot load the TLS certificate '" + cert_file +
                           "': " + OpenSslReason("not a PEM certificate"));
  }
  if (SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return InvalidArgument("cannot load the TLS private key '" + key_file +
                           "': " + OpenSslReason("not a PEM private key"));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return InvalidArgument("the TLS private key '" + key_file +
                           "' does not match the certificate '" + cert_file +
                           "': " + OpenSslReason("mismatch"));
  }
  return ctx;
}

Status ServerImpl::ReloadTls() {
  if (!tls_enabled_) return FailedPrecondition("the server does not serve TLS");
  ASSIGN_OR_RETURN(auto ctx, MakeServerTlsContext(options_.tls_cert_file, options_.tls_key_file));
  std::lock_guard lock(tls_mu_);
  tls_context_ = std::move(ctx);
  return Status::Ok();
}

}  // namespace ringo::http
