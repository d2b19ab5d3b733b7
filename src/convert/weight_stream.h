// Weights written straight from the ONNX file's mapping into the output file: the emitters leave
// them out of the model and list them here; the writers put them where they belong.
#ifndef RINGO_CONVERT_WEIGHT_STREAM_H_
#define RINGO_CONVERT_WEIGHT_STREAM_H_

#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "convert/onnx_file.h"
#include "coreml/blob.h"
#include "coreml/schema.h"

namespace ringo::convert {

// A float32 tensor still in the ONNX file's mapping (Constant::mapped), to be written as
// float32 (the bytes as they are) or binary16.
struct StreamedWeight {
  std::string_view values;  // little-endian float32
  bool fp16 = false;

  uint64_t bytes() const { return fp16 ? values.size() / 2 : values.size(); }
};

// The weights an emitter left out of the model it wrote (EmitOptions::streamed).
struct StreamedWeights {
  // NeuralNetwork: the WeightParams of the spec whose floatValue (float32) or float16Value
  // (binary16) these are; the messages themselves hold no values.
  std::unordered_map<const coreml::spec::WeightParams*, StreamedWeight> params;
  // ML Program: weight.bin, its holes to be filled by `blobs` in order. Empty when the program
  // has no weight file.
  coreml::BlobWriter weight_file;
  std::vector<StreamedWeight> blobs;
  bool has_weight_file = false;
  // The mapped files the weights' values lie in (OnnxModel::files); may be null.
  const std::vector<std::unique_ptr<MappedFile>>* files = nullptr;
};

// Writes w's values to `fd` at its position, so that memory does not grow with the tensor:
// float32 copied by the kernel from the mapped file among `files` that holds them (or written
// from the mapping where the kernel cannot copy), binary16 converted through a buffer of fixed
// size; the mapping's pages read leave the resident set. kInternal when writing fails.
Status WriteWeight(int fd, const StreamedWeight& w,
                   const std::vector<std::unique_ptr<MappedFile>>* files);

// Writes `model` to `fd` as the protobuf it would serialize to (deterministically) if the
// weights in `weights.params` were in their WeightParams. kInternal when writing fails or a
// listed WeightParams is not part of `model`.
Status WriteNeuralNetwork(int fd, const coreml::spec::Model& model, const StreamedWeights& weights);

// Writes the ML Program weight file of `weights` to `fd`.
Status WriteWeightFile(int fd, StreamedWeights* weights);

}  // namespace ringo::convert

#endif  // RINGO_CONVERT_WEIGHT_STREAM_H_
