// Private interface between Predict (evaluate.cc) and the per-format evaluators.
#ifndef RINGO_COREML_EVALUATE_INTERNAL_H_
#define RINGO_COREML_EVALUATE_INTERNAL_H_

#include <map>
#include <string>

#include "common/status.h"
#include "coreml/coreml.h"

namespace ringo::coreml::internal {

// Both run after Predict has checked that every required input is present with its declared
// shape; they report model problems (unsupported layers, inconsistent weights) themselves.
// `trace` (optional) receives each layer's result by the layer's name.
Result<std::map<std::string, Value>> PredictNeuralNetwork(
    const Model& model, const std::map<std::string, Value>& inputs,
    std::map<std::string, Tensor>* trace = nullptr);
// Runs every layer of a NeuralNetwork on `inputs` and leaves each blob (the inputs as the layers
// see them, and every layer's output) in *blobs, for PredictNeuralNetwork and the trainer; and
// each layer's output by layer name in `trace` when not null. A layer storing fp16 weights, and
// a weightless layer reading an fp16 result, has its results rounded to binary16.
Status RunNeuralNetwork(const Model& model, const std::map<std::string, Value>& inputs,
                        std::map<std::string, Tensor>* blobs,
                        std::map<std::string, Tensor>* trace = nullptr);
// `trace` (optional) receives each op's first result by the op's name.
Result<std::map<std::string, Value>> PredictProgram(const Model& model,
                                                    const std::map<std::string, Value>& inputs,
                                                    std::map<std::string, Tensor>* trace = nullptr);

}  // namespace ringo::coreml::internal

#endif  // RINGO_COREML_EVALUATE_INTERNAL_H_
