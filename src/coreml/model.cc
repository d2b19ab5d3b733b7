// Reading and writing Core ML files: .mlmodel (one protobuf) and .mlpackage (a directory).
#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/unknown_field_set.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/paths.h"
#include "common/util.h"
#include "coreml/coreml.h"
#include "coreml/schema.h"

namespace ringo::coreml {

namespace fs = std::filesystem;
namespace pb = google::protobuf;

int64_t Tensor::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

struct Model::Impl {
  spec::Model spec;
  std::string weights;
  std::vector<std::string> unknown;
};

Model::Model() : impl_(std::make_unique<Impl>()) {}
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
spec::Model& Model::spec() { return impl_->spec; }
const spec::Model& Model::spec() const { return impl_->spec; }
std::string& Model::weights() { return impl_->weights; }
const std::string& Model::weights() const { return impl_->weights; }
const std::vector<std::string>& Model::unknown_fields() const { return impl_->unknown; }
std::vector<std::string>& Model::mutable_unknown_fields() { return impl_->unknown; }

namespace {

// Deterministic serialisation: map entries (metadata, MIL attributes) in key order, so the same
// model always produces the same bytes (step caches and content hashes depend on it).
bool SerializeDeterministic(const spec::Model& m, std::string* out) {
  out->clear();
  {
    pb::io::StringOutputStream stream(out);
    pb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!m.SerializeToCodedStream(&coded)) return false;
  }
  return true;
}

// Writes a temporary file beside `target` with `write`, syncs it, then renames it into place:
// the file appears complete or not at all.
Status WriteAtomic(const fs::path& target, const FileWriter& write) {
  const fs::path path = target.has_parent_path() ? target : fs::path(".") / target;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return Internal("cannot create '" + path.parent_path().string() + "': " + ec.message());
  fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp-" + NewId());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Internal("cannot create '" + tmp.string() + "': " + std::strerror(errno));
  Status s = write(fd);
  bool ok = ::fsync(fd) == 0 && s.ok();
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return s.ok() ? Internal("cannot write '" + path.string() + "'") : s;
  }
  return Status::Ok();
}

// Streams the serialised model into the file: a NeuralNetwork's weights live in the message,
// so no second in-memory copy of them is made.
Status SerializeTo(const spec::Model& m, int fd) {
  bool ok;
  {
    pb::io::FileOutputStream stream(fd);
    {
      pb::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);
      ok = m.SerializeToCodedStream(&coded) && !coded.HadError();
    }
    ok = stream.Flush() && ok;
  }
  return ok ? Status::Ok() : Internal("cannot serialise the model");
}

constexpr const char* kModelItemPath = "com.apple.CoreML/model.mlmodel";
constexpr const char* kWeightsItemPath = "com.apple.CoreML/weights";
constexpr size_t kMaxModelBytes = size_t(2) << 30;

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open '" + path.string() + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Internal("cannot read '" + path.string() + "'");
  return ss.str();
}

// Walks every message, recording fields this schema does not know (they survive a round
// trip, but the user should hear that the file uses something ringo ignores).
void CollectUnknown(const pb::Message& m, const std::string& path, std::vector<std::string>* out) {
  const pb::Reflection* r = m.GetReflection();
  const pb::UnknownFieldSet& unknown = r->GetUnknownFields(m);
  for (int i = 0; i < unknown.field_count(); ++i) {
    out->push_back(path + "." + std::to_string(unknown.field(i).number()));
  }
  std::vector<const pb::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const pb::FieldDescriptor* f : fields) {
    if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    std::string sub = path + "." + f->name();
    if (f->is_repeated()) {
      int n = r->FieldSize(m, f);
      for (int j = 0; j < n && out->size() < 1000; ++j) {
        CollectUnknown(r->GetRepeatedMessage(m, f, j), sub, out);
      }
    } else {
      CollectUnknown(r->GetMessage(m, f), sub, out);
    }
  }
}

Status ParseSpec(std::string_view bytes, const std::string& what, Model* model) {
  if (bytes.size() > kMaxModelBytes) return InvalidArgument(what + " is larger than 2 GiB");
  pb::io::ArrayInputStream raw(bytes.data(), static_cast<int>(bytes.size()));
  pb::io::CodedInputStream coded(&raw);
  coded.SetRecursionLimit(200);
  if (!model->spec().ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage()) {
    return InvalidArgument(what + " is not a Core ML model (protobuf parse failed)");
  }
  const spec::Model& s = model->spec();
  if (s.specificationversion() < 1 || s.specificationversion() > 10) {
    return InvalidArgument(what + " is not a Core ML model (specification version " +
                           std::to_string(s.specificationversion()) + ")");
  }
  if (s.Type_case() == spec::Model::TYPE_NOT_SET) {
    std::vector<std::string> unknown;
    CollectUnknown(s, "Model", &unknown);
    return InvalidArgument(what + " holds a model type ringo does not support" +
                           (unknown.empty() ? std::string() : " (fields " + unknown.front() + ")"));
  }
  CollectUnknown(s, "Model", &model->mutable_unknown_fields());
  return Status::Ok();
}

// Resolves the root model path of a package from its Manifest.json.
Result<fs::path> RootModelPath(const fs::path& package) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(package / "Manifest.json"));
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return InvalidArgument("Manifest.json of '" + package.string() + "' is not JSON: " + e.what());
  }
  if (!manifest.is_object() || !manifest.contains("rootModelIdentifier") ||
      !manifest["rootModelIdentifier"].is_string() || !manifest.contains("itemInfoEntries") ||
      !manifest["itemInfoEntries"].is_object()) {
    return InvalidArgument("Manifest.json of '" + package.string() +
                           "' lacks rootModelIdentifier or itemInfoEntries");
  }
  std::string version = manifest.value("fileFormatVersion", "");
  if (version.empty() || version.front() != '1') {
    return InvalidArgument("Manifest.json has unsupported fileFormatVersion '" + version + "'");
  }
  std::string root = manifest["rootModelIdentifier"];
  const auto& entries = manifest["itemInfoEntries"];
  if (!entries.contains(root) || !entries[root].is_object() || !entries[root].contains("path") ||
      !entries[root]["path"].is_string()) {
    return InvalidArgument("Manifest.json names root model '" + root + "' but has no entry for it");
  }
  std::string rel = entries[root]["path"];
  ASSIGN_OR_RETURN(fs::path resolved, ResolveUnder(package / "Data", rel));
  return resolved;
}

}  // namespace

Result<Model> ParseModel(std::string_view bytes, const std::string& what) {
  Model model;
  RETURN_IF_ERROR(ParseSpec(bytes, what, &model));
  return model;
}

Result<Model> Load(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return NotFound("'" + path.string() + "' does not exist");
  Model model;
  if (fs::is_directory(path, ec)) {
    ASSIGN_OR_RETURN(fs::path root, RootModelPath(path));
    auto bytes = ReadFile(root);
    if (!bytes.ok()) {
      return InvalidArgument("package '" + path.string() + "' has no root model at '" +
                             root.string() + "'");
    }
    RETURN_IF_ERROR(ParseSpec(*bytes, "'" + root.string() + "'", &model));
    // @model_path is the directory holding the root model.
    fs::path weights = root.parent_path() / "weights" / "weight.bin";
    if (fs::exists(weights, ec)) {
      ASSIGN_OR_RETURN(model.weights(), ReadFile(weights));
    } else if (model.spec().has_mlprogram()) {
      // Programs without blob constants need no weight file; references are checked later.
    }
    return model;
  }
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  RETURN_IF_ERROR(ParseSpec(bytes, "'" + path.string() + "'", &model));
  if (model.spec().has_mlprogram()) {
    return InvalidArgument("'" + path.string() +
                           "' is an ML Program; its weights live in an .mlpackage, load that");
  }
  return model;
}

namespace {

// A random RFC 4122 version-4 UUID in upper case, as package item identifiers are written.
std::string NewUuid() {
  std::string hex = NewId();
  hex[12] = '4';
  hex[16] = "89ab"[hex[16] % 4];
  std::string u = hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
                  hex.substr(16, 4) + "-" + hex.substr(20, 12);
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

// `weights`, when set, writes weight.bin in place of model.weights().
Status WritePackage(const Model& model, const fs::path& dir, const FileWriter* weights) {
  std::string bytes;
  if (!SerializeDeterministic(model.spec(), &bytes)) return Internal("cannot serialise the model");
  RETURN_IF_ERROR(WriteFileAtomic(dir / "Data" / kModelItemPath, bytes));
  std::string model_id = NewUuid(), weights_id = NewUuid();
  nlohmann::json manifest = {{"fileFormatVersion", "1.0.0"},
                             {"itemInfoEntries",
                              {{model_id,
                                {{"author", "com.apple.CoreML"},
                                 {"description", "CoreML Model Specification"},
                                 {"name", "model.mlmodel"},
                                 {"path", kModelItemPath}}}}},
                             {"rootModelIdentifier", model_id}};
  if (weights || !model.weights().empty()) {
    const fs::path file = dir / "Data" / kWeightsItemPath / "weight.bin";
    RETURN_IF_ERROR(weights ? WriteAtomic(file, *weights)
                            : WriteFileAtomic(file, model.weights()));
    manifest["itemInfoEntries"][weights_id] = {{"author", "com.apple.CoreML"},
                                               {"description", "CoreML Model Weights"},
                                               {"name", "weights"},
                                               {"path", kWeightsItemPath}};
  }
  return WriteFileAtomic(dir / "Manifest.json", manifest.dump(2) + "\n");
}

// Save, with `weights` (optional) writing the file that holds the weights.
Status SaveWith(const Model& model, const fs::path& path, const FileWriter* weights) {
  std::string ext = ToLower(path.extension().string());
  bool program = model.spec().has_mlprogram();
  if (ext == ".mlmodel") {
    if (program) {
      return InvalidArgument("an ML Program must be saved as .mlpackage (its weights are files)");
    }
    if (weights) return WriteAtomic(path, *weights);
    return WriteAtomic(path, [&](int fd) { return SerializeTo(model.spec(), fd); });
  }
  if (ext != ".mlpackage") {
    return InvalidArgument("output '" + path.string() + "' must end in .mlmodel or .mlpackage");
  }
  // Build the package beside its destination, then swap it in: readers never see half of it.
  fs::path parent = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  fs::path tmp = parent / ("." + path.filename().string() + ".tmp-" + NewId());
  Status s = WritePackage(model, tmp, weights);
  if (!s.ok()) {
    fs::remove_all(tmp, ec);
    return s;
  }
  fs::path old = parent / ("." + path.filename().string() + ".old-" + NewId());
  bool had_old = fs::exists(path, ec);
  if (had_old) fs::rename(path, old, ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    return Internal("cannot replace '" + path.string() + "': " + ec.message());
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    if (had_old) fs::rename(old, path, ignored);
    fs::remove_all(tmp, ignored);
    return Internal("cannot move the package into '" + path.string() + "': " + ec.message());
  }
  if (had_old) fs::remove_all(old, ec);
  return Status::Ok();
}

}  // namespace

Status Save(const Model& model, const fs::path& path) { return SaveWith(model, path, nullptr); }

Status SaveStreamed(const Model& model, const fs::path& path, const FileWriter& write) {
  return SaveWith(model, path, &write);
}

}  // namespace ringo::coreml
