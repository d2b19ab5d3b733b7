// Prometheus text exposition shared by the server's figures: latency histograms over one set of
// bounds, written the same way wherever they are kept.
#ifndef RINGO_COMMON_PROMETHEUS_H_
#define RINGO_COMMON_PROMETHEUS_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ringo {

// Upper bounds in seconds of the latency histograms' buckets (a last bucket is past them all).
inline constexpr double kLatencyBoundsSeconds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1,    2.5};

// Appends one histogram: HELP and TYPE lines, a cumulative bucket per bound and +Inf, the sum
// and the count. `counts` has one entry per bound and one more for what is past every bound.
void AppendPrometheusHistogram(std::string& out, std::string_view name, std::string_view help,
                               std::span<const double> bounds, std::span<const uint64_t> counts,
                               double sum_seconds);

}  // namespace ringo

#endif  // RINGO_COMMON_PROMETHEUS_H_
