// Reducing a long metric series to a few buckets for charts (private to api/).
#ifndef RINGO_API_DOWNSAMPLE_H_
#define RINGO_API_DOWNSAMPLE_H_

#include <cstdint>
#include <utility>
#include <vector>

namespace ringo::api {

// One bucket of a downsampled series: the x of its first point, the min and max of its finite
// values (NaN when it has none), its first and last values (NaN kept), and how many points.
struct Bucket {
  double x = 0;
  double min = 0;
  double max = 0;
  double first = 0;
  double last = 0;
  int64_t count = 0;
};

// Splits the x range of `points` (x, value), sorted by x, into `buckets` equal widths and
// returns the non-empty ones in order, so a chart of a million points draws from a few thousand
// and still shows every spike. All points in one bucket when the range is a single x.
// `buckets` must be >= 1. Pure.
std::vector<Bucket> Downsample(const std::vector<std::pair<double, double>>& points,
                               int64_t buckets);

}  // namespace ringo::api

#endif  // RINGO_API_DOWNSAMPLE_H_
