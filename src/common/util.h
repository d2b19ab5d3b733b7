// Small shared helpers: ids, clocks, encodings, string matching.
#ifndef RINGO_COMMON_UTIL_H_
#define RINGO_COMMON_UTIL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringo {

// A new random 32-character lowercase hex id (128 bits from a per-thread CSPRNG-seeded
// generator), the shape of MLflow's run ids. Thread-safe.
std::string NewId();

// Milliseconds since the Unix epoch (wall clock).
int64_t NowMillis();

// Standard base64 with padding.
std::string Base64Encode(std::string_view data);
// Decodes standard or URL-safe base64 (padding optional); nullopt on bad input.
std::optional<std::string> Base64Decode(std::string_view data);

// Parses a whole decimal int64 ("-12"); nullopt on anything else, including overflow.
std::optional<int64_t> ParseInt64(std::string_view s);
// Parses a whole double, also "NaN", "Infinity", "-Infinity", "inf"; nullopt otherwise.
std::optional<double> ParseDouble(std::string_view s);

// SQL LIKE matching with % and _ wildcards, as MLflow's LIKE (case-sensitive) and ILIKE
// (ASCII case-insensitive).
bool LikeMatch(std::string_view text, std::string_view pattern, bool case_insensitive);

// ASCII lowercase copy.
std::string ToLower(std::string_view s);

// Percent-decodes a URL component; '+' stays '+' (paths) unless plus_is_space. nullopt on a
// malformed escape.
std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space);

}  // namespace ringo

#endif  // RINGO_COMMON_UTIL_H_
