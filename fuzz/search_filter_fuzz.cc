// libFuzzer target: arbitrary text as MLflow search filters and order_by clauses.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "store/search_filter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ringo::store::ParseRunFilter(text);
  (void)ringo::store::ParseRunOrderBy(text);
  (void)ringo::store::ParseExperimentFilter(text);
  (void)ringo::store::ParseExperimentOrderBy(text);
  return 0;
}
