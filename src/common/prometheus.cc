// Prometheus text of a histogram.
#include "common/prometheus.h"

#include <cstdio>

namespace ringo {

void AppendPrometheusHistogram(std::string& out, std::string_view name, std::string_view help,
                               std::span<const double> bounds, std::span<const uint64_t> counts,
                               double sum_seconds) {
  std::string family(name);
  out += "# HELP " + family + " ";
  out += help;
  out += "\n# TYPE " + family + " histogram\n";
  uint64_t cumulative = 0;
  char text[32];
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    if (i < bounds.size()) {
      std::snprintf(text, sizeof text, "%g", bounds[i]);
    } else {
      std::snprintf(text, sizeof text, "+Inf");
    }
    out += family + "_bucket{le=\"" + text + "\"} " + std::to_string(cumulative) + "\n";
  }
  std::snprintf(text, sizeof text, "%.6f", sum_seconds);
  out += family + "_sum " + text + "\n";
  out += family + "_count " + std::to_string(cumulative) + "\n";
}

}  // namespace ringo
