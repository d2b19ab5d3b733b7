// `ringo server`: the tracking server on the embedded store.
#ifndef RINGO_CLI_SERVER_COMMAND_H_
#define RINGO_CLI_SERVER_COMMAND_H_

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "api/api.h"
#include "artifacts/artifacts.h"
#include "common/status.h"
#include "deploy/deploy.h"
#include "http/http.h"
#include "release/release.h"
#include "schedule/schedule.h"
#include "store/store.h"

namespace ringo::cli {

struct ServerFlags {
  std::string host = "127.0.0.1";
  int port = 5000;
  std::string store_dir = "ringo-data";
  std::string backend_store_uri;      // MLflow's spelling: sqlite:///PATH
  std::string artifacts_destination;  // MLflow's spelling: a directory or s3://bucket/prefix
  std::string s3_endpoint_url;        // MLflow's MLFLOW_S3_ENDPOINT_URL as a flag
  int backend_wait = 30;              // seconds to keep trying an unreachable PostgreSQL at start
  int64_t s3_cache_gb = 10;           // the bound of the local copies of S3 objects
  std::string default_permission = "READ";  // users' permission where they hold none
  std::string device_rate_limit = "20:100";  // per device id, requests/s[:burst]; "0": none
  std::string token_rate_limit = "0";         // per token on the device API; "0": none
  int64_t manifest_lifetime = 7 * 24 * 3600;  // seconds a signed manifest stays valid
  int64_t blob_redirect = 0;          // seconds a device's presigned blob URL lives; 0: no redirect
  std::string blob_redirect_endpoint;  // the object store's address as devices reach it
  // MLflow's --default-artifact-root: where new experiments' artifacts go. Empty: through the
  // proxy (mlflow-artifacts:), or ./mlruns without it.
  std::string default_artifact_root{};
  bool serve_artifacts = true;  // MLflow's --serve-artifacts / --no-serve-artifacts
  int threads = 0;                    // 0: one per usable CPU (affinity, quota), at most 4
  bool sync_full = false;
  // Address ranges webhooks may reach beyond public addresses (webhooks::DestinationPolicy).
  std::vector<std::string> webhook_allow{};
  // Extra CA certificates (PEM) https webhooks are verified against, besides the system's.
  std::string webhook_ca_cert{};
  // HTTPS: the PEM certificate chain and private key; both or neither. Reread on SIGHUP.
  std::string tls_cert{};
  std::string tls_key{};
  bool schedules = true;  // run the scheduler (off for the embedded server of `ringo run`)
};

// The tracking server on a store: store, artifact repository, API and HTTP server, started
// together and stopped together (HTTP first, then the store commits what is queued).
class TrackingService {
 public:
  // kInvalidArgument for bad flags; kUnavailable when the address cannot be bound.
  static Result<std::unique_ptr<TrackingService>> Start(const ServerFlags& flags);
  ~TrackingService();
  void Stop();
  const std::string& url() const { return url_; }
  // The I/O threads the server runs.
  int threads() const { return threads_; }
  // The SQLite database file; empty on PostgreSQL.
  const std::filesystem::path& db_path() const { return db_path_; }
  // Where the metadata lives, for logs (a PostgreSQL URI without its password).
  const std::string& store_description() const { return store_description_; }
  // Where artifacts live, for messages: a directory or s3://bucket/prefix.
  std::string artifacts_description() const { return repo_->Describe(); }
  std::unique_ptr<http::Server>& server() { return server_; }
  std::unique_ptr<store::Store>& store() { return store_; }

 private:
  TrackingService() = default;
  static Status OpenSqlite(const ServerFlags& flags, const std::string& experiment_root,
                           TrackingService* svc, std::filesystem::path* base);
  std::filesystem::path db_path_, artifact_root_;
  std::string store_description_{};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<artifacts::Repository> repo_;
  std::unique_ptr<deploy::Service> deploy_;
  std::unique_ptr<api::Api> api_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<schedule::Scheduler> scheduler_;
  std::unique_ptr<release::ReleaseManager> releases_;
  std::string url_;
  int threads_ = 0;
};

// Serves until SIGINT/SIGTERM, then stops accepting, commits queued writes and returns. With TLS,
// SIGHUP rereads the certificate and key (a bad pair is logged and the old one kept).
Status RunServer(const ServerFlags& flags);

}  // namespace ringo::cli

#endif  // RINGO_CLI_SERVER_COMMAND_H_
