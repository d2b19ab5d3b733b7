// `ringo server`: opens the store, serves the API, shuts down cleanly on a signal.
#include "cli/server_command.h"

#include <fcntl.h>
#include <malloc.h>
#include <spawn.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include "cli/command.h"
#include "common/util.h"
#include "api/api.h"
#include "artifacts/artifacts.h"
#include "http/http.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "webhooks/webhooks.h"

namespace ringo::cli {

namespace fs = std::filesystem;

namespace {

bool IsS3(const ServerFlags& flags) { return flags.artifacts_destination.rfind("s3://", 0) == 0; }

// True when `inner` is `outer` or lies beneath it (both made absolute and normalised, following
// the symlinks that exist).
bool Within(const fs::path& inner, const fs::path& outer) {
  std::error_code ec;
  fs::path a = fs::weakly_canonical(fs::absolute(inner, ec), ec);
  fs::path b = fs::weakly_canonical(fs::absolute(outer, ec), ec);
  auto [end, unused] = std::mismatch(b.begin(), b.end(), a.begin(), a.end());
  return end == b.end();
}

// Everything under the artifact root is served by the artifact proxy, so the database and the
// signing key must never be under it.
Status CheckArtifactRootHoldsNoSecrets(const fs::path& artifact_root, const fs::path& db_path,
                                       const fs::path& deploy_dir) {
  for (const fs::path& secret : {db_path, deploy_dir}) {
    if (!secret.empty() && Within(secret, artifact_root)) {
      return InvalidArgument("--artifacts-destination '" + artifact_root.string() +
                             "' would serve the store's private files ('" + secret.string() +
                             "'): choose a directory that holds neither the database nor the "
                             "deploy directory, e.g. '" +
                             (db_path.parent_path() / "artifacts").string() + "'");
    }
  }
  return Status::Ok();
}

// What new experiments' artifact locations start with, from MLflow's --default-artifact-root and
// --serve-artifacts as MLflow reads them: none given means the proxy (mlflow-artifacts:), or
// ./mlruns when the proxy is off; a local path or file: URI becomes file://<absolute path>, which
// clients write to directly; other schemes (s3://...) are kept for the clients as given.
Result<std::string> ExperimentArtifactRoot(const ServerFlags& flags) {
  std::string root = flags.default_artifact_root;
  if (root.empty()) {
    if (flags.serve_artifacts) return std::string("mlflow-artifacts:");
    root = "mlruns";
  }
  if (root.rfind("mlflow-artifacts:", 0) == 0) {
    if (!flags.serve_artifacts) {
      return InvalidArgument("--default-artifact-root '" + root +
                             "' is served by the artifact proxy, which --no-serve-artifacts "
                             "turns off");
    }
    while (root.size() > 17 && root.back() == '/') root.pop_back();
    return root;
  }
  std::string path;
  if (root.rfind("file:", 0) == 0) {
    path = root.substr(5);
    if (path.rfind("//", 0) == 0) {
      if (path.rfind("///", 0) != 0) {
        return InvalidArgument("--default-artifact-root '" + root +
                               "' names a remote host; a file: root must be local");
      }
      path = path.substr(2);
    }
  } else if (root.find("://") != std::string::npos) {
    while (root.back() == '/') root.pop_back();
    return root;
  } else {
    path = root;
  }
  std::optional<std::string> decoded = PercentDecode(path, false);
  if (!decoded) return InvalidArgument("--default-artifact-root '" + root + "' is not a valid URI");
  std::error_code ec;
  std::string dir = fs::absolute(fs::path(*decoded), ec).lexically_normal().string();
  if (ec) return InvalidArgument("--default-artifact-root '" + root + "': " + ec.message());
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return "file://" + dir;
}

// `uri` with the password of its user info (postgresql://user:PASSWORD@host) starred out, for
// logs.
std::string RedactPassword(const std::string& uri) {
  size_t scheme = uri.find("://");
  if (scheme == std::string::npos) return uri;
  size_t at = uri.find('@', scheme + 3);
  size_t colon = uri.find(':', scheme + 3);
  if (at == std::string::npos || colon == std::string::npos || colon > at) return uri;
  return uri.substr(0, colon + 1) + "***" + uri.substr(at);
}

}  // namespace

namespace {

// Starts `ringo run` for a schedule's firing as a child process in its own process group, its
// output in DIR/<schedule>/<firing>.log.
schedule::Launcher ScheduleLauncher(std::shared_ptr<const std::string> tracking_uri,
                                   fs::path dir) {
  return [tracking_uri, dir](const schedule::Schedule& s,
                             const schedule::Firing& f) -> Result<int64_t> {
    std::vector<std::string> args = {"ringo", "run", s.project, "-e", s.entry_point,
                                     "--tracking-uri", *tracking_uri,
                                     "--tag", "ringo.schedule=" + s.name,
                                     "--tag", "ringo.schedule.firing=" + f.id,
                                     "--tag", "ringo.schedule.reason=" + f.reason};
    if (!s.experiment.empty()) {
      args.push_back("--experiment-name");
      args.push_back(s.experiment);
    }
    for (const auto& [k, v] : s.parameters) {
      args.push_back("-P");
      args.push_back(k + "=" + v);
    }
    std::error_code ec;
    fs::create_directories(dir / s.name, ec);
    fs::path log = dir / s.name / (f.id + ".log");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, "/proc/self/exe", &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return Internal("cannot start ringo run: " + std::string(std::strerror(rc)));
    return int64_t{pid};
  };
}

}  // namespace

// Opens the SQLite store that --store or a sqlite:/// --backend-store-uri names; *base becomes
// the directory beside the database that holds artifacts and deploy state.
Status TrackingService::OpenSqlite(const ServerFlags& flags, const std::string& experiment_root,
                                   TrackingService* svc, fs::path* base_out) {
  fs::path& base = *base_out;
  if (!flags.backend_store_uri.empty()) {
    const std::string scheme = "sqlite:///";
    if (flags.backend_store_uri.rfind(scheme, 0) != 0) {
      return InvalidArgument("unsupported --backend-store-uri '" + flags.backend_store_uri +
                             "': expected sqlite:///PATH or postgresql://...");
    }
    svc->db_path_ = flags.backend_store_uri.substr(scheme.size());
    if (svc->db_path_.empty()) return InvalidArgument("--backend-store-uri names no database file");
    base = svc->db_path_.parent_path().empty() ? fs::path(".") : svc->db_path_.parent_path();
    svc->artifact_root_ = base / "artifacts";
  } else {
    svc->db_path_ = base / "ringo.db";
    svc->artifact_root_ = base / "artifacts";
  }
  if (!flags.artifacts_destination.empty()) svc->artifact_root_ = flags.artifacts_destination;
  if (!IsS3(flags)) {
    RETURN_IF_ERROR(
        CheckArtifactRootHoldsNoSecrets(svc->artifact_root_, svc->db_path_, base / "deploy"));
  }
  const fs::path& db_path = svc->db_path_;
  std::error_code ec;
  fs::create_directories(db_path.parent_path().empty() ? fs::path(".") : db_path.parent_path(), ec);
  if (ec) {
    return Internal("cannot create '" + db_path.parent_path().string() + "': " + ec.message());
  }
  store::SqliteOptions options;
  options.path = db_path.string();
  options.synchronous_full = flags.sync_full;
  options.artifact_root = experiment_root;
  ASSIGN_OR_RETURN(svc->store_, store::OpenSqliteStore(options));
  svc->store_description_ = db_path.string();
  return Status::Ok();
}

namespace {

// A replica may start before its database does: a PostgreSQL that cannot be reached is tried
// again every second for `wait_seconds`, said once on stderr. Other failures end the start.
Result<std::unique_ptr<store::Store>> OpenPostgresWaiting(const store::PostgresOptions& options,
                                                          int wait_seconds,
                                                          const std::string& shown) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  for (bool said = false;; said = true) {
    auto opened = store::OpenPostgresStore(options);
    if (opened.ok() || opened.status().code() != Code::kUnavailable ||
        std::chrono::steady_clock::now() >= deadline) {
      return opened;
    }
    if (!said) {
      std::cerr << "ringo: waiting up to " << wait_seconds << " s for PostgreSQL at " << shown
                << ": " << opened.status().message() << std::endl;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace

Result<std::unique_ptr<TrackingService>> TrackingService::Start(const ServerFlags& given) {
  if (given.port < 0 || given.port > 65535) {
    return InvalidArgument("invalid port " + std::to_string(given.port));
  }
  if (given.tls_cert.empty() != given.tls_key.empty()) {
    return InvalidArgument("--tls-cert and --tls-key go together: give both to serve https, or "
                           "neither");
  }
  ASSIGN_OR_RETURN(std::string experiment_root, ExperimentArtifactRoot(given));
  ServerFlags flags = given;
  // Files clients write under a local root are the server's to list, register and serve: that
  // directory is also the repository, unless --artifacts-destination names another.
  if (experiment_root.rfind("file://", 0) == 0 && flags.artifacts_destination.empty()) {
    flags.artifacts_destination = experiment_root.substr(7);
  }
  std::unique_ptr<TrackingService> svc(new TrackingService());
  fs::path base = flags.store_dir;
  if (store::IsPostgresUri(flags.backend_store_uri)) {
    // The metadata lives on the PostgreSQL server; artifacts and the deploy directory (signing
    // key, model blobs) stay under --store.
    svc->artifact_root_ = flags.artifacts_destination.empty()
                              ? base / "artifacts"
                              : fs::path(flags.artifacts_destination);
    if (!IsS3(flags)) {
      RETURN_IF_ERROR(CheckArtifactRootHoldsNoSecrets(svc->artifact_root_, {}, base / "deploy"));
    }
    svc->store_description_ = RedactPassword(flags.backend_store_uri);
    store::PostgresOptions options;
    options.conninfo = flags.backend_store_uri;
    options.artifact_root = experiment_root;
    ASSIGN_OR_RETURN(svc->store_,
                     OpenPostgresWaiting(options, flags.backend_wait, svc->store_description_));
  } else {
    RETURN_IF_ERROR(OpenSqlite(flags, experiment_root, svc.get(), &base));
  }
  // Objects fetched from S3 are kept under the store directory, named by key and ETag.
  ASSIGN_OR_RETURN(svc->repo_,
                   artifacts::OpenRepository(IsS3(flags) ? flags.artifacts_destination
                                                         : svc->artifact_root_.string(),
                                             flags.s3_endpoint_url, base / "s3-cache",
                                             flags.s3_cache_gb << 30));
  RETURN_IF_ERROR(svc->repo_->Init());
  svc->api_ = std::make_unique<api::Api>(svc->store_.get(), svc->repo_.get());
  if (!flags.serve_artifacts) svc->api_->DisableArtifactProxy();
  ASSIGN_OR_RETURN(api::RateLimit per_device, api::ParseRateLimit(flags.device_rate_limit));
  ASSIGN_OR_RETURN(api::RateLimit per_token, api::ParseRateLimit(flags.token_rate_limit));
  svc->api_->SetDeviceRateLimits(per_device, per_token);
  RETURN_IF_ERROR(svc->api_->SetDefaultPermission(flags.default_permission));
  // Delivery state lives in the store; the signing key and model blobs beside it.
  ASSIGN_OR_RETURN(svc->deploy_, deploy::Service::Open(svc->store_.get(), svc->repo_.get(), base / "deploy"));
  RETURN_IF_ERROR(svc->deploy_->SetManifestLifetime(flags.manifest_lifetime));
  RETURN_IF_ERROR(svc->deploy_->SetBlobRedirect(flags.blob_redirect, flags.blob_redirect_endpoint));
  svc->api_->AttachDeploy(svc->deploy_.get());
  auto schedule_uri = std::make_shared<std::string>();  // known once the server listens
  if (flags.schedules) {
    deploy::Service* delivery = svc->deploy_.get();
    svc->scheduler_ = std::make_unique<schedule::Scheduler>(
        svc->store_.get(), ScheduleLauncher(schedule_uri, base / "schedules"),
        [delivery](const schedule::Trigger& t, int64_t now_ms) -> Result<schedule::Observation> {
          ASSIGN_OR_RETURN(auto s, delivery->TelemetrySignal(t.collection, t.channel, t.signal,
                                                             t.device_class,
                                                             t.window_seconds * 1000, now_ms));
          return schedule::Observation{s.value, s.samples};
        });
    svc->api_->AttachScheduler(svc->scheduler_.get());
    svc->releases_ = std::make_unique<release::ReleaseManager>(svc->store_.get(), delivery);
    svc->api_->AttachRelease(svc->releases_.get());
  }
  auto router = std::make_shared<http::Router>();
  RETURN_IF_ERROR(svc->api_->Register(*router));
  http::ServerOptions server_options;
  server_options.host = flags.host;
  server_options.port = static_cast<uint16_t>(flags.port);
  // The CPUs this process may really use (affinity set, container quota), not the machine's:
  // a pinned or limited server with a thread per machine core oversubscribes its own.
  server_options.threads = flags.threads > 0 ? flags.threads : std::min(UsableCpus(), 4);
  svc->threads_ = server_options.threads;
  // Uploads land next to the artifacts so moving them into place is a rename (S3: next to the
  // cache, where an uploaded file is kept).
  fs::path parent = IsS3(flags) ? base : svc->artifact_root_.parent_path();
  server_options.upload_dir = (parent.empty() ? fs::path(".") : parent) / ".ringo-uploads";
  server_options.tls_cert_file = flags.tls_cert;
  server_options.tls_key_file = flags.tls_key;
  ASSIGN_OR_RETURN(svc->server_, http::StartServer(server_options, router));
  svc->api_->AttachServer(svc->server_.get());
  std::string scheme = svc->server_->tls() ? "https://" : "http://";
  svc->url_ = scheme + flags.host + ":" + std::to_string(svc->server_->port());
  if (svc->scheduler_) {
    // Pipelines started by schedules log to this server over loopback (with TLS, the certificate
    // must name 127.0.0.1, or their environment must say how to trust it).
    *schedule_uri = scheme + "127.0.0.1:" + std::to_string(svc->server_->port());
    svc->scheduler_->Start();
    svc->releases_->Start();
  }
  return svc;
}

void TrackingService::Stop() {
  // Held long-polls get their answer before the connections close; webhook sending stops
  // before the store does. Pipelines started by schedules keep running.
  if (scheduler_) scheduler_->Stop();
  if (releases_) releases_->Stop();
  if (api_) api_->Shutdown();
  if (server_) server_->Stop();
  if (deploy_) deploy_->Shutdown();
  if (store_) store_->Shutdown();
}

TrackingService::~TrackingService() { Stop(); }

namespace {

// The stop signals are caught by a handler (process-wide, whichever thread the kernel picks:
// libraries and sanitizers may start threads before main that a signal mask would not cover) that
// writes their number to a pipe the main thread waits on.
int g_signal_pipe[2] = {-1, -1};

void OnStopSignal(int sig) {
  unsigned char b = static_cast<unsigned char>(sig);
  ssize_t unused = ::write(g_signal_pipe[1], &b, 1);
  (void)unused;
}

}  // namespace

namespace {

// Waits for SIGINT or SIGTERM and returns it; a SIGHUP on the way rereads the TLS files.
int WaitForStopSignal(http::Server& server) {
  for (;;) {
    unsigned char b = 0;
    while (::read(g_signal_pipe[0], &b, 1) < 0 && errno == EINTR) {
    }
    if (b != SIGHUP) return b;
    Status s = server.ReloadTls();
    if (s.ok()) {
      std::cout << "ringo server: TLS certificate reloaded" << std::endl;
    } else {
      std::cerr << "ringo: error: TLS certificate not reloaded, the old one stays: "
                << s.message() << std::endl;
    }
  }
}

}  // namespace

Status RunServer(const ServerFlags& flags) {
  // Large answers (a 100,000-point history is ~7 MB of JSON) would each get fresh pages from
  // mmap and fault them in again (~2 ms per MB on a virtual machine); kept in the heap up to
  // 64 MB, the same memory is reused request after request.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  if (::pipe2(g_signal_pipe, O_CLOEXEC) != 0) return Internal("cannot create the signal pipe");
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // SIGHUP still ends a server without TLS, as it always did.
  if (!flags.tls_cert.empty()) sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  ASSIGN_OR_RETURN(webhooks::DestinationPolicy policy,
                   webhooks::DestinationPolicy::Make(flags.webhook_allow));
  webhooks::SetDestinationPolicy(std::move(policy));
  RETURN_IF_ERROR(webhooks::SetExtraCaFile(flags.webhook_ca_cert));
  ASSIGN_OR_RETURN(std::unique_ptr<TrackingService> svc, TrackingService::Start(flags));
  std::unique_ptr<http::Server>& server = svc->server();
  std::cout << "ringo server listening on " << svc->url() << std::endl;
  std::cout << "threads: " << svc->threads() << " I/O (usable CPUs: " << UsableCpus() << ")"
            << std::endl;
  std::cout << "store: " << svc->store_description() << "  artifacts: " << svc->artifacts_description()
            << std::endl;

  int sig = WaitForStopSignal(*server);
  std::cout << "ringo server: stopping (signal " << sig << ")" << std::endl;
  // Held long-polls are answered, then the server, the webhook sender and the store stop.
  svc->Stop();
  std::cout << "ringo server: stopped" << std::endl;
  return Status::Ok();
}

void AddServerCommand(CLI::App& app, Context& ctx) {
  auto sf = std::make_shared<ServerFlags>();
  auto* server = app.add_subcommand("server", "Serve the tracking API on the embedded store");
  server->add_option("--host", sf->host, "Address to listen on")->capture_default_str();
  server->add_option("--port", sf->port, "Port (0 picks a free one)")->capture_default_str();
  server->add_option("--store", sf->store_dir, "Directory holding ringo.db and artifacts/")
      ->capture_default_str();
  server->add_option("--backend-store-uri", sf->backend_store_uri,
                     "MLflow spelling of the store: sqlite:///PATH or "
                     "postgresql://USER:PASSWORD@HOST:PORT/DB");
  server->add_option("--artifacts-destination", sf->artifacts_destination,
                     "Where artifacts live: a directory (default: <store>/artifacts) or "
                     "s3://BUCKET/PREFIX (credentials from AWS_ACCESS_KEY_ID and "
                     "AWS_SECRET_ACCESS_KEY, region from AWS_DEFAULT_REGION)");
  server->add_option("--default-artifact-root", sf->default_artifact_root,
                     "Where new experiments' artifacts go, as MLflow's flag: file:///PATH or a "
                     "directory (clients write there directly), s3://... (clients write there), "
                     "or mlflow-artifacts:/ (default; through this server's proxy)");
  server->add_flag("--serve-artifacts,!--no-serve-artifacts", sf->serve_artifacts,
                   "Serve the mlflow-artifacts proxy (default on, as MLflow 2+)");
  server->add_option("--s3-endpoint-url", sf->s3_endpoint_url,
                     "S3-compatible endpoint, e.g. http://127.0.0.1:9000 (default: "
                     "MLFLOW_S3_ENDPOINT_URL, else AWS)");
  server->add_option("--backend-wait", sf->backend_wait,
                     "With PostgreSQL: how many seconds to keep trying to reach it at start "
                     "(a replica may start before its database)")
      ->check(CLI::Range(0, 3600));
  server->add_option("--s3-cache-gb", sf->s3_cache_gb,
                     "With s3:// artifacts: the most GiB the local copies of objects may take in "
                     "<store>/s3-cache (least recently used go first; 0: no bound)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  auto rate_check = [](const std::string& v) -> std::string {
    auto r = api::ParseRateLimit(v);
    return r.ok() ? "" : r.status().message();
  };
  server->add_option("--default-permission", sf->default_permission,
                     "What users (basic auth, not admins) may do on experiments and registered "
                     "models they hold no permission on: READ, EDIT, MANAGE or NO_PERMISSIONS")
      ->check(CLI::IsMember({"READ", "EDIT", "MANAGE", "NO_PERMISSIONS"}))
      ->capture_default_str();
  server->add_option("--device-rate-limit", sf->device_rate_limit,
                     "Requests per second[:burst] each device (by its device id) may make to the "
                     "device API; beyond it 429 with Retry-After (0: no limit)")
      ->check(rate_check)
      ->capture_default_str();
  server->add_option("--token-rate-limit", sf->token_rate_limit,
                     "Requests per second[:burst] each token may make to the device API (a "
                     "fleet often shares one device token: size it for the fleet; 0: no limit)")
      ->check(rate_check)
      ->capture_default_str();
  server->add_option("--manifest-lifetime", sf->manifest_lifetime,
                     "Seconds a signed manifest stays valid; devices refuse it afterwards and "
                     "fetch a fresh one (re-issued every seventh of it)")
      ->check(CLI::Range(int64_t{60}, int64_t{366} * 24 * 3600))
      ->capture_default_str();
  server->add_option("--blob-redirect", sf->blob_redirect,
                     "Answer device blob requests with a redirect to a presigned URL of the "
                     "object store valid this many seconds (0: serve blobs; needs s3:// artifacts)")
      ->check(CLI::Range(int64_t{0}, int64_t{7 * 24 * 3600}));
  server->add_option("--blob-redirect-endpoint", sf->blob_redirect_endpoint,
                     "The object store's URL as devices reach it, for the presigned URLs "
                     "(default: --s3-endpoint-url), e.g. its public name when the servers "
                     "reach it by an internal one");
  server->add_option("--threads", sf->threads, "I/O threads (default: the CPUs this process may use, at most 4)");
  server->add_flag("--sync-full", sf->sync_full,
                   "SQLite: fsync every commit (survives power loss, slower); on PostgreSQL the "
                   "server's synchronous_commit decides");
  server->add_option("--webhook-allow", sf->webhook_allow,
                     "Address range webhooks may reach beyond public addresses, e.g. 10.1.0.0/16 "
                     "(repeatable; loopback, link-local and private ranges are refused otherwise)");
  server->add_option("--webhook-ca-cert", sf->webhook_ca_cert,
                     "PEM file of CA certificates https webhooks are verified against, besides "
                     "the system's")
      ->check(CLI::ExistingFile);
  server->add_option("--tls-cert", sf->tls_cert,
                     "Serve https: PEM certificate chain (the server's first); needs --tls-key. "
                     "SIGHUP rereads both for new connections")
      ->check(CLI::ExistingFile);
  server->add_option("--tls-key", sf->tls_key, "Serve https: the PEM private key of --tls-cert")
      ->check(CLI::ExistingFile);
  OnRun(server, &ctx, [sf] {
    Status s = RunServer(*sf);
    return s.ok() ? 0 : Fail(s);
  });
}

}  // namespace ringo::cli
