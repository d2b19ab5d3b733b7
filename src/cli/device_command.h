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
  // Telemetry: after updating, each device uses `model` for `predictions` predictions and
  // reports them (a load, then per prediction a failure or a prediction with its latency, and
  // feedback on whether it was right), behaving as `behave` says for the deployment it holds:
  // DEPLOYMENT_ID=failure_rate:F,latency_ms:L,accuracy:A ("*" for any other deployment).
  std::string model;
  int predictions = 0;
  std::vector<std::string> behave;
};

// Creates `count` devices (ids <prefix>0..N-1), each with its own storage, asks the server for
// an update through the SDK (signature and sha256 checked, models installed), and prints which
// deployment and model versions they hold, then reports simulated telemetry when asked.
// Exit 0, or 1 naming the problem.
int RunSimulate(const SimulateFlags& flags);

}  // namespace ringo::cli

#endif  // RINGO_CLI_DEVICE_COMMAND_H_
