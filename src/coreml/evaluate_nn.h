// The NeuralNetwork evaluator's private interface between the network walk (evaluate_nn.cc) and
// its layers (nn_layers.cc).
#ifndef RINGO_COREML_EVALUATE_NN_H_
#define RINGO_COREML_EVALUATE_NN_H_

#include <string>
#include <vector>

#include "common/status.h"
#include "coreml/coreml.h"
#include "coreml/kernels.h"
#include "coreml/schema.h"

namespace ringo::coreml::internal {

// With RANK5_ARRAY_MAPPING every blob is held in the legacy rank-5 layout [Seq, Batch, C, H,
// W]; the layers address their axes from the end (C = -3, H = -2, W = -1), so Seq and Batch act
// as outer batches.
inline constexpr int kC = 2, kH = 3, kW = 4;

// "layer '<name>'" for messages.
std::string LayerName(const spec::NeuralNetworkLayer& layer);

// Runs `layer` on its input blobs; FailedPrecondition for a layer type the evaluator does not
// implement, InvalidArgument for inconsistent weights or shapes.
Result<Tensor> RunLayer(const spec::NeuralNetworkLayer& layer,
                        const std::vector<const Tensor*>& in);

// Whether the layer takes any number of inputs (else exactly one).
bool IsVariadic(const spec::NeuralNetworkLayer& layer);

// Decodes fp32, fp16 or 8-bit quantized weights of `layer` (`what` names them in errors);
// `expected` < 0 accepts any count, else InvalidArgument when the count differs.
Result<std::vector<float>> Weights(const spec::WeightParams& w, int64_t expected,
                                   const spec::NeuralNetworkLayer& layer, const char* what);

// A convolution's kernel size (3x3 unless given), strides and dilations as a window, padding
// not yet set; the evaluator and the update's back-propagation read them alike.
kernels::Window ConvolutionWindow(const spec::ConvolutionLayerParams& p);

// Runs `layer` of a network with EXACT_ARRAY_MAPPING (nn_nd_layers.cc), whose blobs have the
// rank the model gives them: the rank-N layers of spec 4, and the element-wise and spatial
// layers of earlier specs on blobs of rank <= 5 (the spatial ones on [..., C, H, W]).
// FailedPrecondition for a layer type the evaluator does not implement, InvalidArgument for
// inconsistent inputs, weights or parameters.
Result<Tensor> RunNdLayer(const spec::NeuralNetworkLayer& layer,
                          const std::vector<const Tensor*>& in);

}  // namespace ringo::coreml::internal

#endif  // RINGO_COREML_EVALUATE_NN_H_
