// OpenSSL client setup shared by the outbound connections of the server and the CLI.
#include "common/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <strings.h>

namespace ringo {

namespace {

std::string FirstOpenSslError() {
  unsigned long e = ERR_peek_error();
  if (e == 0) return "";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  const char* reason = ERR_reason_error_string(e);
  ERR_clear_error();
  return reason ? reason : buf;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

Status ConfigureTlsClient(SSL_CTX* ctx, const TlsClientOptions& options) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (!options.verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return Status::Ok();
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // A system without a CA store still works with ca_file, so this failing is not an error.
  if (SSL_CTX_set_default_verify_paths(ctx) != 1) ERR_clear_error();
  if (!options.ca_file.empty() &&
      SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
    std::string why = FirstOpenSslError();
    return InvalidArgument("cannot read CA certificates from '" + options.ca_file +
                           "': " + (why.empty() ? "no certificate in it" : why));
  }
  return Status::Ok();
}

Status PrepareTlsConnection(SSL* ssl, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (IsIpLiteral(host)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      return Internal("cannot set the address to verify for " + host);
    }
    return Status::Ok();
  }
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    return Internal("cannot set the TLS server name " + host);
  }
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (SSL_set1_host(ssl, host.c_str()) != 1) {
    return Internal("cannot set the host name to verify: " + host);
  }
  return Status::Ok();
}

std::string TlsFailureReason(SSL* ssl, const std::string& fallback) {
  long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (verify != X509_V_OK) {
    ERR_clear_error();
    return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
  }
  std::string why = FirstOpenSslError();
  return why.empty() ? fallback : why;
}

bool EnvFlagTrue(const char* value) {
  if (!value) return false;
  return strcasecmp(value, "true") == 0 || std::string(value) == "1";
}

}  // namespace ringo
