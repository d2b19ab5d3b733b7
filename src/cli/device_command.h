// `ringo device simulate`: simulated devices driven through the device SDK.
#ifndef RINGO_CLI_DEVICE_COMMAND_H_
#define RINGO_CLI_DEVICE_COMMAND_H_

#include <string>
#include <vector>

namespace ringo::cli {

struct SimulateFlags {
  std::string tracking_uri;
  std::string token;
  std::string collection;
  std::string channel;
  int count = 10;
  std::vector<std::string> attrs;  // key=value: device_class, os, os_version, app_version, region,
                                   // language, id_prefix
  std::string storage;             // where devices keep their models (default: a temporary dir)
  bool json = false;
};

// Creates `count` devices (ids <prefix>0..N-1), each with its own storage, asks the server for
// an update through the SDK (signature and sha256 checked, models installed), and prints which
// deployment and model versions they hold. Exit 0, or 1 naming the problem.
int RunSimulate(const SimulateFlags& flags);

}  // namespace ringo::cli

#endif  // RINGO_CLI_DEVICE_COMMAND_H_
