// TLS for the default POSIX transport (private to ringo_device_posix): a client session over a
// connected socket, verified against the system's CAs and the app's extra ones.
#ifndef RINGO_DEVICE_TRANSPORT_TLS_H_
#define RINGO_DEVICE_TRANSPORT_TLS_H_

#include <openssl/types.h>
#include <sys/types.h>

#include <cstddef>
#include <string>

#include "device/ringo_device.h"

namespace ringo::device {

// One TLS client session on a socket the caller owns (and closes after the session is gone).
// Not thread-safe; one per connection.
class TlsSession {
 public:
  TlsSession() = default;
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Handshakes on `fd` with `host` (a name or an IP literal): SNI for names, the certificate
  // must name the host and chain to a system CA or one of `options` (may be NULL). False with
  // *error set ("TLS handshake with HOST failed: certificate verify failed: ...") otherwise.
  bool Connect(int fd, const std::string& host, const ringo_transport_posix_options* options,
               std::string* error);
  // Like recv(2)/send(2): bytes moved, 0 at the peer's close_notify, -1 on failure.
  ssize_t Read(char* data, size_t len);
  ssize_t Write(const char* data, size_t len);

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

}  // namespace ringo::device

#endif  // RINGO_DEVICE_TRANSPORT_TLS_H_
