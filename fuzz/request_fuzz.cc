// libFuzzer target: arbitrary bytes as an API request body and query string.
#include <cstddef>
#include <cstdint>
#include <string>

#include "api/request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  for (auto fields : {ringo::api::Fields::FromJson(body), ringo::api::Fields::FromQuery(body)}) {
    if (!fields.ok()) continue;
    (void)fields->String("run_id");
    (void)fields->Int64("step");
    (void)fields->Double("value");
    (void)fields->StringList("order_by");
    auto metrics = fields->Objects("metrics");
    if (!metrics.ok()) continue;
    for (auto m : *metrics) {
      (void)ringo::api::Fields::String(m, "key");
      (void)ringo::api::Fields::Double(m, "value");
      (void)ringo::api::Fields::Int64(m, "timestamp");
    }
  }
  return 0;
}
