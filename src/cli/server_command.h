// `ringo server`: the tracking server on the embedded store.
#ifndef RINGO_CLI_SERVER_COMMAND_H_
#define RINGO_CLI_SERVER_COMMAND_H_

#include <string>

#include "common/status.h"

namespace ringo::cli {

struct ServerFlags {
  std::string host = "127.0.0.1";
  int port = 5000;
  std::string store_dir = "ringo-data";
  std::string backend_store_uri;      // MLflow's spelling: sqlite:///PATH
  std::string artifacts_destination;  // MLflow's spelling
  int threads = 0;                    // 0: one per core, at most 4
  bool sync_full = false;
};

// Serves until SIGINT/SIGTERM, then stops accepting, commits queued writes and returns.
Status RunServer(const ServerFlags& flags);

}  // namespace ringo::cli

#endif  // RINGO_CLI_SERVER_COMMAND_H_
