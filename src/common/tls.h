// TLS for ringo's outbound connections (the API client, webhooks): one way to set up an OpenSSL
// client context and connection, and to say why a handshake failed.
#ifndef RINGO_COMMON_TLS_H_
#define RINGO_COMMON_TLS_H_

#include <openssl/types.h>

#include <string>

#include "common/status.h"

namespace ringo {

// What a client trusts. The system's CAs (OpenSSL's default verify paths) always, plus the
// certificates in `ca_file` (PEM) when set; `verify` false skips verification altogether
// (MLflow's MLFLOW_TRACKING_INSECURE_TLS).
struct TlsClientOptions {
  std::string ca_file{};
  bool verify = true;
};

// Sets up `ctx` for client connections: TLS 1.2 at least, no compression or renegotiation,
// peer verification as `options` say. kInvalidArgument naming the file when `ca_file` cannot be
// read or holds no certificate.
[[nodiscard]] Status ConfigureTlsClient(SSL_CTX* ctx, const TlsClientOptions& options);

// Prepares one connection to `host` (a name or an IP literal, without brackets): sends the name
// by SNI (not for IP literals, as RFC 6066 asks) and makes verification check that the
// certificate names this host or address. kInternal when OpenSSL refuses.
[[nodiscard]] Status PrepareTlsConnection(SSL* ssl, const std::string& host);

// Why the handshake on `ssl` failed, in OpenSSL's words: "certificate verify failed: <reason>"
// when the peer's certificate was refused, else the first queued OpenSSL error, else `fallback`.
// Clears OpenSSL's error queue of this thread.
std::string TlsFailureReason(SSL* ssl, const std::string& fallback);

// MLflow's spelling of a true environment value ("true", any case; also "1"): for
// MLFLOW_TRACKING_INSECURE_TLS.
bool EnvFlagTrue(const char* value);

}  // namespace ringo

#endif  // RINGO_COMMON_TLS_H_
