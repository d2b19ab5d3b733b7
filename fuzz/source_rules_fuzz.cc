// libFuzzer target: arbitrary text as a model version source (MLflow's rules) and as a webhook
// URL and destination address, the strings the registry and webhooks take from users.
#include <cstddef>
#include <cstdint>
#include <string>

#include "registry/registry.h"
#include "webhooks/webhooks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto run_uri = [](const std::string&) -> ringo::Result<std::string> {
    return std::string("file:///srv/artifacts/1/r/artifacts");
  };
  (void)ringo::registry::CheckSourceRules(text, "", run_uri);
  (void)ringo::registry::CheckSourceRules(text, "r", run_uri);
  (void)ringo::webhooks::ParseHttpUrl(text);
  (void)ringo::webhooks::DestinationPolicy().CheckAddress(text);
  (void)ringo::webhooks::DestinationPolicy::Make({text});
  return 0;
}
