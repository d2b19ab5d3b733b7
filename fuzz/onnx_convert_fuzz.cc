// libFuzzer target: arbitrary bytes as an ONNX model, converted to both Core ML formats.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "convert/convert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ringo::convert::Options options;
  for (auto format : {ringo::convert::Format::kNeuralNetwork, ringo::convert::Format::kMLProgram}) {
    auto model = ringo::convert::ConvertOnnxBytes(bytes, "fuzz.onnx", format, options);
    // Whatever converts must also pass the loader's checks.
    if (model.ok() && !ringo::coreml::Validate(*model).empty()) __builtin_trap();
  }
  return 0;
}
