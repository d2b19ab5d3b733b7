// The NeuralNetwork evaluator's private interface between the network walk (evaluate_nn.cc) and
// its layers (nn_layers.cc).
#ifndef RINGO_COREML_EVALUATE_NN_H_
#define RINGO_COREML_EVALUATE_NN_H_

#include <string>
#include <vector>

#include "common/status.h"
#include "coreml/coreml.h"
#include "coreml/schema.h"

namespace ringo::coreml::internal {

// Every blob is held in the legacy rank-5 layout [Seq, Batch, C, H, W]; the layers address
// their axes from the end (C = -3, H = -2, W = -1), so Seq and Batch act as outer batches.
inline constexpr int kC = 2, kH = 3, kW = 4;

// "layer '<name>'" for messages.
std::string LayerName(const spec::NeuralNetworkLayer& layer);

// Runs `layer` on its input blobs; FailedPrecondition for a layer type the evaluator does not
// implement, InvalidArgument for inconsistent weights or shapes.
Result<Tensor> RunLayer(const spec::NeuralNetworkLayer& layer,
                        const std::vector<const Tensor*>& in);

// Whether the layer takes any number of inputs (else exactly one).
bool IsVariadic(const spec::NeuralNetworkLayer& layer);

}  // namespace ringo::coreml::internal

#endif  // RINGO_COREML_EVALUATE_NN_H_
