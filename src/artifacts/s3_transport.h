// HTTP/1.1 exchanges with an S3 endpoint over kept-alive connections, plain or TLS (private to
// artifacts/).
#ifndef RINGO_ARTIFACTS_S3_TRANSPORT_H_
#define RINGO_ARTIFACTS_S3_TRANSPORT_H_

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "artifacts/s3_sign.h"
#include "common/status.h"

namespace ringo::artifacts {

struct Endpoint {
  bool tls = false;
  std::string host;
  std::string port;
  std::string ca_bundle;  // extra PEM file trusted for TLS
};

// Parses "http[s]://host[:port]" (an optional trailing '/' allowed). kInvalidArgument otherwise.
Result<Endpoint> ParseEndpoint(const std::string& url);

// The Host header for `e`: host, with ":port" unless it is the scheme's default.
std::string HostHeader(const Endpoint& e);

struct Exchange {
  std::string method;
  std::string target;  // encoded path, with "?query" when there is one
  Pairs headers;       // besides Host and Content-Length, which the transport sets
  std::string_view body;  // not owned: it must outlive Send
  // When set, a 2xx answer's body is written to this file instead of Reply::body (created or
  // truncated; on failure it may hold part of the body).
  std::filesystem::path response_file;
};

struct Reply {
  int status = 0;
  Pairs headers;  // names lowercase
  std::string body;
  // The value of header `name` (lowercase), "" when absent.
  std::string Header(const std::string& name) const;
};

// Sends exchanges to one endpoint, reusing idle connections. A request that fails on a reused
// connection is retried once on a new one (S3's operations used here are idempotent).
// Thread-safe. kUnavailable when the endpoint cannot be reached or the connection breaks;
// kInvalidArgument when TLS is asked with a bad CA bundle.
class Transport {
 public:
  static Result<std::unique_ptr<Transport>> Create(const Endpoint& endpoint);
  ~Transport();

  Result<Reply> Send(const Exchange& exchange);
  // "host:port" as sent in the Host header (port left out when it is the scheme's default).
  const std::string& host_header() const { return host_header_; }
  // Whether the bytes travel under TLS, which protects them on the way.
  bool encrypted() const { return endpoint_.tls; }

 private:
  struct Conn;
  struct Tls;
  explicit Transport(Endpoint endpoint);
  Result<std::unique_ptr<Conn>> Connect();
  Result<Reply> SendOn(Conn& conn, const Exchange& exchange);

  Endpoint endpoint_;
  std::string host_header_;
  std::unique_ptr<Tls> tls_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_;
};

}  // namespace ringo::artifacts

#endif  // RINGO_ARTIFACTS_S3_TRANSPORT_H_
