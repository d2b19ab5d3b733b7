// Number formatting for JSON responses: doubles as their shortest round-trip text (with a quick
// path for short decimals) and runs of integers that share their leading digits.
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string_view>

#include "common/json_writer.h"

namespace ringo {

namespace {

// Short decimals have at most kMaxDecimals digits after the point. Below kShortLimit (2^29) a
// double's neighbours are further apart than 1e-7 / 0.6, so at most one decimal with seven
// digits after the point reads back as a given double: finding one means it is the shortest.
constexpr int kMaxDecimals = 7;
constexpr double kShortLimit = 536870912.0;
constexpr double kPow10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7};
constexpr uint64_t kIntPow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};

constexpr std::array<char, 200> kPairs = [] {
  std::array<char, 200> pairs{};
  for (int i = 0; i < 100; ++i) {
    pairs[2 * i] = char('0' + i / 10);
    pairs[2 * i + 1] = char('0' + i % 10);
  }
  return pairs;
}();

char* PutFour(char* out, unsigned value) {
  std::memcpy(out, &kPairs[2 * (value / 100)], 2);
  std::memcpy(out + 2, &kPairs[2 * (value % 100)], 2);
  return out + 4;
}

// The decimal digits of `value`, written to end at `end`; returns where they start.
char* DigitsBefore(char* end, uint64_t value) {
  while (value >= 100) {
    end -= 2;
    std::memcpy(end, &kPairs[2 * (value % 100)], 2);
    value /= 100;
  }
  if (value >= 10) {
    end -= 2;
    std::memcpy(end, &kPairs[2 * value], 2);
  } else {
    *--end = char('0' + value);
  }
  return end;
}

// Strips trailing zeros of `*m` while `*k` (its decimals) allows, in steps of 4, 2 and 1.
void StripZeros(uint64_t* m, int* k) {
  for (int step : {4, 2, 1}) {
    if (*k >= step && *m % kIntPow10[step] == 0) {
      *m /= kIntPow10[step];
      *k -= step;
    }
  }
}

// `value` as m / 10^k, the text std::to_chars would give it, or nullptr when it is not a short
// decimal or when to_chars would write it in exponent form (its text there is shorter).
char* WriteShortDecimal(char* out, double value) {
  double magnitude = std::fabs(value);
  if (!(magnitude < kShortLimit) || magnitude == 0) return nullptr;
  auto m = static_cast<uint64_t>(magnitude * kPow10[kMaxDecimals] + 0.5);
  int k = kMaxDecimals;
  StripZeros(&m, &k);
  // Dividing exactly held integers rounds as reading the text back does.
  if (static_cast<double>(m) / kPow10[k] != magnitude) return nullptr;
  char digits[24];
  char* end = digits + sizeof digits;
  char* first = DigitsBefore(end, m);
  int count = int(end - first);
  int significant = count;
  if (k == 0) {
    while (end[-1 - (count - significant)] == '0') --significant;
  }
  int fixed_length = k == 0 ? count : std::max(count - k, 1) + 1 + k;
  int exponent_length = significant + (significant > 1 ? 1 : 0) + 4;  // "e+08", "e-07"
  if (exponent_length < fixed_length) return nullptr;
  if (value < 0) *out++ = '-';
  if (k == 0) {
    out = std::copy(first, end, out);
    return std::copy_n(".0", 2, out);  // JSON readers that type by lexeme see a float
  }
  if (count <= k) {
    out = std::copy_n("0.", 2, out);
    out = std::fill_n(out, k - count, '0');
    return std::copy(first, end, out);
  }
  out = std::copy(first, end - k, out);
  *out++ = '.';
  return std::copy(end - k, end, out);
}

}  // namespace

char* WriteJsonDouble(char* out, double value) {
  auto put = [out](std::string_view text) { return std::copy(text.begin(), text.end(), out); };
  if (std::isnan(value)) return put("\"NaN\"");
  if (std::isinf(value)) return put(value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  if (char* end = WriteShortDecimal(out, value)) return end;
  char* end = std::to_chars(out, out + kMaxJsonDouble - 2, value).ptr;
  // Keep doubles recognisable as floats for clients that type by lexeme (Python's json).
  for (char* p = out; p < end; ++p) {
    if (*p == '.' || *p == 'e' || *p == 'E') return end;
  }
  *end++ = '.';
  *end++ = '0';
  return end;
}

void AppendJsonDouble(std::string* out, double value) {
  char buf[kMaxJsonDouble];
  out->append(buf, WriteJsonDouble(buf, value));
}

void AppendJsonInt(std::string* out, int64_t value) {
  char buf[kMaxJsonInt];
  out->append(buf, std::to_chars(buf, buf + sizeof buf, value).ptr);
}

char* JsonIntRun::Write(char* out, int64_t value) {
  if (value < 10000) return std::to_chars(out, out + kMaxJsonInt, value).ptr;
  int64_t high = value / 10000;
  if (high != high_) {
    high_ = high;
    length_ = size_t(std::to_chars(high_digits_, high_digits_ + sizeof high_digits_, high).ptr -
                     high_digits_);
  }
  std::memcpy(out, high_digits_, sizeof high_digits_);  // whole array: one fixed-size copy
  return PutFour(out + length_, unsigned(value % 10000));
}

}  // namespace ringo
