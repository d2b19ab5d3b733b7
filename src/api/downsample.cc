// Min/max/first/last bucketing of metric series for charts.
#include "api/downsample.h"

#include <algorithm>
#include <cmath>

namespace ringo::api {

std::vector<Bucket> Downsample(const std::vector<std::pair<double, double>>& points,
                               int64_t buckets) {
  std::vector<Bucket> out;
  if (points.empty() || buckets < 1) return out;
  double lo = points.front().first, hi = points.back().first;
  double width = (hi - lo) / double(buckets);
  auto index = [&](double x) {
    return width > 0 ? std::min<int64_t>(buckets - 1, int64_t((x - lo) / width)) : 0;
  };
  size_t i = 0;
  while (i < points.size()) {
    int64_t b = index(points[i].first);
    Bucket k;
    k.x = points[i].first;
    k.min = k.max = k.first = k.last = points[i].second;
    for (; i < points.size() && index(points[i].first) == b; ++i) {
      double v = points[i].second;
      // NaN is carried by first/last only; min/max describe the finite range.
      if (!std::isnan(v)) {
        if (std::isnan(k.min) || v < k.min) k.min = v;
        if (std::isnan(k.max) || v > k.max) k.max = v;
      }
      k.last = v;
      ++k.count;
    }
    out.push_back(k);
  }
  return out;
}

}  // namespace ringo::api
