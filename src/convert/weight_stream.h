// Weights written straight from the ONNX file's mapping into the output file: the emitters leave
// them out of the model and list them here; the writers put them where they belong.
#ifndef RINGO_CONVERT_WEIGHT_STREAM_H_
#define RINGO_CONVERT_WEIGHT_STREAM_H_

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
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
};

// Writes w's values to `fd` at its position: float32 in one write from the mapping, binary16
// converted through a buffer of fixed size, so memory does not grow with the tensor.
// kInternal when writing fails.
Status WriteWeight(int fd, const StreamedWeight& w);

// Writes `model` to `fd` as the protobuf it would serialize to (deterministically) if the
// weights in `weights.params` were in their WeightParams. kInternal when writing fails or a
// listed WeightParams is not part of `model`.
Status WriteNeuralNetwork(int fd, const coreml::spec::Model& model, const StreamedWeights& weights);

// Writes the ML Program weight file of `weights` to `fd`.
Status WriteWeightFile(int fd, StreamedWeights* weights);

}  // namespace ringo::convert

#endif  // RINGO_CONVERT_WEIGHT_STREAM_H_
