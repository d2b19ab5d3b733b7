// Weight compression arithmetic (see compress.h); the ML Program emitter writes the results.
#include "convert/compress.h"

#include <algorithm>
#include <cmath>

namespace ringo::convert {

Int8Weights QuantizeInt8(const std::vector<float>& w, int64_t channels) {
  Int8Weights out;
  out.q.resize(w.size());
  const size_t per = channels > 0 ? w.size() / static_cast<size_t>(channels) : w.size();
  for (int64_t c = 0; c < channels; ++c) {
    float peak = 0.0f;
    for (size_t k = c * per; k < (c + 1) * per; ++k) peak = std::max(peak, std::fabs(w[k]));
    // An all-zero slice keeps scale 1 so that nothing divides by zero.
    const float scale = peak > 0 ? peak / 127.0f : 1.0f;
    out.scale.push_back(scale);
    for (size_t k = c * per; k < (c + 1) * per; ++k) {
      float q = std::round(w[k] / scale);
      out.q[k] = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
    }
  }
  return out;
}

std::string PackBits(const std::vector<uint32_t>& values, int bits) {
  std::string out((values.size() * bits + 7) / 8, '\0');
  size_t bit = 0;
  for (uint32_t v : values) {
    for (int b = 0; b < bits; ++b, ++bit) {
      if (v & (1u << b)) out[bit / 8] = static_cast<char>(out[bit / 8] | (1 << (bit % 8)));
    }
  }
  return out;
}

namespace {

// Index of the centroid nearest to v, for centroids sorted ascending.
uint32_t Nearest(const std::vector<float>& lut, float v) {
  auto it = std::lower_bound(lut.begin(), lut.end(), v);
  if (it == lut.begin()) return 0;
  if (it == lut.end()) return static_cast<uint32_t>(lut.size() - 1);
  size_t hi = static_cast<size_t>(it - lut.begin());
  return static_cast<uint32_t>(v - lut[hi - 1] <= lut[hi] - v ? hi - 1 : hi);
}

}  // namespace

Palette Palettize(const std::vector<float>& w, int bits) {
  const size_t k = size_t{1} << bits;
  std::vector<float> sorted = w;
  std::sort(sorted.begin(), sorted.end());
  Palette p;
  p.lut.resize(k);
  // Start from the quantiles; in one dimension Lloyd's step keeps the centroids sorted.
  for (size_t c = 0; c < k; ++c) {
    size_t at = sorted.empty() ? 0 : (2 * c + 1) * sorted.size() / (2 * k);
    p.lut[c] = sorted.empty() ? 0.0f : sorted[std::min(at, sorted.size() - 1)];
  }
  std::vector<double> sum(k);
  std::vector<size_t> count(k);
  for (int iter = 0; iter < 16; ++iter) {
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(count.begin(), count.end(), 0);
    for (float v : sorted) {
      uint32_t c = Nearest(p.lut, v);
      sum[c] += v;
      ++count[c];
    }
    bool moved = false;
    for (size_t c = 0; c < k; ++c) {
      if (count[c] == 0) continue;
      float m = static_cast<float>(sum[c] / static_cast<double>(count[c]));
      moved |= m != p.lut[c];
      p.lut[c] = m;
    }
    std::sort(p.lut.begin(), p.lut.end());
    if (!moved) break;
  }
  std::vector<uint32_t> index(w.size());
  for (size_t i = 0; i < w.size(); ++i) index[i] = Nearest(p.lut, w[i]);
  p.packed = PackBits(index, bits);
  return p;
}

Sparse Prune(const std::vector<float>& w, double sparsity) {
  std::vector<float> magnitude(w.size());
  for (size_t i = 0; i < w.size(); ++i) magnitude[i] = std::fabs(w[i]);
  size_t drop = static_cast<size_t>(std::floor(sparsity * static_cast<double>(w.size())));
  float threshold = -1.0f;
  if (drop > 0) {
    std::nth_element(magnitude.begin(), magnitude.begin() + (drop - 1), magnitude.end());
    threshold = magnitude[drop - 1];
  }
  // Exactly `drop` values go: all below the threshold, then ties at it in order.
  size_t below = 0;
  for (float v : w) below += std::fabs(v) < threshold;
  size_t ties = drop - below;
  Sparse s;
  std::vector<uint32_t> bits(w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    const float m = std::fabs(w[i]);
    bool gone = m < threshold || (m == threshold && ties > 0);
    if (m == threshold && gone) --ties;
    if (!gone) {
      bits[i] = 1;
      s.kept.push_back(w[i]);
    }
  }
  s.mask = PackBits(bits, 1);
  return s;
}

}  // namespace ringo::convert
