// Reading an ONNX model without copying its weights: the file is mapped, the protobuf parsed
// without its large initializers' raw data, which stays in the mapping (or the caller's bytes).
#ifndef RINGO_CONVERT_ONNX_FILE_H_
#define RINGO_CONVERT_ONNX_FILE_H_

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/mapped_file.h"
#include "common/status.h"

namespace ringo::convert {

using ringo::MappedFile;

// Initializers whose raw data is this large or larger are not copied into the protobuf. Smaller
// ones (biases, normalisation parameters) are: a pass reading them from the mapping would map
// whole large folios of page cache around them into the process.
inline constexpr size_t kLargeRawData = 64 * 1024;

// A parsed ONNX model whose large initializers' raw data (and external data, for a model read
// from a file) was left where it is. `raw` maps an initializer's name to its little-endian raw
// bytes; those initializers have no raw_data in `proto`. The views stay valid while this
// object lives (the mappings are owned here; bytes given to ParseOnnxBytes are the caller's).
struct OnnxModel {
  onnx::ModelProto proto;
  std::unordered_map<std::string, std::string_view> raw;
  std::vector<std::unique_ptr<MappedFile>> files;
};

// Parses a serialized ModelProto held in `bytes` (which must outlive `model`). kInvalidArgument
// naming `source` when it is not an ONNX model (protobuf parse failed, no graph nodes).
Status ParseOnnxBytes(std::string_view bytes, const std::string& source, OnnxModel* model);

// Maps and parses the ONNX file at `path`, and maps the files holding its external data
// (ONNX's data_location EXTERNAL: `location` relative to the model's folder, `offset`,
// `length`). kNotFound when the file is missing; kInvalidArgument as ParseOnnxBytes, and for
// external data outside the model's folder, missing or shorter than it claims.
Status ReadOnnxFile(const std::filesystem::path& path, OnnxModel* model);

}  // namespace ringo::convert

#endif  // RINGO_CONVERT_ONNX_FILE_H_
