// `ringo server`: opens the store, serves the API, shuts down cleanly on a signal.
#include "cli/server_command.h"

#include <signal.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "api/api.h"
#include "artifacts/artifacts.h"
#include "http/http.h"
#include "store/store.h"

namespace ringo::cli {

namespace fs = std::filesystem;

Status RunServer(const ServerFlags& flags) {
  if (flags.port < 0 || flags.port > 65535) {
    return InvalidArgument("invalid port " + std::to_string(flags.port));
  }
  // Block the stop signals in every thread (block before any is started); this one waits for them
  // with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  fs::path db_path;
  fs::path artifact_root;
  fs::path base = flags.store_dir;
  if (!flags.backend_store_uri.empty()) {
    const std::string scheme = "sqlite:///";
    if (flags.backend_store_uri.rfind(scheme, 0) != 0) {
      return InvalidArgument("unsupported --backend-store-uri '" + flags.backend_store_uri +
                             "': only sqlite:///PATH is supported");
    }
    db_path = flags.backend_store_uri.substr(scheme.size());
    if (db_path.empty()) return InvalidArgument("--backend-store-uri names no database file");
    base = db_path.parent_path().empty() ? fs::path(".") : db_path.parent_path();
    artifact_root = base / "artifacts";
  } else {
    db_path = base / "ringo.db";
    artifact_root = base / "artifacts";
  }
  if (!flags.artifacts_destination.empty()) artifact_root = flags.artifacts_destination;
  std::error_code ec;
  fs::create_directories(db_path.parent_path().empty() ? fs::path(".") : db_path.parent_path(), ec);
  if (ec)
    return Internal("cannot create '" + db_path.parent_path().string() + "': " + ec.message());

  store::SqliteOptions options;
  options.path = db_path.string();
  options.synchronous_full = flags.sync_full;
  ASSIGN_OR_RETURN(std::unique_ptr<store::Store> st, store::OpenSqliteStore(options));
  artifacts::LocalRepository repo(artifact_root);
  RETURN_IF_ERROR(repo.Init());

  api::Api api(st.get(), &repo);
  auto router = std::make_shared<http::Router>();
  api.Register(*router);
  http::ServerOptions server_options;
  server_options.host = flags.host;
  server_options.port = static_cast<uint16_t>(flags.port);
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  server_options.threads =
      flags.threads > 0 ? flags.threads : static_cast<int>(std::min(cores, 4u));
  // Uploads land next to the artifacts so moving them into place is a rename.
  server_options.upload_dir = (artifact_root.parent_path() / ".ringo-uploads").string();
  if (artifact_root.parent_path().empty()) server_options.upload_dir = ".ringo-uploads";
  ASSIGN_OR_RETURN(std::unique_ptr<http::Server> server, http::StartServer(server_options, router));
  api.AttachServer(server.get());
  std::cout << "ringo server listening on http://" << flags.host << ":" << server->port()
            << std::endl;
  std::cout << "store: " << db_path.string() << "  artifacts: " << artifact_root.string()
            << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);
  std::cout << "ringo server: stopping (signal " << sig << ")" << std::endl;
  server->Stop();
  st->Shutdown();
  std::cout << "ringo server: stopped" << std::endl;
  return Status::Ok();
}

}  // namespace ringo::cli
