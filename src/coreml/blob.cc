// Blob storage v2 of ML Program weights, and half-precision conversion.
#include "coreml/blob.h"

#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace ringo::coreml {

namespace {

constexpr uint32_t kSentinel = 0xDEADBEEF;
constexpr uint32_t kVersion = 2;
constexpr size_t kRecord = 64;

void PutU32(std::string* out, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*out)[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void PutU64(std::string* out, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) (*out)[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t GetU32(std::string_view in, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(uint8_t(in[at + i])) << (8 * i);
  return v;
}
uint64_t GetU64(std::string_view in, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(uint8_t(in[at + i])) << (8 * i);
  return v;
}

bool KnownType(uint32_t t) { return t == 1 || t == 2 || t == 3 || t == 4 || t == 14; }

}  // namespace

BlobWriter::BlobWriter() : out_(kRecord, '\0') { PutU32(&out_, 4, kVersion); }

void BlobWriter::Reserve(uint64_t data_bytes, uint64_t blobs) {
  out_.reserve(out_.size() + data_bytes + blobs * 2 * kRecord);
}

uint64_t BlobWriter::Record(BlobType type, uint64_t size) {
  // Records start on 64-byte boundaries; the previous data is padded with zeros.
  const uint64_t end = out_.size() + hole_bytes_;
  const uint64_t record = (end + kRecord - 1) / kRecord * kRecord;
  out_.append(record - end, '\0');
  const size_t at = out_.size();
  out_.resize(at + kRecord, '\0');
  PutU32(&out_, at, kSentinel);
  PutU32(&out_, at + 4, static_cast<uint32_t>(type));
  PutU64(&out_, at + 8, size);
  PutU64(&out_, at + 16, record + kRecord);
  ++count_;
  return record;
}

uint64_t BlobWriter::Add(BlobType type, std::string_view data) {
  uint64_t record = Record(type, data.size());
  out_.append(data);
  return record;
}

uint64_t BlobWriter::AddHole(BlobType type, uint64_t size) {
  uint64_t record = Record(type, size);
  holes_.push_back({out_.size(), size});
  hole_bytes_ += size;
  return record;
}

const std::string& BlobWriter::Finish() {
  assert(holes_.empty());
  PutU32(&out_, 0, count_);
  return out_;
}

std::string BlobWriter::Release() {
  Finish();
  std::string out = std::move(out_);
  out_.clear();
  count_ = 0;
  return out;
}

namespace {

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Internal(std::string("cannot write the weight file: ") + std::strerror(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

Status BlobWriter::WriteTo(int fd, const std::function<Status(size_t hole)>& fill) {
  PutU32(&out_, 0, count_);
  const std::string_view out = out_;
  size_t done = 0;
  for (size_t k = 0; k < holes_.size(); ++k) {
    RETURN_IF_ERROR(WriteAll(fd, out.substr(done, holes_[k].at - done)));
    RETURN_IF_ERROR(fill(k));
    done = holes_[k].at;
  }
  return WriteAll(fd, out.substr(done));
}

Result<BlobView> ReadBlob(std::string_view file, uint64_t offset) {
  if (file.size() < kRecord) return InvalidArgument("weight file is shorter than its header");
  if (GetU32(file, 4) != kVersion) {
    return InvalidArgument("weight file has storage version " + std::to_string(GetU32(file, 4)) +
                           "; only version 2 is supported");
  }
  if (offset % kRecord != 0 || offset < kRecord || offset > file.size() - kRecord) {
    return InvalidArgument("blob offset " + std::to_string(offset) +
                           " is not a 64-aligned record inside the weight file");
  }
  if (GetU32(file, offset) != kSentinel) {
    return InvalidArgument("no blob record at offset " + std::to_string(offset) +
                           " (sentinel missing)");
  }
  uint32_t type = GetU32(file, offset + 4);
  if (!KnownType(type)) {
    return InvalidArgument("blob at offset " + std::to_string(offset) + " has unsupported type " +
                           std::to_string(type));
  }
  uint64_t size = GetU64(file, offset + 8);
  uint64_t data = GetU64(file, offset + 16);
  if (data != offset + kRecord || data > file.size() || size > file.size() - data) {
    return InvalidArgument("blob at offset " + std::to_string(offset) +
                           " points outside the weight file");
  }
  return BlobView{static_cast<BlobType>(type), file.substr(data, size)};
}

Status ValidateBlobFile(std::string_view file) {
  if (file.size() < kRecord) return InvalidArgument("weight file is shorter than its header");
  uint32_t count = GetU32(file, 0);
  uint64_t offset = kRecord;
  for (uint32_t i = 0; i < count; ++i) {
    auto blob = ReadBlob(file, offset);
    if (!blob.ok()) return blob.status();
    uint64_t end = offset + kRecord + blob->data.size();
    offset = (end + kRecord - 1) / kRecord * kRecord;
    if (i + 1 < count && offset >= file.size()) {
      return InvalidArgument("weight file declares " + std::to_string(count) +
                             " blobs but ends after " + std::to_string(i + 1));
    }
  }
  return Status::Ok();
}

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  // Values that are normal halves (weights, nearly always) without a branch on the rounding,
  // which random data mispredicts half the time: the exponent rebiased in place (112 = 127 - 15),
  // round to nearest even, a carry into the exponent included (up to infinity). The same bits as
  // the general path below, checked for all 2^32 inputs.
  const uint32_t abs = x & 0x7fffffff;
  if (abs - 0x38800000u < 0x47800000u - 0x38800000u) {
    uint32_t half = (abs - (112u << 23)) >> 13;
    const uint32_t rem = abs & 0x1fff;
    half += uint32_t(rem > 0x1000) | (uint32_t(rem == 0x1000) & half & 1);
    return uint16_t(((x >> 16) & 0x8000) | half);
  }
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t mant = x & 0x7fffff;
  int32_t exp = int32_t((x >> 23) & 0xff);
  if (exp == 0xff) return uint16_t(sign | 0x7c00 | (mant ? 0x200 : 0));  // inf / nan
  exp = exp - 127 + 15;
  if (exp >= 0x1f) return uint16_t(sign | 0x7c00);  // overflow to inf
  if (exp <= 0) {
    if (exp < -10) return uint16_t(sign);  // underflow to zero
    mant |= 0x800000;
    uint32_t shift = uint32_t(14 - exp);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return uint16_t(sign | half);
  }
  uint32_t half = sign | (uint32_t(exp) << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;  // may carry into the exponent
  return uint16_t(half);
}

namespace {

void FloatsToHalvesOneByOne(const char* floats, size_t n, uint16_t* halves) {
  for (size_t k = 0; k < n; ++k) {
    float f;
    std::memcpy(&f, floats + k * sizeof(float), sizeof(float));
    halves[k] = FloatToHalf(f);
  }
}

#if defined(__x86_64__)
// F16C and AVX, with the system saving the AVX registers (CPUID leaf 1, XCR0): asked of the
// processor itself, since not every compiler's __builtin_cpu_supports knows "f16c".
bool HasF16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) == 0) return false;
  const bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
  if (!osxsave || !avx || !f16c) return false;
  uint32_t xcr0_low = 0, xcr0_high = 0;
  __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
  return (xcr0_low & 0x6) == 0x6;  // SSE and AVX state
}

// Eight at a time with the processor's own conversion (F16C: round to nearest even, as
// FloatToHalf), a fifth of a ResNet-50 fp16 conversion's time one by one. Blocks holding a NaN
// go one by one: the instruction keeps a NaN's payload, FloatToHalf writes the one quiet NaN.
__attribute__((target("avx,f16c"))) void FloatsToHalvesF16c(const char* floats, size_t n,
                                                             uint16_t* halves) {
  size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    const __m256 v = _mm256_loadu_ps(reinterpret_cast<const float*>(floats + k * sizeof(float)));
    if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0) {
      FloatsToHalvesOneByOne(floats + k * sizeof(float), 8, halves + k);
      continue;
    }
    const __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(halves + k), h);
  }
  FloatsToHalvesOneByOne(floats + k * sizeof(float), n - k, halves + k);
}
#endif

}  // namespace

void FloatsToHalves(const char* floats, size_t n, uint16_t* halves) {
#if defined(__x86_64__)
  static const bool f16c = HasF16c();
  if (f16c) return FloatsToHalvesF16c(floats, n, halves);
#endif
  FloatsToHalvesOneByOne(floats, n, halves);
}

float HalfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {
      // Subnormal: normalise.
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ff;
      x = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    x = sign | 0x7f800000 | (mant << 13);
  } else {
    x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

}  // namespace ringo::coreml
