// Tests of Core ML model files: round trips, corrupt input, validation, inspection, and diff.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "common/util.h"
#include "coreml/coreml.h"
#include "coreml/schema.h"

namespace ringo::coreml {
namespace {

namespace fs = std::filesystem;

void SetArray(spec::FeatureDescription* f, const std::string& name, std::vector<int64_t> shape) {
  f->set_name(name);
  auto* a = f->mutable_type()->mutable_multiarraytype();
  for (int64_t d : shape) a->add_shape(d);
  a->set_datatype(spec::ArrayFeatureType::FLOAT32);
}

// features[2] -> innerProduct(3) -> softmax -> classLabel / classProbs, labels a, b, c.
Model MakeClassifier() {
  Model m;
  spec::Model& s = m.spec();
  s.set_specificationversion(1);
  SetArray(s.mutable_description()->add_input(), "features", {2});
  auto* label = s.mutable_description()->add_output();
  label->set_name("classLabel");
  label->mutable_type()->mutable_stringtype();
  auto* probs = s.mutable_description()->add_output();
  probs->set_name("classProbs");
  probs->mutable_type()->mutable_dictionarytype()->mutable_stringkeytype();
  s.mutable_description()->set_predictedfeaturename("classLabel");
  s.mutable_description()->set_predictedprobabilitiesname("classProbs");
  s.mutable_description()->mutable_metadata()->set_author("ringo tests");
  auto* nn = s.mutable_neuralnetworkclassifier();
  for (const char* l : {"a", "b", "c"}) nn->mutable_stringclasslabels()->add_vector(l);
  nn->set_labelprobabilitylayername("probs");
  auto* ip = nn->add_layers();
  ip->set_name("fc");
  ip->add_input("features");
  ip->add_output("scores");
  auto* p = ip->mutable_innerproduct();
  p->set_inputchannels(2);
  p->set_outputchannels(3);
  p->set_hasbias(true);
  for (int i = 0; i < 6; ++i) p->mutable_weights()->add_floatvalue(0.5f * float(i));
  for (int i = 0; i < 3; ++i) p->mutable_bias()->add_floatvalue(0.1f);
  auto* sm = nn->add_layers();
  sm->set_name("softmax");
  sm->add_input("scores");
  sm->add_output("probs");
  sm->mutable_softmax();
  return m;
}

mil::Operation* AddConst(mil::Block* b, const std::string& name, std::vector<uint64_t> dims,
                         mil::DataType type) {
  auto* op = b->add_operations();
  op->set_type("const");
  auto* out = op->add_outputs();
  out->set_name(name);
  auto* t = out->mutable_type()->mutable_tensortype();
  t->set_datatype(type);
  t->set_rank(static_cast<int64_t>(dims.size()));
  for (uint64_t d : dims) t->add_dimensions()->mutable_constant()->set_size(d);
  (*op->mutable_attributes())["name"]
      .mutable_immediatevalue()
      ->mutable_tensor()
      ->mutable_strings()
      ->add_values(name);
  return op;
}

// x[1,4] -> linear(weight [3,4] from a blob) -> y[1,3], fp16 weights.
// The block of MakeProgram's main function.
mil::Block& MainBlock(Model& m) {
  return (*(*m.spec().mutable_mlprogram()->mutable_functions())["main"]
               .mutable_block_specializations())["CoreML5"];
}

// The declared type of the first op's result (MakeProgram's blob const).
mil::TensorType* ConstType(Model& m) {
  return MainBlock(m).mutable_operations(0)->mutable_outputs(0)->mutable_type()
      ->mutable_tensortype();
}

Model MakeProgram() {
  Model m;
  spec::Model& s = m.spec();
  s.set_specificationversion(6);
  SetArray(s.mutable_description()->add_input(), "x", {1, 4});
  SetArray(s.mutable_description()->add_output(), "y", {1, 3});
  auto* program = s.mutable_mlprogram();
  program->set_version(1);
  mil::Function& main = (*program->mutable_functions())["main"];
  main.set_opset("CoreML5");
  auto* in = main.add_inputs();
  in->set_name("x");
  in->mutable_type()->mutable_tensortype()->set_datatype(mil::FLOAT32);
  mil::Block& block = (*main.mutable_block_specializations())["CoreML5"];
  BlobWriter blobs;
  std::string data(12 * 2, '\0');
  for (int i = 0; i < 12; ++i) {
    uint16_t h = FloatToHalf(float(i) / 4);
    data[2 * i] = char(h & 0xff);
    data[2 * i + 1] = char(h >> 8);
  }
  uint64_t offset = blobs.Add(BlobType::kFloat16, data);
  auto* w = AddConst(&block, "w", {3, 4}, mil::FLOAT16);
  auto* file = (*w->mutable_attributes())["val"].mutable_blobfilevalue();
  file->set_filename("@model_path/weights/weight.bin");
  file->set_offset(offset);
  auto* op = block.add_operations();
  op->set_type("linear");
  (*op->mutable_inputs())["x"].add_arguments()->set_name("x");
  (*op->mutable_inputs())["weight"].add_arguments()->set_name("w");
  op->add_outputs()->set_name("y");
  block.add_outputs("y");
  m.weights() = blobs.Finish();
  return m;
}

class CoreMLFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ringo-coreml-" + NewId());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(CoreMLFileTest, NeuralNetworkRoundTripsThroughMlmodel) {
  Model m = MakeClassifier();
  ASSERT_TRUE(Save(m, dir_ / "c.mlmodel").ok());
  auto loaded = Load(dir_ / "c.mlmodel");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->spec().SerializeAsString(), m.spec().SerializeAsString());
  EXPECT_TRUE(Validate(*loaded).empty());
}

TEST_F(CoreMLFileTest, ProgramRoundTripsThroughPackage) {
  Model m = MakeProgram();
  fs::path pkg = dir_ / "p.mlpackage";
  ASSERT_TRUE(Save(m, pkg).ok());
  EXPECT_TRUE(fs::exists(pkg / "Manifest.json"));
  EXPECT_TRUE(fs::exists(pkg / "Data/com.apple.CoreML/model.mlmodel"));
  EXPECT_TRUE(fs::exists(pkg / "Data/com.apple.CoreML/weights/weight.bin"));
  auto loaded = Load(pkg);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->weights(), m.weights());
  std::vector<std::string> problems = Validate(*loaded);
  EXPECT_TRUE(problems.empty()) << problems.front();
  // Saving again over the package replaces it whole.
  ASSERT_TRUE(Save(*loaded, pkg).ok());
  int entries = 0;
  for (auto& e : fs::directory_iterator(dir_)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1) << "no temporary or old package left behind";
}

TEST_F(CoreMLFileTest, ExtensionMustFitTheModel) {
  EXPECT_EQ(Save(MakeProgram(), dir_ / "p.mlmodel").code(), Code::kInvalidArgument);
  EXPECT_EQ(Save(MakeClassifier(), dir_ / "c.onnx").code(), Code::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir_ / "p.mlmodel"));
}

TEST_F(CoreMLFileTest, CorruptFilesAreRejected) {
  std::string good = MakeClassifier().spec().SerializeAsString();
  std::mt19937 gen(7);
  std::string random(4096, '\0');
  for (char& c : random) c = char(gen());
  const std::pair<const char*, std::string> cases[] = {
      {"empty", ""},
      {"truncated", good.substr(0, good.size() / 2)},
      {"random", random},
      {"text", "this is not a model"},
  };
  for (const auto& [name, bytes] : cases) {
    fs::path p = dir_ / (std::string(name) + ".mlmodel");
    std::ofstream(p, std::ios::binary) << bytes;
    auto r = Load(p);
    EXPECT_FALSE(r.ok()) << name;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << name;
    }
  }
  EXPECT_EQ(Load(dir_ / "missing.mlmodel").status().code(), Code::kNotFound);
}

TEST_F(CoreMLFileTest, BrokenPackagesAreRejected) {
  fs::path pkg = dir_ / "p.mlpackage";
  ASSERT_TRUE(Save(MakeProgram(), pkg).ok());
  std::ofstream(pkg / "Manifest.json") << "{\"fileFormatVersion\": \"1.0.0\"}";
  EXPECT_EQ(Load(pkg).status().code(), Code::kInvalidArgument);
  std::ofstream(pkg / "Manifest.json") << "not json";
  EXPECT_EQ(Load(pkg).status().code(), Code::kInvalidArgument);
  std::ofstream(pkg / "Manifest.json")
      << R"({"fileFormatVersion": "1.0.0", "rootModelIdentifier": "A",
            "itemInfoEntries": {"A": {"path": "../../../etc/passwd"}}})";
  EXPECT_EQ(Load(pkg).status().code(), Code::kInvalidArgument);
}

TEST(ValidateTest, FindsWhatTheLoaderRejects) {
  struct Case {
    const char* name;
    std::function<void(Model&)> breakit;
    const char* expect;
  } cases[] = {
      {"input used before produced",
       [](Model& m) {
         m.spec().mutable_neuralnetworkclassifier()->mutable_layers(0)->set_input(0, "nope");
       },
       "before any layer produces it"},
      {"weight count",
       [](Model& m) {
         m.spec()
             .mutable_neuralnetworkclassifier()
             ->mutable_layers(0)
             ->mutable_innerproduct()
             ->mutable_weights()
             ->add_floatvalue(1);
       },
       "values where the shape needs"},
      {"fp16 needs spec 2",
       [](Model& m) {
         auto* p =
             m.spec().mutable_neuralnetworkclassifier()->mutable_layers(0)->mutable_innerproduct();
         p->mutable_weights()->clear_floatvalue();
         p->mutable_weights()->set_float16value(std::string(12, '\0'));
         p->mutable_bias()->clear_floatvalue();
         p->mutable_bias()->set_float16value(std::string(6, '\0'));
       },
       "needs specification version 2"},
      {"mixed precision",
       [](Model& m) {
         m.spec().set_specificationversion(2);
         auto* p =
             m.spec().mutable_neuralnetworkclassifier()->mutable_layers(0)->mutable_innerproduct();
         p->mutable_bias()->clear_floatvalue();
         p->mutable_bias()->set_float16value(std::string(6, '\0'));
       },
       "mixes float32 and float16"},
      {"no labels",
       [](Model& m) { m.spec().mutable_neuralnetworkclassifier()->clear_stringclasslabels(); },
       "no class labels"},
      {"label output type",
       [](Model& m) {
         m.spec().mutable_description()->mutable_output(0)->mutable_type()->mutable_int64type();
       },
       "must be String"},
      {"probability layer",
       [](Model& m) {
         m.spec().mutable_neuralnetworkclassifier()->set_labelprobabilitylayername("x");
       },
       "labelProbabilityLayerName"},
      {"rank 2 input with RANK5 mapping",
       [](Model& m) {
         m.spec()
             .mutable_description()
             ->mutable_input(0)
             ->mutable_type()
             ->mutable_multiarraytype()
             ->add_shape(1);
       },
       "rank 1 or 3"},
      {"rank-N layer needs spec 4 and EXACT mapping",
       [](Model& m) {
         m.spec().mutable_neuralnetworkclassifier()->mutable_layers(1)->mutable_softmaxnd();
       },
       "rank-N layer in a network with RANK5_ARRAY_MAPPING"},
      {"batchedMatmul weight count",
       [](Model& m) {
         m.spec().set_specificationversion(4);
         auto* nn = m.spec().mutable_neuralnetworkclassifier();
         nn->set_arrayinputshapemapping(spec::EXACT_ARRAY_MAPPING);
         auto* mm = nn->mutable_layers(0)->mutable_batchedmatmul();
         mm->set_weightmatrixfirstdimension(2);
         mm->set_weightmatrixseconddimension(3);
         mm->mutable_weights()->add_floatvalue(1);
       },
       "weights: 1 values where the shape needs 6"},
  };
  for (const Case& c : cases) {
    Model m = MakeClassifier();
    ASSERT_TRUE(Validate(m).empty());
    c.breakit(m);
    std::vector<std::string> problems = Validate(m);
    bool found = false;
    for (const auto& p : problems) found |= p.find(c.expect) != std::string::npos;
    EXPECT_TRUE(found) << c.name << ": " << (problems.empty() ? "(valid)" : problems.front());
  }
}

TEST(ValidateTest, ProgramBlobsAndOpsAreChecked) {
  struct Case {
    const char* name;
    std::function<void(Model&)> breakit;
    const char* expect;
  } cases[] = {
      {"blob offset",
       [](Model& m) {
         mil::Block& b = MainBlock(m);
         (*b.mutable_operations(0)->mutable_attributes())["val"]
             .mutable_blobfilevalue()
             ->set_offset(100);
       },
       "64-aligned"},
      {"blob size vs shape",
       [](Model& m) { ConstType(m)->mutable_dimensions(0)->mutable_constant()->set_size(5); },
       "bytes where its shape needs"},
      {"blob type",
       [](Model& m) { ConstType(m)->set_datatype(mil::FLOAT32); },
       "does not hold"},
      {"sentinel", [](Model& m) { m.weights()[64] = 0; }, "sentinel"},
      {"use before definition",
       [](Model& m) {
         mil::Block& b = MainBlock(m);
         (*b.mutable_operations(1)->mutable_inputs())["weight"].mutable_arguments(0)->set_name(
             "later");
       },
       "before it is defined"},
      {"spec too old", [](Model& m) { m.spec().set_specificationversion(5); },
       "needs specification version 6"},
      {"outputs",
       [](Model& m) { m.spec().mutable_description()->mutable_output(0)->set_name("z"); },
       "outputs differ"},
  };
  for (const Case& c : cases) {
    Model m = MakeProgram();
    ASSERT_TRUE(Validate(m).empty()) << Validate(m).front();
    c.breakit(m);
    std::vector<std::string> problems = Validate(m);
    bool found = false;
    for (const auto& p : problems) found |= p.find(c.expect) != std::string::npos;
    EXPECT_TRUE(found) << c.name << ": " << (problems.empty() ? "(valid)" : problems.front());
  }
}

TEST(InspectTest, SummarisesInterfaceAndWeights) {
  Info info = Inspect(MakeClassifier());
  EXPECT_EQ(info.model_type, "neuralNetworkClassifier");
  EXPECT_EQ(info.min_ios, "11");
  ASSERT_EQ(info.inputs.size(), 1u);
  EXPECT_EQ(info.inputs[0].type, "MultiArray");
  EXPECT_EQ(info.inputs[0].shape, std::vector<int64_t>{2});
  EXPECT_EQ(info.outputs[1].type, "Dictionary");
  EXPECT_EQ(info.class_labels, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(info.parameter_count, 9);
  EXPECT_EQ(info.weight_precision, "float32");
  EXPECT_EQ(info.layer_counts["innerProduct"], 1);
  EXPECT_EQ(info.metadata["author"], "ringo tests");
  Info prog = Inspect(MakeProgram());
  EXPECT_EQ(prog.model_type, "mlProgram");
  EXPECT_EQ(prog.min_ios, "15");
  EXPECT_EQ(prog.weight_precision, "float16");
  EXPECT_EQ(prog.parameter_count, 12);
  EXPECT_EQ(prog.layer_counts["linear"], 1);
}

TEST(InspectTest, ModelCardCarriesTheVerdictAndSurvivesBadUtf8) {
  Info info = Inspect(MakeClassifier());
  info.metadata["author"] = "bad \xff\xfe bytes";
  auto card = nlohmann::json::parse(ModelCardJson(info, {"first problem", "second"}));
  EXPECT_FALSE(card["valid"].get<bool>());
  EXPECT_EQ(card["problems"].size(), 2u);
  EXPECT_EQ(card["metadata"]["author"], "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
  auto ok = nlohmann::json::parse(ModelCardJson(Inspect(MakeClassifier()), {}));
  EXPECT_TRUE(ok["valid"].get<bool>());
  EXPECT_TRUE(ok["problems"].empty());
  auto back = InfoFromJson(InfoToJson(info));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->inputs.size(), info.inputs.size());
}

TEST(BlobTest, HalfPrecisionRoundTrips) {
  for (float f : {0.0f, 1.0f, -2.5f, 0.1f, 65504.0f, 6.1e-5f, 1e-7f}) {
    float back = HalfToFloat(FloatToHalf(f));
    EXPECT_NEAR(back, f, std::abs(f) * 1e-3 + 1e-7) << f;
  }
  EXPECT_TRUE(std::isinf(HalfToFloat(FloatToHalf(1e6f))));
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(std::nanf("")))));
}

// The batch conversion (eight at a time where the processor can) gives FloatToHalf's bits for
// every kind of float: normals, subnormals, rounding ties, overflow, infinities and NaNs with
// payloads, at every position within a block of eight and in a tail.
TEST(BlobTest, BatchHalvesEqualOneByOne) {
  std::vector<uint32_t> bits;
  for (uint64_t x = 0; x <= 0xffffffffull; x += 65521) bits.push_back(uint32_t(x));
  for (uint32_t special : {0x7f800000u, 0xff800000u, 0x7fc00001u, 0xffbfffffu, 0x7f800001u,
                           0x477ff000u, 0x477fefffu, 0x38800000u, 0x387fffffu, 0x33000000u,
                           0x33000001u, 0x00000001u, 0x80000000u, 0x3f801000u, 0x3f803000u,
                           0x7fffe000u, 0xffa00000u}) {
    bits.push_back(special);
  }
  bits.push_back(0x3f800000u);  // an odd count: the last values go one by one
  std::vector<char> floats(bits.size() * 4);
  std::memcpy(floats.data(), bits.data(), floats.size());
  std::vector<uint16_t> halves(bits.size());
  FloatsToHalves(floats.data() + 0, bits.size(), halves.data());
  for (size_t i = 0; i < bits.size(); ++i) {
    float f;
    std::memcpy(&f, &bits[i], 4);
    ASSERT_EQ(halves[i], FloatToHalf(f)) << std::hex << "float bits 0x" << bits[i];
  }
}

TEST(BlobTest, WriterLayoutIsAlignedAndReadable) {
  BlobWriter w;
  uint64_t a = w.Add(BlobType::kFloat32, std::string(12, 'a'));
  uint64_t b = w.Add(BlobType::kFloat16, std::string(100, 'b'));
  const std::string& file = w.Finish();
  EXPECT_EQ(a, 64u);
  EXPECT_EQ(b, 192u);  // 64 + 64 + 12 rounded up to 64
  EXPECT_EQ(file.size(), 192u + 64 + 100);
  EXPECT_TRUE(ValidateBlobFile(file).ok());
  auto view = ReadBlob(file, b);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->type, BlobType::kFloat16);
  EXPECT_EQ(view->data, std::string(100, 'b'));
  EXPECT_FALSE(ReadBlob(file, 128).ok());
  EXPECT_FALSE(ReadBlob(file.substr(0, 200), b).ok());
}

TEST(DiffTest, Verdicts) {
  Info base = Inspect(MakeClassifier());
  struct Case {
    const char* name;
    std::function<void(Info&)> change;
    bool breaking;
  } cases[] = {
      {"metadata only", [](Info& i) { i.metadata["author"] = "someone else"; }, false},
      {"renamed input", [](Info& i) { i.inputs[0].name = "x"; }, true},
      {"changed shape", [](Info& i) { i.inputs[0].shape = {3}; }, true},
      {"changed labels", [](Info& i) { i.class_labels[1] = "z"; }, true},
      {"retyped output", [](Info& i) { i.outputs[0].type = "Int64"; }, true},
      {"added output",
       [](Info& i) {
         Feature f;
         f.name = "extra";
         f.type = "Double";
         i.outputs.push_back(f);
       },
       false},
      {"added optional input",
       [](Info& i) {
         Feature f;
         f.name = "mask";
         f.type = "MultiArray";
         f.optional = true;
         i.inputs.push_back(f);
       },
       false},
      {"newer spec", [](Info& i) { i.spec_version = 5; }, true},
      {"image size",
       [](Info& i) {
         i.inputs[0].type = "Image";
         i.inputs[0].data_type = "";
       },
       true},
  };
  for (const Case& c : cases) {
    Info changed = base;
    c.change(changed);
    Diff d = CompareInterfaces(base, changed);
    EXPECT_EQ(d.breaking(), c.breaking) << c.name;
    EXPECT_FALSE(d.changes.empty()) << c.name;
  }
  EXPECT_TRUE(CompareInterfaces(base, base).changes.empty());
}

}  // namespace
}  // namespace ringo::coreml
