// Metric series chunks: their byte format, and merging chunks into one history.
#include "store/series.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <random>

#include "store/series_sql.h"

namespace ringo::store::series {

namespace {

constexpr uint8_t kFormat = 1;
// A NaN point's value bits: never the bits of a stored number (those are never NaN).
constexpr uint64_t kNanBits = 0x7ff8000000000001ull;
// The value byte of a point whose value equals the previous one.
constexpr uint8_t kRepeat = 0xff;

uint64_t Bits(const Point& p) { return p.is_nan ? kNanBits : std::bit_cast<uint64_t>(p.value); }

uint64_t ZigZag(int64_t v) { return (uint64_t(v) << 1) ^ uint64_t(v >> 63); }
int64_t UnZigZag(uint64_t v) { return int64_t(v >> 1) ^ -int64_t(v & 1); }

// Writes `v` at `out`, 7 bits a byte, low first; returns the end (at most 10 bytes).
char* PutVarint(char* out, uint64_t v) {
  while (v >= 0x80) {
    *out++ = char(v | 0x80);
    v >>= 7;
  }
  *out++ = char(v);
  return out;
}

// Reads the bytes of a chunk front to back; every read checks what is left, and a failed read
// clears `ok` and yields 0 (a history decodes 100,000 points per request: kept to pointers).
struct Reader {
  const uint8_t* p;
  const uint8_t* end;
  bool ok = true;

  uint64_t Varint() {
    if (p < end && *p < 0x80) return *p++;  // most deltas fit in one byte
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
      uint8_t b = *p++;
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
  uint8_t Byte() {
    if (p == end) {
      ok = false;
      return 0;
    }
    return *p++;
  }
};

// The value as XOR with the previous one: a header byte (zero bytes leading << 4 | trailing)
// then the bytes between, most significant first; kRepeat when nothing changed.
char* PutValue(char* out, uint64_t x) {
  if (x == 0) {
    *out++ = char(kRepeat);
    return out;
  }
  int lead = std::countl_zero(x) / 8, trail = std::countr_zero(x) / 8;
  *out++ = char(lead << 4 | trail);
  for (int i = 7 - lead; i >= trail; --i) *out++ = char(x >> (8 * i));
  return out;
}

uint64_t GetValue(Reader& r) {
  uint8_t h = r.Byte();
  if (h == kRepeat) return 0;
  int lead = h >> 4, trail = h & 15;
  const int count = 8 - lead - trail;
  if (count < 1 || r.end - r.p < count) {
    r.ok = false;
    return 0;
  }
  uint64_t x = 0;
  if (r.end - r.p >= 8) {  // one load of eight bytes, the first `count` of them the value's
    uint64_t word;
    std::memcpy(&word, r.p, 8);
    if constexpr (std::endian::native == std::endian::little) word = __builtin_bswap64(word);
    x = (word >> (64 - 8 * count)) << (8 * trail);
    r.p += count;
    return x;
  }
  for (int i = 7 - lead; i >= trail; --i) x |= uint64_t(*r.p++) << (8 * i);
  return x;
}

// One encoded run of points (what Encode writes) from `r`, appended to `out`.
Status DecodeSegment(Reader& r, std::vector<Point>* out) {
  if (r.Byte() != kFormat) return Internal("metric chunk of an unknown format");
  uint64_t n = r.Varint();
  if (!r.ok || n > kChunkPoints * 64) return Internal("metric chunk with a damaged count");
  // Grown geometrically: a history appends dozens of chunks to one vector.
  if (out->capacity() < out->size() + n) {
    out->reserve(std::max<size_t>(out->size() + n, 2 * out->capacity()));
  }
  int64_t step = 0, ts = 0;
  uint64_t bits = 0;
  for (uint64_t i = 0; i < n; ++i) {
    step = int64_t(uint64_t(step) + uint64_t(UnZigZag(r.Varint())));
    ts = int64_t(uint64_t(ts) + uint64_t(UnZigZag(r.Varint())));
    bits ^= GetValue(r);
    if (!r.ok) return Internal("metric chunk cut short");
    const bool nan = bits == kNanBits;
    out->push_back(Point{step, ts, nan ? 0.0 : std::bit_cast<double>(bits), nan});
  }
  return Status::Ok();
}

}  // namespace

bool Before(const Point& a, const Point& b) {
  if (a.step != b.step) return a.step < b.step;
  if (a.timestamp != b.timestamp) return a.timestamp < b.timestamp;
  if (a.is_nan != b.is_nan) return b.is_nan;
  return a.value < b.value;
}

bool Same(const Point& a, const Point& b) {
  return a.step == b.step && a.timestamp == b.timestamp && a.is_nan == b.is_nan &&
         Bits(a) == Bits(b);
}

void SortUnique(std::vector<Point>* points) {
  std::stable_sort(points->begin(), points->end(), Before);
  points->erase(std::unique(points->begin(), points->end(), Same), points->end());
}

std::string Encode(std::span<const Point> sorted) {
  // At most: the format byte and the count, then two varints and a value of 9 bytes a point.
  std::string out(1 + 10 + sorted.size() * (10 + 10 + 9), '\0');
  char* at = out.data();
  *at++ = char(kFormat);
  at = PutVarint(at, sorted.size());
  int64_t step = 0, ts = 0;
  uint64_t bits = 0;
  for (const Point& p : sorted) {
    // Differences wrap rather than overflow; decoding wraps back the same way.
    at = PutVarint(at, ZigZag(int64_t(uint64_t(p.step) - uint64_t(step))));
    at = PutVarint(at, ZigZag(int64_t(uint64_t(p.timestamp) - uint64_t(ts))));
    at = PutValue(at, Bits(p) ^ bits);
    step = p.step;
    ts = p.timestamp;
    bits = Bits(p);
  }
  out.resize(size_t(at - out.data()));
  return out;
}

Status Decode(std::string_view data, std::vector<Point>* out) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  Reader r{bytes, bytes + data.size()};
  do {
    RETURN_IF_ERROR(DecodeSegment(r, out));
  } while (r.p != r.end);
  return Status::Ok();
}

std::vector<Point> Merge(std::vector<std::vector<Point>> runs) {
  std::erase_if(runs, [](const auto& r) { return r.empty(); });
  if (runs.empty()) return {};
  if (runs.size() == 1) return std::move(runs[0]);
  std::sort(runs.begin(), runs.end(),
            [](const auto& a, const auto& b) { return Before(a.front(), b.front()); });
  bool disjoint = true;
  for (size_t i = 1; i < runs.size(); ++i) {
    if (!Before(runs[i - 1].back(), runs[i].front())) disjoint = false;
  }
  std::vector<Point> out = std::move(runs[0]);
  if (disjoint) {
    for (size_t i = 1; i < runs.size(); ++i) out.insert(out.end(), runs[i].begin(), runs[i].end());
    return out;
  }
  if (runs.size() == 2) {
    // Two sorted runs (a history's chunks and its rows): merged in one pass.
    std::vector<Point> merged(out.size() + runs[1].size());
    std::merge(out.begin(), out.end(), runs[1].begin(), runs[1].end(), merged.begin(), Before);
    merged.erase(std::unique(merged.begin(), merged.end(), Same), merged.end());
    return merged;
  }
  for (size_t i = 1; i < runs.size(); ++i) out.insert(out.end(), runs[i].begin(), runs[i].end());
  SortUnique(&out);
  return out;
}

int64_t NewChunkSeq() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return int64_t(gen() >> 1);
}

bool NoteRowPoints(const std::string& run_id, const std::string& key, size_t n) {
  static std::mutex mu;
  static std::map<std::string, size_t> counts;
  std::lock_guard lock(mu);
  if (counts.size() > 100000) counts.clear();
  size_t& c = counts[run_id + '\n' + key];
  c += n;
  if (c < kCompactAt) return false;
  c = 0;
  return true;
}

}  // namespace ringo::store::series
