// Writing streamed weights: a NeuralNetwork's protobuf with its weights spliced in from the
// mapping, an ML Program's weight.bin with its holes filled, binary16 through a fixed buffer.
#include "convert/weight_stream.h"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/wire_format.h>
#include <google/protobuf/wire_format_lite.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <unordered_set>

namespace ringo::convert {

namespace pb = google::protobuf;
using pb::internal::WireFormat;
using pb::internal::WireFormatLite;

namespace {

// Binary16 values converted per write: 64 KiB of output, reused for the whole file.
constexpr size_t kHalfChunk = 32 * 1024;

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Internal(std::string("cannot write the model: ") + std::strerror(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

namespace {

// Copies `w` (float32, as it is) from `file` to `fd` in the kernel, as cp does: neither a copy
// in this process nor pages of the mapping. False when the kernel cannot (other file systems,
// old kernels): nothing was written then.
bool CopyInKernel(int fd, const StreamedWeight& w, const MappedFile& file, Status* status) {
  off64_t from = w.values.data() - file.bytes().data();
  size_t left = w.values.size();
  while (left > 0) {
    ssize_t n = ::copy_file_range(file.fd(), &from, fd, nullptr, left, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && left == w.values.size() &&
        (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
      return false;
    }
    if (n <= 0) {
      *status = Internal(std::string("cannot copy weights into the model: ") +
                         (n < 0 ? std::strerror(errno) : "the ONNX file is shorter than it was"));
      return true;
    }
    left -= static_cast<size_t>(n);
  }
  *status = Status::Ok();
  return true;
}

Status WriteHalves(int fd, const StreamedWeight& w, const MappedFile* file) {
  std::vector<uint16_t> half(kHalfChunk);
  const size_t n = w.values.size() / sizeof(float);
  for (size_t at = 0; at < n; at += kHalfChunk) {
    const size_t m = std::min(kHalfChunk, n - at);
    const std::string_view part = w.values.substr(at * sizeof(float), m * sizeof(float));
    coreml::FloatsToHalves(part.data(), m, half.data());
    if (file) file->Release();
    RETURN_IF_ERROR(WriteAll(fd, {reinterpret_cast<const char*>(half.data()), m * 2}));
  }
  return Status::Ok();
}

}  // namespace

Status WriteWeight(int fd, const StreamedWeight& w,
                   const std::vector<std::unique_ptr<MappedFile>>* files) {
  const MappedFile* file = nullptr;
  for (size_t k = 0; files && k < files->size() && !file; ++k) {
    if ((*files)[k]->Holds(w.values)) file = (*files)[k].get();
  }
  Status s;
  if (w.fp16) {
    s = WriteHalves(fd, w, file);
  } else if (!file || !CopyInKernel(fd, w, *file, &s)) {
    s = WriteAll(fd, w.values);
    if (file) file->Release();
  }
  // The file is synced before it is renamed into place: start writing it back now, while the
  // rest is converted, so that the sync waits for less. Advisory; errors show at the sync.
  ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  return s;
}

Status WriteWeightFile(int fd, StreamedWeights* weights) {
  return weights->weight_file.WriteTo(
      fd, [&](size_t hole) { return WriteWeight(fd, weights->blobs.at(hole), weights->files); });
}

namespace {

// Serializes a message as protobuf's generated code does (fields by number, deterministic
// maps), except that the messages on the way to a streamed WeightParams ("the spine") are
// written field by field with their sizes computed here, counting the weights they will hold.
// Everything else is serialized by protobuf through a small file buffer between weights.
class SplicingWriter {
 public:
  SplicingWriter(int fd, const StreamedWeights& w)
      : fd_(fd), file_(fd), holes_(w.params), files_(w.files) {}

  Status Run(const pb::Message& root) {
    root.ByteSizeLong();  // caches the sizes SerializeWithCachedSizes relies on
    Mark(root);
    RETURN_IF_ERROR(Write(root));
    if (written_ != holes_.size()) {
      return Internal("a streamed weight does not belong to the model being written");
    }
    return Flush();
  }

 private:
  const StreamedWeight* HoleOf(const pb::Message& m) const {
    if (m.GetDescriptor() != coreml::spec::WeightParams::descriptor()) return nullptr;
    auto it = holes_.find(static_cast<const coreml::spec::WeightParams*>(&m));
    return it == holes_.end() ? nullptr : &it->second;
  }
  // The WeightParams field a streamed weight fills: float16Value or floatValue.
  static int HoleField(const StreamedWeight& h) { return h.fp16 ? 2 : 1; }
  static size_t HoleSize(const StreamedWeight& h) {
    return pb::io::CodedOutputStream::VarintSize32(HoleField(h) << 3) +
           pb::io::CodedOutputStream::VarintSize64(h.bytes()) + h.bytes();
  }

  static std::vector<const pb::Message*> Elements(const pb::Message& m,
                                                  const pb::FieldDescriptor* f) {
    std::vector<const pb::Message*> out;
    if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) return out;
    const pb::Reflection* r = m.GetReflection();
    if (!f->is_repeated()) return {&r->GetMessage(m, f)};
    for (int k = 0; k < r->FieldSize(m, f); ++k) out.push_back(&r->GetRepeatedMessage(m, f, k));
    return out;
  }
  static std::vector<const pb::FieldDescriptor*> Fields(const pb::Message& m) {
    std::vector<const pb::FieldDescriptor*> fields;
    m.GetReflection()->ListFields(m, &fields);  // by field number, as generated code writes
    return fields;
  }

  // Whether `m` holds a streamed weight; puts it and its ancestors on the spine.
  bool Mark(const pb::Message& m) {
    bool has = HoleOf(m) != nullptr;
    for (const pb::FieldDescriptor* f : Fields(m)) {
      for (const pb::Message* e : Elements(m, f)) has = Mark(*e) || has;
    }
    if (has) spine_.insert(&m);
    return has;
  }
  bool OnSpine(const pb::Message& m, const pb::FieldDescriptor* f) const {
    for (const pb::Message* e : Elements(m, f)) {
      if (spine_.count(e)) return true;
    }
    return false;
  }
  size_t ElementSize(const pb::Message& e) { return spine_.count(&e) ? Size(e) : e.ByteSizeLong(); }

  // The serialized size of `m` with its streamed weights.
  size_t Size(const pb::Message& m) {
    if (auto it = sizes_.find(&m); it != sizes_.end()) return it->second;
    size_t total = 0;
    if (const StreamedWeight* h = HoleOf(m)) total += HoleSize(*h);
    for (const pb::FieldDescriptor* f : Fields(m)) {
      if (!OnSpine(m, f)) {
        total += WireFormat::FieldByteSize(f, m);
        continue;
      }
      for (const pb::Message* e : Elements(m, f)) {
        const size_t n = ElementSize(*e);
        total += WireFormat::TagSize(f->number(), f->type()) +
                 pb::io::CodedOutputStream::VarintSize64(n) + n;
      }
    }
    sizes_[&m] = total;
    return total;
  }

  // Serializes through protobuf's buffered file stream (a few KiB, however large the field).
  template <class F>
  void Coded(F write) {
    pb::io::CodedOutputStream coded(&file_);
    coded.SetSerializationDeterministic(true);
    write(&coded);
  }
  Status Flush() {
    if (!file_.Flush()) {
      return Internal(std::string("cannot write the model: ") + std::strerror(file_.GetErrno()));
    }
    return Status::Ok();
  }
  Status WriteHole(const StreamedWeight& h) {
    Coded([&](pb::io::CodedOutputStream* c) {
      c->WriteTag(WireFormatLite::MakeTag(HoleField(h), WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
      c->WriteVarint64(h.bytes());
    });
    RETURN_IF_ERROR(Flush());
    ++written_;
    return WriteWeight(fd_, h, files_);
  }

  Status Write(const pb::Message& m) {
    const StreamedWeight* hole = HoleOf(m);
    for (const pb::FieldDescriptor* f : Fields(m)) {
      if (hole && f->number() == HoleField(*hole)) {
        return Internal("a streamed weight's message already holds values");
      }
      if (hole && f->number() > HoleField(*hole)) {
        RETURN_IF_ERROR(WriteHole(*hole));
        hole = nullptr;
      }
      if (!OnSpine(m, f)) {
        Coded([&](pb::io::CodedOutputStream* c) {
          WireFormat::SerializeFieldWithCachedSizes(f, m, c);
        });
        continue;
      }
      for (const pb::Message* e : Elements(m, f)) {
        const size_t n = ElementSize(*e);
        Coded([&](pb::io::CodedOutputStream* c) {
          c->WriteTag(WireFormatLite::MakeTag(f->number(),
                                              WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
          c->WriteVarint64(n);
          if (!spine_.count(e)) e->SerializeWithCachedSizes(c);
        });
        if (spine_.count(e)) RETURN_IF_ERROR(Write(*e));
      }
    }
    return hole ? WriteHole(*hole) : Status::Ok();
  }

  int fd_;
  pb::io::FileOutputStream file_;  // flushed before each weight written to fd_ directly
  const std::unordered_map<const coreml::spec::WeightParams*, StreamedWeight>& holes_;
  const std::vector<std::unique_ptr<MappedFile>>* files_;
  std::unordered_set<const pb::Message*> spine_;
  std::unordered_map<const pb::Message*, size_t> sizes_;
  size_t written_ = 0;
};

}  // namespace

Status WriteNeuralNetwork(int fd, const coreml::spec::Model& model,
                          const StreamedWeights& weights) {
  return SplicingWriter(fd, weights).Run(model);
}

}  // namespace ringo::convert
