// Tests for JsonWriter: escaping, structure, and number formatting.
#include "common/json_writer.h"

#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <random>
#include <string_view>
#include <vector>

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


// The text WriteJsonDouble must give any finite double: std::to_chars's shortest form, with ".0"
// when that reads as an integer. Its quick path for short decimals must never differ from it.
std::string ReferenceDouble(double v) {
  char buf[64];
  char* end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  std::string text(buf, end);
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

void ExpectAsToChars(double v) {
  char buf[kMaxJsonDouble];
  ASSERT_EQ(std::string(buf, WriteJsonDouble(buf, v)), ReferenceDouble(v)) << std::hexfloat << v;
}

TEST(JsonNumbersTest, ShortDecimalsAreWrittenAsToCharsWritesThem) {
  for (int64_t i = -200000; i <= 200000; ++i) {
    ExpectAsToChars(double(i) * 0.5);
    ExpectAsToChars(double(i) * 0.01);
    ExpectAsToChars(double(i) / 1000);
    ExpectAsToChars(double(i) * 1e-7);
    ExpectAsToChars(double(i) / 7);
  }
  // Exponent form where it is shorter (1e+05, 1e-04), fixed where it ties (0.001).
  for (int e = -12; e <= 12; ++e) {
    for (double m : {1.0, 2.0, 1.5, 12.0, 125.0, 9.0}) {
      ExpectAsToChars(m * std::pow(10.0, e));
      ExpectAsToChars(-m * std::pow(10.0, e));
    }
  }
  // Around the quick path's magnitude limit (2^29) and the neighbours of short decimals.
  for (double base : {536870911.0, 536870912.0, 536870911.9999999, 99999999.5, 0.1, 0.3}) {
    double v = base;
    for (int i = 0; i < 64; ++i, v = std::nextafter(v, 1e300)) ExpectAsToChars(v);
  }
  ExpectAsToChars(-0.0);
  ExpectAsToChars(0.0);
}

TEST(JsonNumbersTest, RandomDoublesAreWrittenAsToCharsWritesThem) {
  std::mt19937_64 gen(7);
  for (int i = 0; i < 300000; ++i) {
    double bits = std::bit_cast<double>(gen());
    if (std::isfinite(bits)) ExpectAsToChars(bits);
    // Short decimals of every length and scale.
    int64_t m = int64_t(gen() % 100000000000ull) - 50000000000ll;
    ExpectAsToChars(double(m) / std::pow(10.0, int(gen() % 12)));
  }
}

TEST(JsonNumbersTest, IntRunWritesEachIntegerAsToChars) {
  std::vector<int64_t> values;
  for (int64_t v = 9990; v < 10020; ++v) values.push_back(v);
  for (int64_t v = 99999990; v < 100000020; ++v) values.push_back(v);
  for (int64_t v = 1700000000000; v < 1700000030000; v += 7) values.push_back(v);
  values.insert(values.end(), {0, -1, -10000, -1700000000000, 5, 10000, 10000, 123456789, 10000,
                               std::numeric_limits<int64_t>::max(),
                               std::numeric_limits<int64_t>::min(), 42});
  std::mt19937_64 gen(11);
  for (int i = 0; i < 100000; ++i) values.push_back(int64_t(gen() >> (gen() % 64)));
  JsonIntRun run;
  for (int64_t v : values) {
    char buf[kMaxJsonInt + 4];
    std::fill(std::begin(buf), std::end(buf), '#');
    char* end = run.Write(buf, v);
    ASSERT_EQ(std::string(buf, end), std::to_string(v));
    ASSERT_EQ(buf[kMaxJsonInt], '#');
  }
}

}  // namespace
}  // namespace ringo
