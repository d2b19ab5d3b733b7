// Tests for JsonWriter: escaping, structure, and number formatting.
#include "common/json_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace ringo {
namespace {

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

std::string OneDouble(double v) {
  std::string out;
  JsonWriter(&out).Double(v);
  return out;
}

TEST(JsonWriterTest, EscapesStrings) {
  struct Case {
    std::string_view input;
    std::string_view want;
  };
  const Case cases[] = {
      {"", R"("")"},
      {"plain", R"("plain")"},
      {"a\"b", R"("a\"b")"},
      {"a\\b", R"("a\\b")"},
      {"\n\r\t\b\f", R"("\n\r\t\b\f")"},
      {std::string_view("\x00", 1), R"("\u0000")"},
      {"\x01", R"("\u0001")"},
      {"\x1f", R"("\u001f")"},
      {"x\x0by", R"("x\u000by")"},
      {"\x7f", "\"\x7f\""},  // DEL needs no escape in JSON
      {"/", R"("/")"},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
       "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Quoted(c.input), c.want) << "input of " << c.input.size() << " bytes";
  }
}

TEST(JsonWriterTest, EscapedStringsParseBackToTheInput) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  all += "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  nlohmann::json parsed = nlohmann::json::parse(Quoted(all));
  EXPECT_EQ(parsed.get<std::string>(), all);
}

TEST(JsonWriterTest, ReplacesMalformedUtf8SoTheOutputParses) {
  EXPECT_EQ(Quoted("u\xff\xfe.txt"), "\"u\\ufffd\\ufffd.txt\"");
  EXPECT_EQ(Quoted("\xc3\xa9\xe2\x82\xac"), "\"\xc3\xa9\xe2\x82\xac\"");
  EXPECT_EQ(Quoted("end\xe2\x82"), "\"end\\ufffd\\ufffd\"");
  auto parsed = nlohmann::json::parse(Quoted("a\xc0\xaf" "b\xed\xa0\x80"), nullptr, false);
  ASSERT_FALSE(parsed.is_discarded());
  EXPECT_EQ(parsed.get<std::string>(), "a\xef\xbf\xbd\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(JsonWriterTest, AppendsToExistingText) {
  std::string out = "prefix:";
  AppendJsonString(&out, "x");
  EXPECT_EQ(out, R"(prefix:"x")");
}

TEST(JsonWriterTest, EmptyContainers) {
  std::string out;
  JsonWriter(&out).BeginObject().EndObject();
  EXPECT_EQ(out, "{}");
  out.clear();
  JsonWriter(&out).BeginArray().EndArray();
  EXPECT_EQ(out, "[]");
}

TEST(JsonWriterTest, InsertsCommasBetweenElementsOnly) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject()
      .Field("a", int64_t{1})
      .Field("b", "two")
      .Key("c")
      .BeginArray()
      .Int(1)
      .BeginObject()
      .EndObject()
      .BeginArray()
      .EndArray()
      .Null()
      .EndArray()
      .Key("d")
      .BeginObject()
      .FieldBool("e", true)
      .Key("f")
      .Bool(false)
      .EndObject()
      .Key("g")
      .Raw(R"({"raw":[1,2]})")
      .EndObject();
  EXPECT_EQ(out,
            R"({"a":1,"b":"two","c":[1,{},[],null],"d":{"e":true,"f":false},"g":{"raw":[1,2]}})");
}

TEST(JsonWriterTest, TopLevelArrayOfScalars) {
  std::string out;
  JsonWriter(&out).BeginArray().String("x").Int(-3).Double(0.5).Bool(true).Null().EndArray();
  EXPECT_EQ(out, R"(["x",-3,0.5,true,null])");
}

TEST(JsonWriterTest, EscapesKeys) {
  std::string out;
  JsonWriter(&out).BeginObject().Field("k\"\n", "v").EndObject();
  EXPECT_EQ(out, R"({"k\"\n":"v"})");
}

TEST(JsonWriterTest, WritesInt64Extremes) {
  struct Case {
    int64_t value;
    std::string_view want;
  };
  const Case cases[] = {
      {0, "0"},
      {-1, "-1"},
      {42, "42"},
      {std::numeric_limits<int64_t>::max(), "9223372036854775807"},
      {std::numeric_limits<int64_t>::min(), "-9223372036854775808"},
  };
  for (const Case& c : cases) {
    std::string out;
    JsonWriter(&out).Int(c.value);
    EXPECT_EQ(out, c.want);
    EXPECT_EQ(nlohmann::json::parse(out).get<int64_t>(), c.value);
  }
}

TEST(JsonWriterTest, WritesDoublesShortestWithFractionMarker) {
  struct Case {
    double value;
    std::string_view want;
  };
  const Case cases[] = {
      {0.0, "0.0"},      {-0.0, "-0.0"},
      {1.0, "1.0"},      {-2.0, "-2.0"},
      {100.0, "100.0"},  {0.5, "0.5"},
      {0.1, "0.1"},      {1.5e-7, "1.5e-07"},
      {1e300, "1e+300"}, {123456789.125, "123456789.125"},
  };
  for (const Case& c : cases) EXPECT_EQ(OneDouble(c.value), c.want) << c.value;
}

TEST(JsonWriterTest, WrittenDoublesFitTheirBuffer) {
  const double longest[] = {-std::numeric_limits<double>::denorm_min(),
                            -std::numeric_limits<double>::min(),
                            std::numeric_limits<double>::lowest(),
                            -2.2250738585072009e-308,
                            -1.2345678901234567e-100,
                            std::numeric_limits<double>::quiet_NaN(),
                            -std::numeric_limits<double>::infinity()};
  for (double v : longest) {
    char buf[kMaxJsonDouble + 8];
    std::fill(std::begin(buf), std::end(buf), '#');
    char* end = WriteJsonDouble(buf, v);
    EXPECT_LE(end - buf, std::ptrdiff_t(kMaxJsonDouble)) << v;
    EXPECT_EQ(std::string(buf, end), OneDouble(v));
    EXPECT_EQ(buf[kMaxJsonDouble], '#');
  }
}

TEST(JsonWriterTest, DoublesRoundTripExactly) {
  const double values[] = {0.1,
                           1.0 / 3.0,
                           2.0 / 3.0,
                           3.141592653589793,
                           1e-300,
                           std::numeric_limits<double>::denorm_min(),
                           std::numeric_limits<double>::min(),
                           std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::lowest(),
                           9007199254740993.0,
                           1e16,
                           -123.456};
  for (double v : values) {
    std::string text = OneDouble(v);
    EXPECT_EQ(nlohmann::json::parse(text).get<double>(), v) << text;
    // Written as a float lexeme, never as a bare integer.
    EXPECT_NE(text.find_first_of(".eE"), std::string::npos) << text;
  }
}

TEST(JsonWriterTest, WritesNonFiniteDoublesAsStrings) {
  EXPECT_EQ(OneDouble(std::nan("")), R"("NaN")");
  EXPECT_EQ(OneDouble(-std::nan("")), R"("NaN")");
  EXPECT_EQ(OneDouble(std::numeric_limits<double>::infinity()), R"("Infinity")");
  EXPECT_EQ(OneDouble(-std::numeric_limits<double>::infinity()), R"("-Infinity")");
}

TEST(JsonWriterTest, DocumentParsesBackWithNlohmann) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject()
      .Field("name", "run \"1\"\t\\ \xc3\xa9")
      .Field("count", std::numeric_limits<int64_t>::min())
      .Field("value", 0.1)
      .Field("nan", std::nan(""))
      .Field("inf", -std::numeric_limits<double>::infinity())
      .Key("list")
      .BeginArray();
  for (int i = 0; i < 3; ++i) {
    w.BeginObject().Field("i", int64_t{i}).Field("d", double(i)).EndObject();
  }
  w.EndArray().EndObject();

  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["name"], "run \"1\"\t\\ \xc3\xa9");
  EXPECT_EQ(j["count"].get<int64_t>(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(j["value"].get<double>(), 0.1);
  EXPECT_EQ(j["nan"], "NaN");
  EXPECT_EQ(j["inf"], "-Infinity");
  ASSERT_EQ(j["list"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(j["list"][i]["i"].get<int64_t>(), i);
    EXPECT_TRUE(j["list"][i]["d"].is_number_float());
    EXPECT_EQ(j["list"][i]["d"].get<double>(), double(i));
  }
}

}  // namespace
}  // namespace ringo
