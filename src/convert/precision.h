// Precision::kAuto: fp16 with the ops that fp16 breaks kept in fp32, decided on sample inputs.
#ifndef RINGO_CONVERT_PRECISION_H_
#define RINGO_CONVERT_PRECISION_H_

#include <functional>

#include "common/status.h"
#include "convert/convert.h"
#include "coreml/coreml.h"

namespace ringo::convert {

// Converts with `convert` (called with fp32, then fp16 with a growing set of fp32 ops), runs the
// reference evaluator on sample inputs made from the model's input description, and returns
// the fp16 model whose ops and outputs all stay within options.tolerance of fp32 (an op that
// overflows, turns NaN or diverges is kept in fp32, the first one in program order at a time).
// A NeuralNetwork has no per-layer compute precision: there the layers whose fp16 weights make
// a failing layer's result fp16 (itself, or the nearest weighted layers upstream of a weightless
// one) keep float32 weights. Writes the per-op report to options.report_path when set; stamps
// `com.ringo.precision`. kInvalidArgument when a failing NeuralNetwork layer has no fp16 weights
// left to keep; convert's errors pass through.
Result<coreml::Model> ConvertAuto(
    const std::function<Result<coreml::Model>(const Options&)>& convert, Format format,
    const Options& options);

}  // namespace ringo::convert

#endif  // RINGO_CONVERT_PRECISION_H_
