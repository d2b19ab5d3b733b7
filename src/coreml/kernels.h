// Float32 CPU kernels shared by the NeuralNetwork and ML Program evaluators (private).
#ifndef RINGO_COREML_KERNELS_H_
#define RINGO_COREML_KERNELS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "coreml/coreml.h"

namespace ringo::coreml::kernels {

// Spatial geometry of a 2-D window operation over the last two axes of an [N, C, H, W] tensor.
struct Window {
  int64_t kh = 1, kw = 1;
  int64_t sh = 1, sw = 1;
  int64_t dh = 1, dw = 1;  // dilation (convolution only)
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  int64_t out_h = 0, out_w = 0;  // filled by the caller
};

// Output length of a window sliding over `in` with explicit padding, floor rounding.
int64_t FloorOutSize(int64_t in, int64_t k_eff, int64_t stride, int64_t pad_begin, int64_t pad_end);
// Ceil rounding; a last window that would start in the end padding is dropped.
int64_t CeilOutSize(int64_t in, int64_t k_eff, int64_t stride, int64_t pad_begin, int64_t pad_end);
// "Same" padding: output ceil(in/stride); the odd pixel of padding goes to the end unless
// `extra_at_start`. Returns {begin, end}.
std::pair<int64_t, int64_t> SamePadding(int64_t in, int64_t k_eff, int64_t stride,
                                        bool extra_at_start);

// Convolution of x [N, C_in, H, W] with weights [C_out, C_in/groups, kh, kw] and an optional
// bias [C_out] (nullptr for none). `win.out_*` must be set.
Tensor Conv2D(const Tensor& x, const float* weights, const float* bias, int64_t c_out,
              int64_t groups, const Window& win);

enum class PoolType { kMax, kAverage };

// Max or average pooling of x [N, C, H, W]. Average divides by the window clipped to the padded
// input, or, with `exclude_padding`, by the count of real input pixels in the window.
Tensor Pool2D(const Tensor& x, PoolType type, const Window& win, bool exclude_padding);

// c[m, n] = op(a)[m, k] * op(b)[k, n], row-major.
void Gemm(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k, bool trans_a,
          bool trans_b);
// The same product without OpenBLAS: Gemm's fallback where the library cannot be loaded.
void PlainGemm(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
               bool trans_a, bool trans_b);

// Shape both operands broadcast to (numpy rules); kInvalidArgument when incompatible.
Result<std::vector<int64_t>> BroadcastShape(const std::vector<int64_t>& a,
                                            const std::vector<int64_t>& b);

// Element-wise f(a, b) with numpy broadcasting.
Result<Tensor> Binary(const Tensor& a, const Tensor& b,
                      const std::function<float(float, float)>& f);

// Numerically stable softmax along `axis` (non-negative, < rank), in place.
void Softmax(Tensor* x, int64_t axis);

// Axis permutation: out.shape[i] = x.shape[perm[i]].
Tensor Transpose(const Tensor& x, const std::vector<int64_t>& perm);

enum class PadMode { kConstant, kReflect, kReplicate };

// Pads every axis by pads[i] = {before, after}; pads.size() equals the rank.
Tensor Pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pads, PadMode mode,
           float value);

// Joins tensors along `axis`; all other dimensions must agree (checked by the caller).
Tensor Concat(const std::vector<const Tensor*>& parts, int64_t axis);

// Mean over the given axes (non-negative, distinct); the reduced axes are kept with size 1.
Tensor ReduceMean(const Tensor& x, const std::vector<int64_t>& axes);

// ---- kernels_tensor.cc ----

enum class ReduceKind { kSum, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

// Reduces over the given axes (non-negative, distinct); the reduced axes are kept with size 1.
Tensor Reduce(const Tensor& x, const std::vector<int64_t>& axes, ReduceKind kind);

// Index of the largest (or smallest) value along `axis`, the first one on ties; the axis is
// kept with size 1.
Tensor ArgReduce(const Tensor& x, int64_t axis, bool largest);

// cond ? a : b element-wise with numpy broadcasting of all three.
Result<Tensor> Select(const Tensor& cond, const Tensor& a, const Tensor& b);

// Slices of x along `axis` at `indices` (each in [0, dim), checked by the caller): the axis is
// replaced by the indices' shape.
Tensor Gather(const Tensor& x, const std::vector<int64_t>& indices,
              const std::vector<int64_t>& indices_shape, int64_t axis);

// out[i...] = x[i... with the `axis` coordinate replaced by indices[i...]]; indices has x's rank.
Tensor GatherAlongAxis(const Tensor& x, const Tensor& indices, int64_t axis);

// Elements begin[d], begin[d] + stride[d], ... before end[d] on each axis (already clamped;
// stride may be negative).
Tensor StridedSlice(const Tensor& x, const std::vector<int64_t>& begin,
                    const std::vector<int64_t>& end, const std::vector<int64_t>& stride);

// x repeated reps[d] times along each axis.
Tensor Tile(const Tensor& x, const std::vector<int64_t>& reps);

// How a scatter combines a value with its update: "update", "add", "sub", "mul", "div", "max",
// "min"; null for another name.
std::function<float(float, float)> ScatterCombine(const std::string& mode);

// data with updates[i...] combined into data[i... with the `axis` coordinate replaced by
// indices[i...]]; indices (non-negative, in range) and updates share a shape of data's rank,
// no larger than data's on any axis (checked by the caller).
Tensor ScatterAlongAxis(const Tensor& data, const Tensor& indices, const Tensor& updates,
                        int64_t axis, const std::function<float(float, float)>& combine);

// Offsets into a tensor of `shape` of the index tuples on the last axis of `indices` (negative
// ones counted from the end), and in *slice the size of the slice each tuple addresses.
// kInvalidArgument naming the problem when a tuple does not fit.
Result<std::vector<int64_t>> TupleOffsets(const Tensor& indices, const std::vector<int64_t>& shape,
                                          int64_t* slice);

// data with the slice of `slice` values at each offset combined with the next slice of
// updates (which holds offsets.size() of them, checked by the caller).
Tensor ScatterNd(const Tensor& data, const std::vector<int64_t>& offsets, int64_t slice,
                 const Tensor& updates, const std::function<float(float, float)>& combine);

// The slices of x at `offsets` (from TupleOffsets over `indices_shape`), shaped
// indices_shape[:-1] + x.shape[indices_shape[-1]:].
Tensor GatherNd(const Tensor& x, const std::vector<int64_t>& indices_shape,
                const std::vector<int64_t>& offsets, int64_t slice);

// Running sum along `axis`, optionally exclusive and/or from the end.
Tensor CumSum(const Tensor& x, int64_t axis, bool exclusive, bool reverse);

// Row-major strides of `shape`.
std::vector<int64_t> Strides(const std::vector<int64_t>& shape);

// Advances a multi-index over `shape` in row-major order; false after the last element.
bool Next(std::vector<int64_t>* index, const std::vector<int64_t>& shape);

// Calls f(dst, v) for each element v of x in order, dst being the offset of the element it
// reduces into in a tensor of `out_shape` (x's shape with the reduced axes set to 1).
template <typename F>
void ForEachReduced(const Tensor& x, const std::vector<int64_t>& out_shape, F&& f) {
  if (x.data.empty()) return;
  std::vector<int64_t> out_strides = Strides(out_shape), index(x.shape.size(), 0);
  size_t i = 0;
  do {
    int64_t dst = 0;
    for (size_t d = 0; d < index.size(); ++d) {
      if (out_shape[d] != 1) dst += index[d] * out_strides[d];
    }
    f(dst, x.data[i++]);
  } while (Next(&index, x.shape));
}

// "[1, 3, 224, 224]" for messages.
std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace ringo::coreml::kernels

#endif  // RINGO_COREML_KERNELS_H_
