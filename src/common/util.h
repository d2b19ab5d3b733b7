// Small shared helpers: ids, clocks, encodings, string matching.
#ifndef RINGO_COMMON_UTIL_H_
#define RINGO_COMMON_UTIL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringo {

// A new random 32-character lowercase hex id, the shape of MLflow's run ids. It comes from a
// fast per-thread generator whose later outputs can be predicted from earlier ones: use it for
// names, never for anything an attacker must not guess (see NewSecret). Thread-safe.
std::string NewId();

// `bytes` random bytes from the operating system's CSPRNG (getrandom(2)), as lowercase hex.
// For tokens, webhook secrets and anything else that must not be guessed. Aborts the process if
// the kernel cannot provide randomness (a secret must never fall back to a weak source).
// Thread-safe.
std::string NewSecret(size_t bytes = 32);

// CPUs this process may use: those of its CPU affinity set, further limited by a cgroup v2 CPU
// quota (/sys/fs/cgroup/cpu.max) when one is set; at least 1. Thread-safe.
int UsableCpus();
// The CPUs a cgroup v2 `cpu.max` line allows ("max 100000": nullopt, no limit; "150000 100000":
// 1.5). nullopt also for text it cannot read.
std::optional<double> ParseCgroupCpuMax(std::string_view text);

// Milliseconds since the Unix epoch (wall clock).
int64_t NowMillis();
// "2026-12-05T12:00Z": a time (seconds since the epoch) to the minute, in UTC.
std::string FormatUtcMinute(int64_t seconds);

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

// Length (1-4) of the well-formed UTF-8 sequence starting at s[at], or 0 when the bytes there
// are not one (stray continuation byte, truncation, overlong form, surrogate, past U+10FFFF).
size_t Utf8SequenceLength(std::string_view s, size_t at);

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Checks that JSON text nests objects and arrays at most `max_depth` deep, by a linear scan
// that honours strings and escapes (it does not validate the JSON otherwise). Lets callers
// refuse hostile input before a parser that recurses or allocates per level sees it.
bool JsonDepthWithin(std::string_view text, int max_depth);

// ASCII lowercase copy.
std::string ToLower(std::string_view s);

// Percent-decodes a URL component; '+' stays '+' (paths) unless plus_is_space. nullopt on a
// malformed escape.
// Percent-encodes every byte but the unreserved A-Z a-z 0-9 - _ . ~ as %XX (uppercase hex), and
// '/' too unless keep_slash: a URL path segment or query component, and S3's signing encoding.
std::string PercentEncode(std::string_view s, bool keep_slash);

std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space);

}  // namespace ringo

#endif  // RINGO_COMMON_UTIL_H_
