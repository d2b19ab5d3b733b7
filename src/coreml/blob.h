// Blob storage v2 (weights/weight.bin of an ML Program): writing and reading typed blobs.
#ifndef RINGO_COREML_BLOB_H_
#define RINGO_COREML_BLOB_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ringo::coreml {

// Blob data type codes of the storage format (not the MIL DataType numbers).
enum class BlobType : uint32_t { kFloat16 = 1, kFloat32 = 2, kUInt8 = 3, kInt8 = 4, kInt32 = 14 };

// Builds a weight.bin: a 64-byte header, then per blob a 64-byte record (sentinel 0xDEADBEEF,
// type, size, data offset) and the data, every record 64-aligned. Not thread-safe.
class BlobWriter {
 public:
  BlobWriter();
  // Reserves room for `data_bytes` of blob data (plus records and padding for `blobs` blobs),
  // so appending never reallocates: the weight file is built without a second copy.
  void Reserve(uint64_t data_bytes, uint64_t blobs);
  // Appends a blob and returns the offset of its record (what a BlobFileValue refers to).
  uint64_t Add(BlobType type, std::string_view data);
  // As Add for a blob of `size` bytes that the writer does not hold: a hole that WriteTo fills,
  // so that large data can go from elsewhere straight into the file.
  uint64_t AddHole(BlobType type, uint64_t size);
  // The finished file content (header count filled in). Not for a writer with holes.
  const std::string& Finish();
  // As Finish, handing the buffer over (the writer is empty afterwards): no copy of the weights.
  std::string Release();
  // Writes the finished file to `fd` at its current position; fill(k) must write the k-th
  // hole's data (exactly its size) to the same file. kInternal when writing fails, or fill's
  // own error.
  Status WriteTo(int fd, const std::function<Status(size_t hole)>& fill);

 private:
  // Pads to the next record, writes a record for `size` bytes of `type`; returns its offset.
  uint64_t Record(BlobType type, uint64_t size);

  struct Hole {
    size_t at = 0;  // where in out_ the data belongs
    uint64_t size = 0;
  };
  std::string out_;
  std::vector<Hole> holes_;
  uint64_t hole_bytes_ = 0;
  uint32_t count_ = 0;
};

struct BlobView {
  BlobType type;
  std::string_view data;
};

// Reads the blob whose record starts at `offset` in `file`, checking the header version, the
// sentinel, that the data lies inside the file, and (when `expected` is set) the type.
// kInvalidArgument naming the problem otherwise.
Result<BlobView> ReadBlob(std::string_view file, uint64_t offset);

// Checks a whole weight.bin: header, every record reachable by the count, alignment.
Status ValidateBlobFile(std::string_view file);

// IEEE binary16 <-> binary32 (round to nearest even).
uint16_t FloatToHalf(float f);
// FloatToHalf of `n` little-endian float32 values at `floats` (any alignment) into `halves`.
void FloatsToHalves(const char* floats, size_t n, uint16_t* halves);
float HalfToFloat(uint16_t h);

}  // namespace ringo::coreml

#endif  // RINGO_COREML_BLOB_H_
