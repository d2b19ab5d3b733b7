// libFuzzer target: arbitrary bytes as an ML Program weight file, read at every record offset.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "coreml/schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view file(reinterpret_cast<const char*>(data), size);
  (void)ringo::coreml::ValidateBlobFile(file);
  for (uint64_t offset = 0; offset < size + 128; offset += 64) {
    auto blob = ringo::coreml::ReadBlob(file, offset);
    if (blob.ok() && blob->data.size() > size) __builtin_trap();
  }
  return 0;
}
