// The POSIX transport's TLS on OpenSSL 3: context, verification, reads and writes.
#include "device/transport_tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace ringo::device {

namespace {

std::string OpenSslReason(const char* fallback) {
  unsigned long e = ERR_peek_error();
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return reason ? reason : fallback;
}

// Adds every certificate of a PEM text to the context's trust store; false when there is none.
bool AddPem(SSL_CTX* ctx, const char* pem) {
  BIO* bio = BIO_new_mem_buf(pem, -1);
  if (!bio) return false;
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    if (X509_STORE_add_cert(store, cert) == 1) ++added;
    X509_free(cert);
  }
  BIO_free(bio);
  ERR_clear_error();  // the read past the last certificate
  return added > 0;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// OpenSSL writes to the socket with write(2), which raises SIGPIPE when the peer has gone; an app
// must not die of a dropped connection. SIGPIPE is blocked on this thread while OpenSSL may
// write, and one raised meanwhile is taken back before it is unblocked.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      timespec now{0, 0};
      sigtimedwait(&pipe_, nullptr, &now);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
  bool was_pending_ = false;
};

}  // namespace

TlsSession::~TlsSession() {
  SSL_free(ssl_);
  SSL_CTX_free(ctx_);
}

bool TlsSession::Connect(int fd, const std::string& host,
                         const ringo_transport_posix_options* options, std::string* error) {
  auto fail = [&](const std::string& why) {
    *error = "TLS with " + host + ": " + why;
    return false;
  };
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_) return fail(OpenSslReason("cannot create a TLS context"));
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx_, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_set_default_verify_paths(ctx_) != 1) ERR_clear_error();
  if (options && options->ca_file && *options->ca_file &&
      SSL_CTX_load_verify_locations(ctx_, options->ca_file, nullptr) != 1) {
    return fail(std::string("cannot read CA file ") + options->ca_file + ": " +
                OpenSslReason("no certificate in it"));
  }
  if (options && options->ca_pem && *options->ca_pem && !AddPem(ctx_, options->ca_pem)) {
    return fail("ca_pem holds no certificate");
  }
  ssl_ = SSL_new(ctx_);
  if (!ssl_ || SSL_set_fd(ssl_, fd) != 1) return fail(OpenSslReason("cannot create a session"));
  bool named = true;
  if (IsIpLiteral(host)) {
    named = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str()) == 1;
  } else {
    named = SSL_set_tlsext_host_name(ssl_, host.c_str()) == 1 && SSL_set1_host(ssl_, host.c_str());
  }
  if (!named) return fail(OpenSslReason("cannot set the name to verify"));
  SigpipeGuard guard;
  if (SSL_connect(ssl_) != 1) {
    long verify = SSL_get_verify_result(ssl_);
    std::string why = verify != X509_V_OK ? std::string("certificate verify failed: ") +
                                                X509_verify_cert_error_string(verify)
                                          : OpenSslReason("the handshake failed");
    ERR_clear_error();
    *error = "TLS handshake with " + host + " failed: " + why;
    return false;
  }
  return true;
}

ssize_t TlsSession::Read(char* data, size_t len) {
  SigpipeGuard guard;  // a read may write (TLS 1.3 post-handshake messages)
  size_t got = 0;
  if (SSL_read_ex(ssl_, data, len, &got) == 1) return static_cast<ssize_t>(got);
  int e = SSL_get_error(ssl_, 0);
  ERR_clear_error();
  return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

ssize_t TlsSession::Write(const char* data, size_t len) {
  SigpipeGuard guard;
  size_t done = 0;
  if (SSL_write_ex(ssl_, data, len, &done) == 1) return static_cast<ssize_t>(done);
  ERR_clear_error();
  return -1;
}

}  // namespace ringo::device
