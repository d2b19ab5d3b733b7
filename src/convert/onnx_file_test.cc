// Tests of reading ONNX files from a mapping and of writing weights straight from it: the
// streamed output is byte for byte what the in-memory path writes; external data; bad files.
#include "convert/onnx_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "convert/convert.h"
#include "convert/convert_test_util.h"

namespace ringo::convert::test {
namespace {

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteAll(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

// Conv (weights large enough to stay in the mapping) -> a second conv with BatchNorm folded into
// it -> Relu -> Flatten -> Gemm (transB=1, streamed); small biases are copied into the protobuf.
OnnxBuilder Network() {
  OnnxBuilder b;
  b.Input("x", {1, 3, 8, 8}).Output("y");
  b.Weights("w1", {64, 3, 11, 11}).Weights("b1", {64});
  b.Weights("w2", {8, 64, 1, 1});
  b.Weights("g", {8}).Weights("beta", {8}).Weights("mean", {8});
  b.Floats("var", {8}, std::vector<float>(8, 1.0f));
  b.Weights("fc", {40, 512}).Weights("fcb", {40});
  SetInts(b.Node("Conv", {"x", "w1", "b1"}, {"c1"}), "pads", {5, 5, 5, 5});
  b.Node("Conv", {"c1", "w2"}, {"c2"});
  b.Node("BatchNormalization", {"c2", "g", "beta", "mean", "var"}, {"bn"});
  b.Node("Relu", {"bn"}, {"r"});
  b.Node("Flatten", {"r"}, {"f"});
  SetInt(b.Node("Gemm", {"f", "fc", "fcb"}, {"y"}), "transB", 1);
  return b;
}

// The files of a converted model whose bytes must not depend on how it was written (a
// package's manifest holds fresh identifiers).
std::vector<std::string> Contents(const fs::path& out) {
  if (out.extension() == ".mlmodel") return {ReadAll(out)};
  const fs::path data = out / "Data" / "com.apple.CoreML";
  return {ReadAll(data / "model.mlmodel"), ReadAll(data / "weights" / "weight.bin")};
}

TEST(OnnxFileTest, LargeRawDataStaysOutOfTheProtobuf) {
  OnnxBuilder net = Network();
  const std::string bytes = net.Bytes();
  OnnxModel m;
  ASSERT_TRUE(ParseOnnxBytes(bytes, "t.onnx", &m).ok());
  ASSERT_EQ(m.raw.count("w1"), 1u);
  EXPECT_EQ(m.raw.count("b1"), 0u);  // 256 bytes: parsed as usual
  EXPECT_EQ(m.raw.count("w2"), 0u);
  EXPECT_EQ(m.raw.count("fc"), 1u);
  EXPECT_GE(m.raw.at("w1").data(), bytes.data());  // a view into the bytes, not a copy
  EXPECT_LT(m.raw.at("w1").data(), bytes.data() + bytes.size());
  for (const auto& t : m.proto.graph().initializer()) {
    SCOPED_TRACE(t.name());
    const auto& original = net.model().graph().initializer();
    auto it = std::find_if(original.begin(), original.end(),
                           [&](const auto& o) { return o.name() == t.name(); });
    ASSERT_NE(it, original.end());
    const std::string raw = m.raw.count(t.name()) ? std::string(m.raw.at(t.name())) : t.raw_data();
    EXPECT_EQ(raw, it->raw_data());
    EXPECT_EQ(t.raw_data().empty(), m.raw.count(t.name()) == 1);
  }
}

struct Case {
  const char* name;
  const char* ext;
  Precision precision;
  std::set<std::string> float32_ops;
};

TEST(OnnxFileTest, StreamedWeightsGiveTheBytesOfTheInMemoryPath) {
  const std::vector<Case> cases = {
      {"fp32 nn", ".mlmodel", Precision::kFloat32, {}},
      {"fp16 nn", ".mlmodel", Precision::kFloat16, {}},
      {"fp32 ml", ".mlpackage", Precision::kFloat32, {}},
      {"fp16 ml", ".mlpackage", Precision::kFloat16, {}},
      {"mixed nn", ".mlmodel", Precision::kFloat16, {"Conv1"}},
      {"mixed ml", ".mlpackage", Precision::kFloat16, {"Conv1"}},
  };
  TempDir dir;
  const fs::path in = dir.path() / "net.onnx";
  WriteAll(in, Network().Bytes());
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Options o;
    o.precision = c.precision;
    o.float32_ops = c.float32_ops;
    const fs::path streamed = dir.path() / (std::string("s") + c.ext);
    const fs::path in_memory = dir.path() / (std::string("m") + c.ext);
    Status s = ConvertFile(in, streamed, o);
    ASSERT_TRUE(s.ok()) << s.ToString();
    Result<Format> format = FormatForPath(in_memory);
    ASSERT_TRUE(format.ok());
    Result<coreml::Model> model = ConvertOnnx(in, *format, o);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    ASSERT_TRUE(coreml::Save(*model, in_memory).ok());
    EXPECT_EQ(Contents(streamed), Contents(in_memory));
    EXPECT_GT(Contents(streamed).back().size(), 4u * 64 * 3 * 11 * 11 / 2);
    EXPECT_TRUE(coreml::Load(streamed).ok());
  }
}

// The model with initializer `name`'s raw data moved to `location` at `offset` (after `pad`
// bytes of other data).
OnnxBuilder WithExternal(const fs::path& dir, const std::string& name, const std::string& location,
                         size_t pad) {
  OnnxBuilder b = Network();
  for (auto& t : *b.model().mutable_graph()->mutable_initializer()) {
    if (t.name() != name) continue;
    WriteAll(dir / "weights.bin", std::string(pad, 'x') + t.raw_data());
    const auto length = std::to_string(t.raw_data().size());
    t.clear_raw_data();
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
             {"location", location}, {"offset", std::to_string(pad)}, {"length", length}}) {
      auto* e = t.add_external_data();
      e->set_key(key);
      e->set_value(value);
    }
  }
  return b;
}

TEST(OnnxFileTest, ExternalDataConvertsLikeInlineData) {
  TempDir dir;
  WriteAll(dir.path() / "inline.onnx", Network().Bytes());
  // The small bias too: external data is read from its file whatever its size.
  for (const char* name : {"w1", "b1"}) {
    SCOPED_TRACE(name);
    WriteAll(dir.path() / "external.onnx",
             WithExternal(dir.path(), name, "weights.bin", 100).Bytes());
    for (const char* ext : {".mlmodel", ".mlpackage"}) {
      const fs::path a = dir.path() / (std::string("a") + ext);
      const fs::path b = dir.path() / (std::string("b") + ext);
      Options o;
      o.source_description = "net.onnx";  // the metadata names no file
      ASSERT_TRUE(ConvertFile(dir.path() / "inline.onnx", a, o).ok());
      Status s = ConvertFile(dir.path() / "external.onnx", b, o);
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(Contents(a), Contents(b));
    }
  }
}

TEST(OnnxFileTest, BadExternalDataIsInvalidArgument) {
  TempDir dir;
  const fs::path in = dir.path() / "external.onnx";
  const fs::path out = dir.path() / "out.mlmodel";
  for (const char* location : {"../weights.bin", "/etc/passwd", "missing.bin", ""}) {
    SCOPED_TRACE(location);
    WriteAll(in, WithExternal(dir.path(), "w1", location, 0).Bytes());
    Status s = ConvertFile(in, out, {});
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find("w1"), std::string::npos) << s.message();
  }
  OnnxBuilder b = WithExternal(dir.path(), "w1", "weights.bin", 0);
  WriteAll(in, b.Bytes());
  fs::resize_file(dir.path() / "weights.bin", 100);  // shorter than the tensor
  Status s = ConvertFile(in, out, {});
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_FALSE(fs::exists(out));
  // Bytes in memory have no folder to find the data in.
  auto r = ConvertOnnxBytes(b.Bytes(), "t.onnx", Format::kNeuralNetwork, {});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST(OnnxFileTest, TruncatedOrCorruptFilesFailClearly) {
  const std::string good = Network().Bytes();
  TempDir dir;
  const fs::path in = dir.path() / "bad.onnx";
  const fs::path out = dir.path() / "out.mlpackage";
  // Cut everywhere in steps (inside headers, names and the weights) and corrupt single bytes.
  std::vector<std::string> bad;
  for (size_t cut = 0; cut < good.size(); cut += 97) bad.push_back(good.substr(0, cut));
  for (size_t at = 0; at < good.size(); at += 389) {
    std::string b = good;
    b[at] = static_cast<char>(0xff);
    bad.push_back(b);
  }
  for (size_t k = 0; k < bad.size(); ++k) {
    SCOPED_TRACE(k);
    WriteAll(in, bad[k]);
    Status s = ConvertFile(in, out, {});
    if (!s.ok()) {
      EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
      EXPECT_FALSE(fs::exists(out));
    }
  }
  // A cut inside the weights is always caught, and named.
  WriteAll(in, good.substr(0, good.size() / 2));
  Status s = ConvertFile(in, out, {});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("is not an ONNX model"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace ringo::convert::test
