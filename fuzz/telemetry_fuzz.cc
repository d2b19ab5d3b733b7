// libFuzzer target: arbitrary bytes as a device telemetry post and as channel targeting rules,
// the two JSON documents that devices and delivery managers send to the deploy component.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "deploy/deploy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ringo::deploy::ParseTelemetry(text);
  (void)ringo::deploy::ParseRules(text);
  return 0;
}
