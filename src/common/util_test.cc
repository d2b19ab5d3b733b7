// Tests for the shared helpers: ids, base64, number parsing, LIKE matching,
// percent-decoding.
#include "common/util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace ringo {
namespace {

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST(NewIdTest, Is32LowercaseHexChars) {
  for (int i = 0; i < 100; ++i) {
    std::string id = NewId();
    EXPECT_EQ(id.size(), 32u);
    EXPECT_TRUE(IsLowerHex(id)) << id;
  }
}

TEST(NewIdTest, IdsAreUniqueAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(NewId());
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), size_t{kThreads * kPerThread});
}

TEST(NewSecretTest, IsHexOfTheRequestedLength) {
  EXPECT_EQ(NewSecret().size(), 64u);
  EXPECT_EQ(NewSecret(16).size(), 32u);
  EXPECT_TRUE(IsLowerHex(NewSecret()));
}

// Secrets must not come from the id generator: after many ids on this thread, a secret is none
// of the values that generator produces next, nor any of the ids already handed out.
TEST(NewSecretTest, IsNotDrawnFromTheIdGenerator) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(NewId());
  std::string secret = NewSecret(16);
  std::set<std::string> next;
  for (int i = 0; i < 1000; ++i) next.insert(NewId());
  EXPECT_EQ(ids.count(secret), 0u);
  EXPECT_EQ(next.count(secret), 0u);
  std::set<std::string> secrets;
  for (int i = 0; i < 1000; ++i) secrets.insert(NewSecret(16));
  EXPECT_EQ(secrets.size(), 1000u);
}

TEST(Utf8Test, Table) {
  struct Case {
    std::string_view text;
    bool valid;
  };
  const Case cases[] = {
      {"", true},
      {"plain ascii", true},
      {"\xc3\xa9", true},
      {"\xe2\x82\xac", true},
      {"\xf0\x9f\x8d\x8e", true},
      {"\xf4\x8f\xbf\xbf", true},  // U+10FFFF
      {"\xff", false},
      {"\x80", false},
      {"\xc3", false},
      {"\xc0\x80", false},            // overlong NUL
      {"\xe0\x80\x80", false},        // overlong
      {"\xed\xa0\x80", false},        // surrogate
      {"\xf4\x90\x80\x80", false},    // past U+10FFFF
      {"\xf5\x80\x80\x80", false},
      {"ok\xe2\x82", false},          // truncated at the end
  };
  for (const Case& c : cases) EXPECT_EQ(IsValidUtf8(c.text), c.valid) << c.text;
}

TEST(JsonDepthTest, CountsContainersOutsideStrings) {
  EXPECT_TRUE(JsonDepthWithin(R"({"a":[1,{"b":2}]})", 3));
  EXPECT_FALSE(JsonDepthWithin(R"({"a":[1,{"b":2}]})", 2));
  EXPECT_TRUE(JsonDepthWithin(R"({"a":"[[[[[[[[[["})", 1));
  EXPECT_TRUE(JsonDepthWithin(R"({"a":"\"[[[[[[[["})", 1));
  std::string deep(100000, '[');
  EXPECT_FALSE(JsonDepthWithin(deep, 64));
  std::string siblings;
  for (int i = 0; i < 1000; ++i) siblings += "[]";
  EXPECT_TRUE(JsonDepthWithin(siblings, 1));
}

TEST(CpusTest, CgroupCpuMaxTable) {
  EXPECT_EQ(ParseCgroupCpuMax("max 100000"), std::nullopt);
  EXPECT_EQ(ParseCgroupCpuMax("max 100000\n"), std::nullopt);
  EXPECT_EQ(ParseCgroupCpuMax("150000 100000\n"), 1.5);
  EXPECT_EQ(ParseCgroupCpuMax("100000 100000"), 1.0);
  EXPECT_EQ(ParseCgroupCpuMax("50000 100000"), 0.5);
  EXPECT_EQ(ParseCgroupCpuMax(""), std::nullopt);
  EXPECT_EQ(ParseCgroupCpuMax("garbage"), std::nullopt);
  EXPECT_EQ(ParseCgroupCpuMax("-1 100000"), std::nullopt);
  EXPECT_EQ(ParseCgroupCpuMax("100 0"), std::nullopt);
}

TEST(CpusTest, UsableCpusIsWithinTheAffinitySet) {
  int cpus = UsableCpus();
  EXPECT_GE(cpus, 1);
  EXPECT_LE(cpus, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

TEST(NowMillisTest, IsAfter2020) { EXPECT_GT(NowMillis(), int64_t{1577836800000}); }

TEST(Base64Test, EncodesRfc4648Vectors) {
  struct Case {
    std::string_view plain;
    std::string_view encoded;
  };
  const Case cases[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Base64Encode(c.plain), c.encoded);
    EXPECT_EQ(Base64Decode(c.encoded), std::string(c.plain));
  }
}

TEST(Base64Test, RoundTripsEveryLengthModThree) {
  std::string data;
  for (int n = 0; n < 300; ++n) {
    std::string encoded = Base64Encode(data);
    EXPECT_EQ(encoded.size(), (data.size() + 2) / 3 * 4);
    EXPECT_EQ(Base64Decode(encoded), data) << "length " << n;
    // Padding is optional on decode.
    std::string unpadded = encoded.substr(0, encoded.find('='));
    EXPECT_EQ(Base64Decode(unpadded), data) << "length " << n;
    data.push_back(static_cast<char>((n * 37 + 11) & 0xff));
  }
}

TEST(Base64Test, RoundTripsAllByteValues) {
  std::string data;
  for (int c = 0; c < 256; ++c) data.push_back(static_cast<char>(c));
  EXPECT_EQ(Base64Decode(Base64Encode(data)), data);
}

TEST(Base64Test, DecodesUrlSafeAlphabet) {
  const std::string data = "\xfb\xff\xbf";
  EXPECT_EQ(Base64Encode(data), "+/+/");
  EXPECT_EQ(Base64Decode("-_-_"), data);
  EXPECT_EQ(Base64Decode("+/+/"), data);
  EXPECT_EQ(Base64Decode("-_8"), std::string("\xfb\xff"));
}

TEST(Base64Test, RejectsBadInput) {
  const std::string_view bad[] = {"A", "AAAAA", "Zm9v!", "Zm 9v", "Zm9v\n", "Zg==Zg==", "\xc3\xa9"};
  for (std::string_view s : bad) EXPECT_EQ(Base64Decode(s), std::nullopt) << s;
}

TEST(ParseInt64Test, Table) {
  struct Case {
    std::string_view input;
    std::optional<int64_t> want;
  };
  const Case cases[] = {
      {"0", 0},
      {"42", 42},
      {"-12", -12},
      {"+7", 7},
      {"007", 7},
      {"9223372036854775807", std::numeric_limits<int64_t>::max()},
      {"-9223372036854775808", std::numeric_limits<int64_t>::min()},
      {"9223372036854775808", std::nullopt},
      {"-9223372036854775809", std::nullopt},
      {"99999999999999999999999", std::nullopt},
      {"", std::nullopt},
      {"+", std::nullopt},
      {"-", std::nullopt},
      {"+-1", std::nullopt},
      {"++1", std::nullopt},
      {"12a", std::nullopt},
      {"1.0", std::nullopt},
      {"1e3", std::nullopt},
      {" 12", std::nullopt},
      {"12 ", std::nullopt},
      {"0x10", std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(ParseInt64(c.input), c.want) << "'" << c.input << "'";
}

TEST(ParseDoubleTest, Table) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  struct Case {
    std::string_view input;
    std::optional<double> want;
  };
  const Case cases[] = {
      {"0", 0.0},
      {"1.5", 1.5},
      {"-2.25", -2.25},
      {"+3", 3.0},
      {"1e3", 1000.0},
      {"1E-2", 0.01},
      {"0.1", 0.1},
      {"1.7976931348623157e308", std::numeric_limits<double>::max()},
      {"Infinity", kInf},
      {"infinity", kInf},
      {"INF", kInf},
      {"inf", kInf},
      {"+Infinity", kInf},
      {"-Infinity", -kInf},
      {"-inf", -kInf},
      {"1e999", std::nullopt},
      {"-1e999", std::nullopt},
      {"", std::nullopt},
      {"+", std::nullopt},
      {"-", std::nullopt},
      {"+-1", std::nullopt},
      {"1.5x", std::nullopt},
      {"1.5 ", std::nullopt},
      {" 1.5", std::nullopt},
      {"1,5", std::nullopt},
      {"0x10", std::nullopt},
      {"abc", std::nullopt},
      {"Infinityx", std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(ParseDouble(c.input), c.want) << "'" << c.input << "'";
}

TEST(ParseDoubleTest, NaNSpellings) {
  for (std::string_view s : {"NaN", "nan", "NAN"}) {
    std::optional<double> v = ParseDouble(s);
    ASSERT_TRUE(v.has_value()) << s;
    EXPECT_TRUE(std::isnan(*v)) << s;
  }
  EXPECT_EQ(ParseDouble("NaNa"), std::nullopt);
}

TEST(LikeMatchTest, Table) {
  struct Case {
    std::string_view text;
    std::string_view pattern;
    bool case_insensitive;
    bool want;
  };
  const Case cases[] = {
      // Literals and empties.
      {"", "", false, true},
      {"a", "", false, false},
      {"", "a", false, false},
      {"abc", "abc", false, true},
      {"abc", "ab", false, false},
      {"ab", "abc", false, false},
      // '%' matches any run, including none.
      {"", "%", false, true},
      {"anything", "%", false, true},
      {"", "%%", false, true},
      {"abc", "a%", false, true},
      {"abc", "%c", false, true},
      {"abc", "%b%", false, true},
      {"abc", "a%c", false, true},
      {"ac", "a%c", false, true},
      {"abd", "a%c", false, false},
      {"", "a%", false, false},
      // '_' matches exactly one character.
      {"abc", "a_c", false, true},
      {"ac", "a_c", false, false},
      {"abbc", "a_c", false, false},
      {"", "_", false, false},
      {"x", "_", false, true},
      {"abc", "___", false, true},
      {"abc", "__", false, false},
      {"abc", "_%", false, true},
      {"a", "%_", false, true},
      {"", "%_", false, false},
      // Backtracking: the first candidate for '%' is not the right one.
      {"aaab", "%ab", false, true},
      {"abcabd", "%abd", false, true},
      {"abcabc", "%abd", false, false},
      {"xaybzc", "%a%b%c", false, true},
      {"xaybz", "%a%b%c", false, false},
      {"abcbc", "a%b%c", false, true},
      {"mississippi", "%iss%ppi", false, true},
      {"mississippi", "m%ss%ss%", false, true},
      {"mississippi", "m%ss%ss%ss%", false, false},
      {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "%a%a%a%a%a%a%a%c", false, false},
      // LIKE is case-sensitive, ILIKE folds ASCII only.
      {"ABC", "abc", false, false},
      {"ABC", "abc", true, true},
      {"abc", "A%", false, false},
      {"abc", "A%", true, true},
      {"Model-X", "%-x", true, true},
      {"Model-X", "%-x", false, false},
      {"\xc3\x89", "\xc3\xa9", true, false},
      {"\xc3\xa9t\xc3\xa9", "_%", false, true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(LikeMatch(c.text, c.pattern, c.case_insensitive), c.want)
        << "'" << c.text << "' " << (c.case_insensitive ? "ILIKE" : "LIKE") << " '" << c.pattern
        << "'";
  }
}

TEST(ToLowerTest, FoldsAsciiOnly) {
  EXPECT_EQ(ToLower("AbC-Z09_\xc3\x89"), "abc-z09_\xc3\x89");
  EXPECT_EQ(ToLower(""), "");
}

TEST(PercentDecodeTest, Table) {
  struct Case {
    std::string_view input;
    bool plus_is_space;
    std::optional<std::string> want;
  };
  const Case cases[] = {
      {"", false, ""},
      {"plain", false, "plain"},
      {"a%20b", false, "a b"},
      {"%2F%2f", false, "//"},
      {"%41%62", false, "Ab"},
      {"%C3%A9", false, "\xc3\xa9"},
      {"%25", false, "%"},
      {"%2525", false, "%25"},
      {"a+b", false, "a+b"},
      {"a+b", true, "a b"},
      {"%2B", true, "+"},
      {"%00", false, std::string("\0", 1)},
      {"a%00b", false, std::string("a\0b", 3)},
      {"%", false, std::nullopt},
      {"a%", false, std::nullopt},
      {"%2", false, std::nullopt},
      {"a%2", false, std::nullopt},
      {"%zz", false, std::nullopt},
      {"%g0", false, std::nullopt},
      {"%0g", false, std::nullopt},
      {"%%20", false, std::nullopt},
      {"%-1", false, std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PercentDecode(c.input, c.plus_is_space), c.want)
        << "'" << c.input << "' plus_is_space=" << c.plus_is_space;
  }
}

}  // namespace
}  // namespace ringo
