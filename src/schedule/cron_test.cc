// Tests of cron expressions: the grammar, slots in UTC, in other zones and across a
// daylight-saving change.
#include <gtest/gtest.h>

#include "schedule/schedule.h"

namespace ringo::schedule {
namespace {

// 2026-12-05T12:00:00Z
constexpr int64_t kNoon = 1796472000;

int64_t Next(const std::string& expr, int64_t after, const std::string& zone = "UTC") {
  auto c = Cron::Parse(expr, zone);
  EXPECT_TRUE(c.ok()) << expr << ": " << c.status().ToString();
  if (!c.ok()) return -1;
  return c->Next(after).value_or(-1);
}

TEST(CronTest, NextSlotsInUtc) {
  EXPECT_EQ(Next("* * * * *", kNoon), kNoon + 60);
  EXPECT_EQ(Next("* * * * *", kNoon + 59), kNoon + 60);
  EXPECT_EQ(Next("*/15 * * * *", kNoon), kNoon + 15 * 60);
  EXPECT_EQ(Next("30 12 * * *", kNoon), kNoon + 30 * 60);
  EXPECT_EQ(Next("0 12 * * *", kNoon), kNoon + 24 * 3600);
  EXPECT_EQ(Next("@hourly", kNoon), kNoon + 3600);
  EXPECT_EQ(Next("0 0 1 1 *", kNoon), 1798761600);  // 2027-01-01T00:00Z
  // 2026-12-05 is a Saturday: the next weekday 09:00 is Monday the 7th.
  EXPECT_EQ(Next("0 9 * * mon-fri", kNoon), kNoon + 2 * 86400 - 3 * 3600);
  EXPECT_EQ(Next("0 9 * * 7", kNoon), kNoon + 86400 - 3 * 3600);  // 7 is Sunday
  // Day of month or day of week when both are restricted (the 6th, or any Saturday).
  EXPECT_EQ(Next("0 13 6 * sat", kNoon), kNoon + 3600);
  EXPECT_EQ(Next("0 0 30 2 *", kNoon), -1);  // never
}

TEST(CronTest, TimeZonesAndDaylightSaving) {
  // 09:00 in Paris is 08:00Z in winter.
  EXPECT_EQ(Next("0 9 * * *", kNoon, "Europe/Paris"), kNoon + 86400 - 4 * 3600);
  // Europe/Paris springs forward on 2027-03-28 at 02:00 local: 02:30 never happens that day,
  // and 03:30 local is 01:30Z.
  const int64_t mar28 = 1806192000;  // 2027-03-28T00:00Z
  EXPECT_EQ(Next("30 2 28 3 *", mar28 - 60, "Europe/Paris"), 1837816200);  // 2028-03-28T00:30Z (summer time by then)
  EXPECT_EQ(Next("30 3 28 3 *", mar28 - 60, "Europe/Paris"), mar28 + 5400);
}

TEST(CronTest, RefusesWhatItCannotRead) {
  for (const char* bad : {"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
                          "* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "x * * * *",
                          "1,,2 * * * *", "* * * foo *"}) {
    auto c = Cron::Parse(bad);
    EXPECT_FALSE(c.ok()) << bad;
    if (!c.ok()) {
      EXPECT_EQ(c.status().code(), Code::kInvalidArgument) << bad;
    }
  }
  for (const char* zone : {"Mars/Olympus", "Europe/Par\xffis", "Etc/Unknown"}) {
    auto tz = Cron::Parse("* * * * *", zone);
    ASSERT_FALSE(tz.ok()) << zone;
    EXPECT_NE(tz.status().message().find("unknown time zone"), std::string::npos) << zone;
  }
}

TEST(CronTest, ZonesByAnyNameIcuKnows) {
  // The longest IANA name, an offset from GMT, and a zone's old alias.
  EXPECT_EQ(Next("0 9 * * *", kNoon, "America/Argentina/ComodRivadavia"), kNoon + 86400);
  EXPECT_EQ(Next("0 9 * * *", kNoon, "GMT+05:00"), kNoon + 86400 - 8 * 3600);
  EXPECT_EQ(Next("0 9 * * *", kNoon, "Asia/Calcutta"), kNoon + 86400 - 8 * 3600 - 1800);
}

}  // namespace
}  // namespace ringo::schedule
