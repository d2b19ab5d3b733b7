// Client of ringo's (MLflow-compatible) HTTP API, used by the CLI.
#ifndef RINGO_CLIENT_CLIENT_H_
#define RINGO_CLIENT_CLIENT_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/tls.h"

namespace ringo::client {

using Json = nlohmann::json;
using Query = std::vector<std::pair<std::string, std::string>>;

// A tracking URI taken apart: http[s]://host[:port][/prefix], IPv6 literals in brackets.
struct TrackingUri {
  bool tls = false;
  std::string host{};    // without brackets
  std::string port{};    // "80" or "443" unless given
  std::string prefix{};  // "" or "/path", no trailing '/'
};

// kInvalidArgument naming the URI for another scheme, no host or a bad port.
Result<TrackingUri> ParseTrackingUri(const std::string& uri);

// How https connections are verified, as MLflow's clients read it from the environment:
// MLFLOW_TRACKING_SERVER_CERT_PATH (a PEM CA bundle trusted besides the system's) and
// MLFLOW_TRACKING_INSECURE_TLS=true (no verification). kInvalidArgument when both are set, as
// MLflow refuses that too.
Result<TlsClientOptions> TlsOptionsFromEnvironment();

// A blocking client over one keep-alive connection (reconnecting when the server closed it).
// Not thread-safe: use one per thread. Server errors come back as a Status whose code follows
// the MLflow error_code (RESOURCE_DOES_NOT_EXIST -> kNotFound, RESOURCE_ALREADY_EXISTS ->
// kAlreadyExists, other 4xx -> kInvalidArgument, 5xx and transport failures -> kUnavailable
// or kInternal) and whose message is the server's.
class Client {
 public:
  // `tracking_uri` is http[s]://host[:port][/prefix]. kInvalidArgument for other schemes (and
  // for TLS settings TlsOptionsFromEnvironment refuses, or a CA file that cannot be read). With
  // send_token false the tracking token is kept from the server (one that is not ringo's).
  // https verifies the server's certificate and name against the system's CAs and
  // MLFLOW_TRACKING_SERVER_CERT_PATH's; a refused one fails each call with kUnavailable
  // "TLS handshake with HOST:PORT failed: certificate verify failed: <OpenSSL's reason>".
  static Result<std::unique_ptr<Client>> Connect(const std::string& tracking_uri,
                                                 bool send_token = true);
  ~Client();

  Result<Json> Get(const std::string& path, const Query& query);
  Result<Json> Post(const std::string& path, const Json& body);
  Result<Json> Patch(const std::string& path, const Json& body);
  Result<Json> Put(const std::string& path, const Json& body);
  // DELETE `path` (with an empty JSON body).
  Status Delete(const std::string& path);
  // DELETE `path` with a JSON body (MLflow's delete calls name what they delete in it).
  Result<Json> Delete(const std::string& path, const Json& body);
  // PUT a local file's bytes to `path` (the artifact proxy).
  Status PutFile(const std::string& path, const std::filesystem::path& file);

  // --- MLflow operations used by the CLI ---
  Result<Json> GetRun(const std::string& run_id);
  Result<std::string> CreateExperiment(const std::string& name);
  Status LogParam(const std::string& run_id, const std::string& key, const std::string& value);
  Status LogMetric(const std::string& run_id, const std::string& key, double value,
                   int64_t timestamp, int64_t step);
  // Uploads a file or (recursively) a directory under the run's artifact root at
  // `artifact_path` ("" = root).
  Status LogArtifact(const std::string& run_id, const std::filesystem::path& local,
                     const std::string& artifact_path);
  // Downloads the run's artifact directory `artifact_path` (recursively) into `local_dir`.
  // kNotFound when it holds nothing.
  Status DownloadArtifacts(const std::string& run_id, const std::string& artifact_path,
                           const std::filesystem::path& local_dir);
  // GETs `path` and writes the body to `file` (atomically).
  Status GetToFile(const std::string& path, const std::filesystem::path& file);

  // Registers `source` as a new version of registered model `name` (created when missing) and
  // returns the model-versions/create answer. A local file or directory is first uploaded to
  // `run_id`'s artifacts under model/ (a new finished run in the Default experiment when
  // `run_id` is empty); runs:/ and mlflow-artifacts: URIs are registered as they are.
  // kNotFound when a local path does not exist.
  Result<Json> RegisterModel(const std::string& source, const std::string& name,
                             const std::string& run_id);

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  // A JSON request with method `verb` (a boost::beast::http::verb).
  Result<Json> Send(int verb, const std::string& path, const Json& body);
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes a query component or path segment (keeps unreserved characters; keeps '/'
// when keep_slash).
std::string UrlEncode(std::string_view s, bool keep_slash);

}  // namespace ringo::client

#endif  // RINGO_CLIENT_CLIENT_H_
