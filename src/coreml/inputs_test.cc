// Tests of prediction input files (.npy, .png, .json) and of the JSON rendering of outputs.
#include <gtest/gtest.h>
#include <png.h>

#include <cstring>
#include <fstream>

#include "coreml/coreml.h"

namespace ringo::coreml {
namespace {

namespace fs = std::filesystem;

class InputFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ringo-inputs-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path Write(const std::string& name, const std::string& bytes) {
    fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }

  // A version-1 .npy file with the given header dict and raw data.
  fs::path Npy(const std::string& name, const std::string& dict, const std::string& data) {
    std::string header = dict;
    while ((10 + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string bytes = "\x93NUMPY";
    bytes += '\x01';
    bytes += '\x00';
    bytes += static_cast<char>(header.size() & 0xff);
    bytes += static_cast<char>(header.size() >> 8);
    return Write(name, bytes + header + data);
  }

  template <typename T>
  static std::string Raw(const std::vector<T>& v) {
    std::string s(v.size() * sizeof(T), '\0');
    std::memcpy(s.data(), v.data(), s.size());
    return s;
  }

  fs::path Png(const std::string& name, int width, int height, png_uint_32 format,
               const std::vector<uint8_t>& pixels) {
    fs::path p = dir_ / name;
    png_image image;
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = width;
    image.height = height;
    image.format = format;
    EXPECT_TRUE(png_image_write_to_file(&image, p.c_str(), 0, pixels.data(), 0, nullptr));
    return p;
  }

  static Feature Array(std::vector<int64_t> shape) {
    Feature f;
    f.name = "x";
    f.type = "MultiArray";
    f.shape = std::move(shape);
    return f;
  }
  static Feature Image(const std::string& space, int64_t w, int64_t h) {
    Feature f;
    f.name = "image";
    f.type = "Image";
    f.color_space = space;
    f.image_width = w;
    f.image_height = h;
    return f;
  }

  fs::path dir_;
};

TEST_F(InputFileTest, NpyFloat32) {
  auto p = Npy("a.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
               Raw<float>({1, 2, 3, 4, 5, 6.5f}));
  auto v = LoadInputFile(Array({2, 3}), p);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->tensor.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(v->tensor.data, (std::vector<float>{1, 2, 3, 4, 5, 6.5f}));
}

TEST_F(InputFileTest, NpyOtherNumericTypes) {
  auto f64 = LoadInputFile(Array({2}), Npy("d.npy",
                                           "{'descr': '<f8', 'fortran_order': False, "
                                           "'shape': (2,), }",
                                           Raw<double>({0.25, -1})));
  ASSERT_TRUE(f64.ok()) << f64.status().ToString();
  EXPECT_EQ(f64->tensor.data, (std::vector<float>{0.25f, -1}));
  auto i64 = LoadInputFile(Array({2}), Npy("l.npy",
                                           "{'descr': '<i8', 'fortran_order': False, "
                                           "'shape': (2,), }",
                                           Raw<int64_t>({7, -3})));
  ASSERT_TRUE(i64.ok()) << i64.status().ToString();
  EXPECT_EQ(i64->tensor.data, (std::vector<float>{7, -3}));
  auto i32 = LoadInputFile(Array({}), Npy("i.npy",
                                          "{'descr': '<i4', 'fortran_order': False, "
                                          "'shape': (), }",
                                          Raw<int32_t>({42})));
  ASSERT_TRUE(i32.ok()) << i32.status().ToString();
  EXPECT_TRUE(i32->tensor.shape.empty());
  EXPECT_EQ(i32->tensor.data, (std::vector<float>{42}));
}

TEST_F(InputFileTest, NpyNarrowIntegersAndBools) {
  struct Case {
    const char* descr;
    std::string data;
    std::vector<float> want;
  };
  const std::vector<Case> cases = {
      {"|i1", Raw<int8_t>({-128, 5}), {-128, 5}},
      {"<i2", Raw<int16_t>({-300, 7}), {-300, 7}},
      {"<u2", Raw<uint16_t>({65535, 1}), {65535, 1}},
      {"|b1", Raw<uint8_t>({1, 0}), {1, 0}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.descr);
    std::string dict = std::string("{'descr': '") + c.descr + "', 'fortran_order': False, " +
                       "'shape': (2,), }";
    auto v = LoadInputFile(Array({2}), Npy("n.npy", dict, c.data));
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(v->tensor.data, c.want);
  }
}

TEST_F(InputFileTest, NpyRejectsMalformedFiles) {
  struct Case {
    const char* name;
    std::string dict;
    std::string data;
    const char* message;
  };
  std::vector<Case> cases = {
      {"fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", Raw<float>({1}),
       "Fortran"},
      {"object.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
       std::string(8, '\0'), "objects"},
      {"bigendian.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
       Raw<float>({1}), "big-endian"},
      {"short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", Raw<float>({1, 2}),
       "data bytes"},
      {"complex.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
       std::string(8, '\0'), "dtype"},
      {"noshape.npy", "{'descr': '<f4', 'fortran_order': False, }", Raw<float>({1}), "malformed"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto v = LoadInputFile(Array({}), Npy(c.name, c.dict, c.data));
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
    EXPECT_NE(v.status().message().find(c.message), std::string::npos) << v.status().message();
  }
  auto magic = LoadInputFile(Array({}), Write("bad.npy", "PK\x03\x04 not numpy"));
  EXPECT_EQ(magic.status().code(), Code::kInvalidArgument);
  auto truncated =
      LoadInputFile(Array({}), Write("trunc.npy", std::string("\x93NUMPY\x01\x00\xff", 9)));
  EXPECT_EQ(truncated.status().code(), Code::kInvalidArgument);
}

TEST_F(InputFileTest, MissingFileIsNotFound) {
  EXPECT_EQ(LoadInputFile(Array({}), dir_ / "nope.npy").status().code(), Code::kNotFound);
}

TEST_F(InputFileTest, UnknownExtensionIsRejected) {
  EXPECT_EQ(LoadInputFile(Array({}), Write("x.csv", "1,2")).status().code(),
            Code::kInvalidArgument);
}

TEST_F(InputFileTest, PngRgbInDeclaredChannelOrder) {
  // Two pixels: (10, 20, 30) and (40, 50, 60).
  auto p = Png("rgb.png", 2, 1, PNG_FORMAT_RGB, {10, 20, 30, 40, 50, 60});
  auto rgb = LoadInputFile(Image("RGB", 2, 1), p);
  ASSERT_TRUE(rgb.ok()) << rgb.status().ToString();
  EXPECT_EQ(rgb->tensor.shape, (std::vector<int64_t>{3, 1, 2}));
  EXPECT_EQ(rgb->tensor.data, (std::vector<float>{10, 40, 20, 50, 30, 60}));
  auto bgr = LoadInputFile(Image("BGR", 2, 1), p);
  ASSERT_TRUE(bgr.ok()) << bgr.status().ToString();
  EXPECT_EQ(bgr->tensor.data, (std::vector<float>{30, 60, 20, 50, 10, 40}));
}

TEST_F(InputFileTest, PngRgbaDropsAlphaAndGrayStaysGray) {
  auto rgba =
      LoadInputFile(Image("RGB", 1, 1), Png("rgba.png", 1, 1, PNG_FORMAT_RGBA, {10, 20, 30, 128}));
  ASSERT_TRUE(rgba.ok()) << rgba.status().ToString();
  EXPECT_EQ(rgba->tensor.data, (std::vector<float>{10, 20, 30}));
  auto gray =
      LoadInputFile(Image("GRAYSCALE", 2, 1), Png("g.png", 2, 1, PNG_FORMAT_GRAY, {7, 200}));
  ASSERT_TRUE(gray.ok()) << gray.status().ToString();
  EXPECT_EQ(gray->tensor.shape, (std::vector<int64_t>{1, 1, 2}));
  EXPECT_EQ(gray->tensor.data, (std::vector<float>{7, 200}));
  auto expanded = LoadInputFile(Image("RGB", 1, 1), Png("g1.png", 1, 1, PNG_FORMAT_GRAY, {9}));
  ASSERT_TRUE(expanded.ok()) << expanded.status().ToString();
  EXPECT_EQ(expanded->tensor.data, (std::vector<float>{9, 9, 9}));
}

TEST_F(InputFileTest, PngRejectsWrongSizeCorruptionAndNonImageInputs) {
  auto p = Png("rgb.png", 2, 1, PNG_FORMAT_RGB, {10, 20, 30, 40, 50, 60});
  auto size = LoadInputFile(Image("RGB", 4, 4), p);
  EXPECT_EQ(size.status().code(), Code::kInvalidArgument);
  EXPECT_NE(size.status().message().find("2x1"), std::string::npos) << size.status().message();
  EXPECT_EQ(LoadInputFile(Array({3}), p).status().code(), Code::kInvalidArgument);
  std::string bytes;
  {
    std::ifstream in(p, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto truncated = LoadInputFile(Image("RGB", 2, 1), Write("cut.png", bytes.substr(0, 40)));
  EXPECT_EQ(truncated.status().code(), Code::kInvalidArgument);
  auto garbage = LoadInputFile(Image("RGB", 2, 1), Write("junk.png", "not a png at all"));
  EXPECT_EQ(garbage.status().code(), Code::kInvalidArgument);
}

TEST_F(InputFileTest, JsonNestedLists) {
  auto v = LoadInputFile(Array({2, 2}), Write("a.json", "[[1, 2.5], [-3, 4e1]]"));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->tensor.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(v->tensor.data, (std::vector<float>{1, 2.5f, -3, 40}));
  auto scalar = LoadInputFile(Array({}), Write("s.json", "3.5"));
  ASSERT_TRUE(scalar.ok());
  EXPECT_TRUE(scalar->tensor.shape.empty());
  EXPECT_EQ(scalar->tensor.data, (std::vector<float>{3.5f}));
}

TEST_F(InputFileTest, JsonRejectsRaggedAndNonNumeric) {
  for (const char* text : {"[[1, 2], [3]]", "[1, \"a\"]", "{\"x\": 1}", "[1, 2", "[[1], 2]"}) {
    SCOPED_TRACE(text);
    auto v = LoadInputFile(Array({}), Write("bad.json", text));
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
  }
}

TEST(OutputsToJsonTest, RendersEveryKind) {
  std::map<std::string, Value> outputs;
  outputs["y"].tensor = {{2}, {0.1f, -1}};
  outputs["label"].kind = "string";
  outputs["label"].string_value = "cat";
  outputs["index"].kind = "int64";
  outputs["index"].int_value = 3;
  outputs["probs"].kind = "dictionary";
  outputs["probs"].dict = {{"cat", 0.75}, {"dog", 0.25}};
  EXPECT_EQ(OutputsToJson(outputs),
            "{\"index\":3,\"label\":\"cat\",\"probs\":{\"cat\":0.75,\"dog\":0.25},"
            "\"y\":{\"shape\":[2],\"data\":[0.1,-1]}}");
}

}  // namespace
}  // namespace ringo::coreml
