// Cron expressions evaluated in a time zone (ICU's zone data, the system tzdata).
#include <unicode/calendar.h>
#include <unicode/gregocal.h>
#include <unicode/timezone.h>

#include <array>
#include <memory>

#include "common/util.h"
#include "schedule/schedule.h"

namespace ringo::schedule {

namespace {

constexpr std::array<const char*, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<const char*, 7> kDays = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct FieldSpec {
  const char* name;
  int lo, hi;
  const char* const* names;  // optional names for lo.. (months from 1, days from 0)
  size_t name_count;
};

Result<int> Value(std::string_view text, const FieldSpec& f) {
  for (size_t i = 0; i < f.name_count; ++i) {
    if (ToLower(text) == f.names[i]) return f.lo + static_cast<int>(i);
  }
  auto v = ParseInt64(text);
  int hi = f.hi == 6 ? 7 : f.hi;  // day of week 7 is Sunday too
  if (!v || *v < f.lo || *v > hi) {
    return InvalidArgument("invalid cron " + std::string(f.name) + " '" + std::string(text) +
                           "': expected " + std::to_string(f.lo) + "-" + std::to_string(hi));
  }
  return static_cast<int>(*v);
}

// One field ("*", "*/5", "1-5", "1,3,5", "mon-fri", "10-50/10") as a bit set.
Result<uint64_t> ParseField(std::string_view text, const FieldSpec& f, bool* any) {
  *any = text == "*" || text == "?";
  uint64_t bits = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string_view part = text.substr(pos, comma == std::string_view::npos ? text.npos : comma - pos);
    if (part.empty()) return InvalidArgument("invalid cron " + std::string(f.name) + " '" + std::string(text) + "'");
    int step = 1;
    size_t slash = part.find('/');
    if (slash != std::string_view::npos) {
      auto s = ParseInt64(part.substr(slash + 1));
      if (!s || *s < 1 || *s > f.hi + 1) {
        return InvalidArgument("invalid cron step '" + std::string(part) + "' in the " + f.name);
      }
      step = static_cast<int>(*s);
      part = part.substr(0, slash);
    }
    int lo = f.lo, hi = f.hi;
    if (part != "*" && part != "?") {
      size_t dash = part.find('-');
      ASSIGN_OR_RETURN(lo, Value(part.substr(0, dash), f));
      hi = lo;
      if (dash != std::string_view::npos) {
        ASSIGN_OR_RETURN(hi, Value(part.substr(dash + 1), f));
      } else if (slash != std::string_view::npos) {
        hi = f.hi;  // "5/15": from 5 on
      }
      if (hi < lo) return InvalidArgument("invalid cron range '" + std::string(part) + "'");
    }
    for (int v = lo; v <= hi; v += step) bits |= uint64_t{1} << (v == 7 && f.hi == 6 ? 0 : v);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return bits;
}

std::unique_ptr<icu::Calendar> CalendarIn(const std::string& zone) {
  UErrorCode status = U_ZERO_ERROR;
  auto cal = std::make_unique<icu::GregorianCalendar>(
      icu::TimeZone::createTimeZone(icu::UnicodeString::fromUTF8(zone)), status);
  if (U_FAILURE(status)) return nullptr;
  return cal;
}

}  // namespace

Result<Cron> Cron::Parse(std::string_view expression, std::string_view time_zone) {
  std::string expr(expression);
  if (expr == "@hourly") expr = "0 * * * *";
  if (expr == "@daily" || expr == "@midnight") expr = "0 0 * * *";
  if (expr == "@weekly") expr = "0 0 * * 0";
  if (expr == "@monthly") expr = "0 0 1 * *";
  if (expr == "@yearly" || expr == "@annually") expr = "0 0 1 1 *";
  std::vector<std::string> fields;
  for (size_t i = 0; i < expr.size();) {
    while (i < expr.size() && expr[i] == ' ') ++i;
    size_t j = expr.find(' ', i);
    if (i < expr.size()) fields.push_back(expr.substr(i, j == std::string::npos ? j : j - i));
    i = j == std::string::npos ? expr.size() : j;
  }
  if (fields.size() != 5) {
    return InvalidArgument("invalid cron expression '" + std::string(expression) +
                           "': expected 5 fields (minute hour day-of-month month day-of-week)");
  }
  Cron c;
  bool any = false;
  ASSIGN_OR_RETURN(c.minutes_, ParseField(fields[0], {"minute", 0, 59, nullptr, 0}, &any));
  ASSIGN_OR_RETURN(uint64_t h, ParseField(fields[1], {"hour", 0, 23, nullptr, 0}, &any));
  ASSIGN_OR_RETURN(uint64_t d, ParseField(fields[2], {"day of month", 1, 31, nullptr, 0}, &c.mday_any_));
  ASSIGN_OR_RETURN(uint64_t m, ParseField(fields[3], {"month", 1, 12, kMonths.data(), 12}, &any));
  ASSIGN_OR_RETURN(uint64_t w, ParseField(fields[4], {"day of week", 0, 6, kDays.data(), 7}, &c.wday_any_));
  c.hours_ = static_cast<uint32_t>(h);
  c.mdays_ = static_cast<uint32_t>(d);
  c.months_ = static_cast<uint32_t>(m);
  c.wdays_ = static_cast<uint32_t>(w);
  c.zone_ = time_zone.empty() ? "UTC" : std::string(time_zone);
  // ICU answers an unknown zone with GMT under the name "Etc/Unknown".
  std::unique_ptr<icu::TimeZone> tz(
      icu::TimeZone::createTimeZone(icu::UnicodeString::fromUTF8(c.zone_)));
  icu::UnicodeString id;
  tz->getID(id);
  if (*tz == icu::TimeZone::getUnknown() || id == icu::UnicodeString("Etc/Unknown")) {
    return InvalidArgument("unknown time zone '" + c.zone_ + "' (use an IANA name such as "
                           "Europe/Paris, or UTC)");
  }
  return c;
}

bool Cron::Matches(int minute, int hour, int mday, int month, int wday) const {
  if (!(minutes_ >> minute & 1) || !(hours_ >> hour & 1) || !(months_ >> month & 1)) return false;
  bool d = mdays_ >> mday & 1, w = wdays_ >> wday & 1;
  if (mday_any_ || wday_any_) return d && w;
  return d || w;
}

std::optional<int64_t> Cron::Next(int64_t after) const {
  std::unique_ptr<icu::Calendar> cal = CalendarIn(zone_);
  if (!cal) return std::nullopt;
  int64_t t = (after / 60 + 1) * 60;
  const int64_t limit = t + int64_t{5} * 366 * 24 * 3600;
  for (; t < limit; t += 60) {
    UErrorCode status = U_ZERO_ERROR;
    cal->setTime(static_cast<UDate>(t) * 1000.0, status);
    int hour = cal->get(UCAL_HOUR_OF_DAY, status);
    int mday = cal->get(UCAL_DAY_OF_MONTH, status);
    int month = cal->get(UCAL_MONTH, status) + 1;
    int wday = cal->get(UCAL_DAY_OF_WEEK, status) - 1;
    int minute = cal->get(UCAL_MINUTE, status);
    if (U_FAILURE(status)) return std::nullopt;
    if (!(months_ >> month & 1)) continue;
    if (!(hours_ >> hour & 1)) {
      t += int64_t{60} * (59 - minute);  // skip the rest of this local hour
      continue;
    }
    if (Matches(minute, hour, mday, month, wday)) return t;
  }
  return std::nullopt;
}

}  // namespace ringo::schedule
