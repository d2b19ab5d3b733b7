// Mapping an ONNX file and parsing it with its large initializers' raw data left in the mapping.
#include "convert/onnx_file.h"

#include <google/protobuf/io/coded_stream.h>

#include <charconv>
#include <limits>
#include <map>
#include <optional>

namespace ringo::convert {

namespace fs = std::filesystem;

namespace {

// ONNX field numbers on the path to an initializer's raw data.
constexpr uint32_t kModelGraph = 7;
constexpr uint32_t kGraphInitializer = 5;
constexpr uint32_t kTensorRawData = 9;
constexpr int kLengthDelimited = 2;

// One field of protobuf wire format: number, wire type, the whole field (tag included) and,
// when length-delimited, its payload.
struct Field {
  uint32_t number = 0;
  int type = 0;
  std::string_view whole;
  std::string_view payload;
};

// Reads fields one after another, checking every length against the bytes. Groups (wire types
// 3 and 4, unused by ONNX) count as malformed.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : b_(bytes) {}
  bool done() const { return pos_ >= b_.size(); }

  bool Next(Field* f) {
    const size_t start = pos_;
    uint64_t tag = 0, len = 0;
    if (!Varint(&tag) || (tag >> 3) == 0 || (tag >> 3) > std::numeric_limits<uint32_t>::max()) {
      return false;
    }
    f->number = static_cast<uint32_t>(tag >> 3);
    f->type = static_cast<int>(tag & 7);
    switch (f->type) {
      case 0:
        if (!Varint(&len)) return false;
        break;
      case 1:
        if (!Skip(8)) return false;
        break;
      case 5:
        if (!Skip(4)) return false;
        break;
      case kLengthDelimited:
        if (!Varint(&len) || len > b_.size() - pos_) return false;
        f->payload = b_.substr(pos_, len);
        pos_ += len;
        break;
      default:
        return false;
    }
    f->whole = b_.substr(start, pos_ - start);
    return true;
  }

 private:
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64 && pos_ < b_.size(); shift += 7) {
      const auto byte = static_cast<uint8_t>(b_[pos_++]);
      *v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return true;
    }
    return false;
  }
  bool Skip(size_t n) {
    if (n > b_.size() - pos_) return false;
    pos_ += n;
    return true;
  }

  std::string_view b_;
  size_t pos_ = 0;
};

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutMessage(std::string* out, uint32_t number, std::string_view payload) {
  PutVarint(out, (uint64_t{number} << 3) | kLengthDelimited);
  PutVarint(out, payload.size());
  out->append(payload);
}

// A TensorProto without its raw_data when the value that counts (the last one) is large; that
// value goes to *raw (left empty otherwise).
bool StripTensor(std::string_view tensor, std::string* out, std::optional<std::string_view>* raw) {
  Field f;
  for (WireReader r(tensor); !r.done();) {
    if (!r.Next(&f)) return false;
    if (f.number == kTensorRawData && f.type == kLengthDelimited) *raw = f.payload;
  }
  if (*raw && (*raw)->size() < kLargeRawData) raw->reset();
  for (WireReader r(tensor); !r.done();) {
    r.Next(&f);
    if (!(*raw && f.number == kTensorRawData && f.type == kLengthDelimited)) out->append(f.whole);
  }
  return true;
}

// A GraphProto with its initializers stripped; their large raw data in *raws, by position.
// The pages of `file` (when the graph lies in it) that reading each initializer's header mapped
// are released at once (MappedFile::Release).
bool StripGraph(std::string_view graph, const MappedFile* file, std::string* out,
                std::vector<std::optional<std::string_view>>* raws) {
  Field f;
  std::string tensor;
  for (WireReader r(graph); !r.done();) {
    if (!r.Next(&f)) return false;
    if (f.number != kGraphInitializer || f.type != kLengthDelimited) {
      out->append(f.whole);
      continue;
    }
    tensor.clear();
    raws->emplace_back();
    if (!StripTensor(f.payload, &tensor, &raws->back())) return false;
    if (file) file->Release();
    PutMessage(out, f.number, tensor);
  }
  return true;
}

// The ModelProto without the large raw data of its graph's initializers: the few kilobytes that
// protobuf then parses, instead of copying every weight into a string of its own.
bool StripModel(std::string_view model, const MappedFile* file, std::string* out,
                std::vector<std::optional<std::string_view>>* raws) {
  Field f;
  std::string graph;
  for (WireReader r(model); !r.done();) {
    if (!r.Next(&f)) return false;
    if (f.number != kModelGraph || f.type != kLengthDelimited) {
      out->append(f.whole);
      continue;
    }
    graph.clear();
    if (!StripGraph(f.payload, file, &graph, raws)) return false;
    PutMessage(out, f.number, graph);
  }
  return true;
}

Status ParseProto(std::string_view bytes, const std::string& source, onnx::ModelProto* model) {
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return InvalidArgument("'" + source + "' is larger than 2 GiB without its weights");
  }
  google::protobuf::io::CodedInputStream coded(reinterpret_cast<const uint8_t*>(bytes.data()),
                                               static_cast<int>(bytes.size()));
  coded.SetTotalBytesLimit(std::numeric_limits<int>::max());
  coded.SetRecursionLimit(100);
  if (!model->ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage()) {
    return InvalidArgument("'" + source + "' is not an ONNX model (protobuf parse failed)");
  }
  if (!model->has_graph() || model->graph().node_size() == 0) {
    return InvalidArgument("'" + source + "' is not an ONNX model (no graph nodes)");
  }
  return Status::Ok();
}

// ParseOnnxBytes, for bytes that are `file`'s mapping when it is set.
Status Parse(std::string_view bytes, const MappedFile* file, const std::string& source,
             OnnxModel* model) {
  std::string stripped;
  std::vector<std::optional<std::string_view>> raws;
  if (!StripModel(bytes, file, &stripped, &raws)) {
    // Malformed wire format: protobuf's own parse of the whole bytes reports it.
    return ParseProto(bytes, source, &model->proto);
  }
  RETURN_IF_ERROR(ParseProto(stripped, source, &model->proto));
  const auto& inits = model->proto.graph().initializer();
  if (static_cast<size_t>(inits.size()) != raws.size()) {
    return InvalidArgument("'" + source + "' is not an ONNX model (initializers out of step)");
  }
  for (size_t k = 0; k < raws.size(); ++k) {
    if (raws[k]) model->raw[inits[static_cast<int>(k)].name()] = *raws[k];
  }
  return Status::Ok();
}

}  // namespace

Status ParseOnnxBytes(std::string_view bytes, const std::string& source, OnnxModel* model) {
  return Parse(bytes, nullptr, source, model);
}

namespace {

// "location", "offset" and "length" of an initializer's external data.
struct ExternalRef {
  std::string location;
  uint64_t offset = 0;
  std::optional<uint64_t> length;
};

Result<ExternalRef> ExternalRefOf(const onnx::TensorProto& t, const std::string& what) {
  ExternalRef ref;
  for (const auto& entry : t.external_data()) {
    const std::string& v = entry.value();
    uint64_t n = 0;
    bool is_number = entry.key() == "offset" || entry.key() == "length";
    if (is_number) {
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || end != v.data() + v.size() || v.empty()) {
        return InvalidArgument(what + " has external data " + entry.key() + " '" + v +
                               "', which is not a number");
      }
    }
    if (entry.key() == "location") ref.location = v;
    if (entry.key() == "offset") ref.offset = n;
    if (entry.key() == "length") ref.length = n;
  }
  const fs::path location(ref.location);
  bool inside = !ref.location.empty() && location.is_relative();
  for (const auto& part : location) inside = inside && part != "..";
  if (!inside) {
    return InvalidArgument(what + " has external data at '" + ref.location +
                           "'; it must be a file in the model's folder");
  }
  return ref;
}

// Maps each file of external data once and points model->raw at the initializers' bytes.
Status MapExternalData(const fs::path& onnx_path, const std::string& source, OnnxModel* model) {
  std::map<std::string, const MappedFile*> mapped;
  for (const onnx::TensorProto& t : model->proto.graph().initializer()) {
    if (t.data_location() != onnx::TensorProto::EXTERNAL) continue;
    const std::string what = "initializer '" + t.name() + "' of '" + source + "'";
    ASSIGN_OR_RETURN(ExternalRef ref, ExternalRefOf(t, what));
    auto it = mapped.find(ref.location);
    if (it == mapped.end()) {
      Result<MappedFile> file = MappedFile::Open(onnx_path.parent_path() / ref.location);
      if (!file.ok()) {
        return InvalidArgument(what + " has its data in '" + ref.location +
                               "', which cannot be read");
      }
      model->files.push_back(std::make_unique<MappedFile>(std::move(*file)));
      it = mapped.emplace(ref.location, model->files.back().get()).first;
    }
    std::string_view bytes = it->second->bytes();
    const uint64_t length = ref.length.value_or(
        ref.offset <= bytes.size() ? bytes.size() - ref.offset : 0);
    if (ref.offset > bytes.size() || length > bytes.size() - ref.offset) {
      return InvalidArgument(what + " claims bytes " + std::to_string(ref.offset) + ".." +
                             std::to_string(ref.offset + length) + " of '" + ref.location +
                             "', which holds " + std::to_string(bytes.size()));
    }
    model->raw[t.name()] = bytes.substr(ref.offset, length);
  }
  return Status::Ok();
}

}  // namespace

Status ReadOnnxFile(const fs::path& path, OnnxModel* model) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return NotFound("ONNX file '" + path.string() + "' does not exist");
  }
  ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(path));
  model->files.push_back(std::make_unique<MappedFile>(std::move(mapped)));
  const std::string source = path.string();
  const MappedFile* file = model->files.back().get();
  RETURN_IF_ERROR(Parse(file->bytes(), file, source, model));
  return MapExternalData(path, source, model);
}

}  // namespace ringo::convert
