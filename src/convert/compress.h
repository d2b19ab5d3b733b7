// Weight compression for ML Programs: linear int8 quantization, palettization (k-means lookup
// tables) and magnitude pruning, as the values iOS 16's constexpr ops decompress.
#ifndef RINGO_CONVERT_COMPRESS_H_
#define RINGO_CONVERT_COMPRESS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace ringo::convert {

// w ~ scale[c] * q with q in [-127, 127], symmetric (zero point 0): one scale per slice along
// axis 0 (`channels` slices of equal size), or one for the whole tensor when channels is 1.
struct Int8Weights {
  std::vector<int8_t> q;
  std::vector<float> scale;
};
Int8Weights QuantizeInt8(const std::vector<float>& w, int64_t channels);

// w ~ lut[index]: 2^bits centroids by k-means (Lloyd's iterations from quantiles), indices
// packed `bits` at a time from each byte's least significant bit.
struct Palette {
  std::vector<float> lut;
  std::string packed;
};
Palette Palettize(const std::vector<float>& w, int bits);

// The smallest-magnitude `sparsity` fraction of w set to zero: the rest in order, and a bit
// mask (LSB first, 1 = kept).
struct Sparse {
  std::vector<float> kept;
  std::string mask;
};
Sparse Prune(const std::vector<float>& w, double sparsity);

// `values` packed `bits` each, LSB first, into ceil(n * bits / 8) bytes.
std::string PackBits(const std::vector<uint32_t>& values, int bits);

}  // namespace ringo::convert

#endif  // RINGO_CONVERT_COMPRESS_H_
