// libFuzzer target: arbitrary bytes as an .mlmodel, then inspect and validate what parses.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "coreml/coreml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto model = ringo::coreml::ParseModel(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz input");
  if (!model.ok()) return 0;
  // The weight file is empty here, so every blob reference must fail cleanly.
  (void)ringo::coreml::Validate(*model);
  (void)ringo::coreml::InfoToJson(ringo::coreml::Inspect(*model));
  return 0;
}
