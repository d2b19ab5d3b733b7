// Cron expressions evaluated in a time zone (ICU's zone data, the system tzdata).
#include <dlfcn.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>
#include <unicode/uvernum.h>

#include <array>
#include <memory>
#include <string>
#include <type_traits>

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

// ICU is loaded when a cron expression first needs a time zone rather than linked: linked, its
// libraries were loaded and relocated by every ringo process (about 1 ms of `ringo --help`).
// Its C functions carry the ICU version in their names (ucal_open is ucal_open_72), as the
// macros of its headers spell them; RINGO_ICU_NAME turns those into the names to look up.
#define RINGO_ICU_NAME_(name) #name
#define RINGO_ICU_NAME(name) RINGO_ICU_NAME_(name)

struct Icu {
  decltype(&::u_strFromUTF8WithSub) from_utf8;
  decltype(&::ucal_open) open;
  decltype(&::ucal_close) close;
  decltype(&::ucal_getTimeZoneID) zone_id;
  decltype(&::ucal_setMillis) set_millis;
  decltype(&::ucal_get) get;
};

// The loaded functions, or nullptr when libicui18n (which brings libicuuc) cannot be loaded.
// Thread-safe; loads once per process and is never unloaded.
const Icu* LoadIcu() {
  static const Icu* const icu = []() -> const Icu* {
    void* lib = dlopen("libicui18n.so." RINGO_ICU_NAME(U_ICU_VERSION_MAJOR_NUM),
                       RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return nullptr;
    static Icu loaded;
    bool complete = true;
    auto resolve = [&](const char* name, auto* fn) {
      *fn = reinterpret_cast<std::remove_pointer_t<decltype(fn)>>(dlsym(lib, name));
      complete = complete && *fn != nullptr;
    };
    resolve(RINGO_ICU_NAME(u_strFromUTF8WithSub), &loaded.from_utf8);
    resolve(RINGO_ICU_NAME(ucal_open), &loaded.open);
    resolve(RINGO_ICU_NAME(ucal_close), &loaded.close);
    resolve(RINGO_ICU_NAME(ucal_getTimeZoneID), &loaded.zone_id);
    resolve(RINGO_ICU_NAME(ucal_setMillis), &loaded.set_millis);
    resolve(RINGO_ICU_NAME(ucal_get), &loaded.get);
    return complete ? &loaded : nullptr;
  }();
  return icu;
}

using Calendar = std::unique_ptr<UCalendar, void (*)(UCalendar*)>;

// A Gregorian calendar in `zone` (ill-formed UTF-8 replaced by U+FFFD); an unknown zone gives
// GMT under the name "Etc/Unknown". nullptr when ICU fails.
Calendar CalendarIn(const Icu& icu, const std::string& zone) {
  UErrorCode status = U_ZERO_ERROR;
  std::u16string id(zone.size(), u'\0');  // UTF-16 needs no more units than UTF-8 has bytes
  int32_t length = 0;
  icu.from_utf8(id.data(), static_cast<int32_t>(id.size()), &length, zone.data(),
                static_cast<int32_t>(zone.size()), 0xFFFD, nullptr, &status);
  if (U_FAILURE(status)) return Calendar(nullptr, icu.close);
  Calendar cal(icu.open(id.data(), length, nullptr, UCAL_GREGORIAN, &status), icu.close);
  if (U_FAILURE(status)) return Calendar(nullptr, icu.close);
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
  const Icu* icu = LoadIcu();
  if (icu == nullptr) {
    return FailedPrecondition("time zones need ICU: cannot load libicui18n.so." RINGO_ICU_NAME(
        U_ICU_VERSION_MAJOR_NUM));
  }
  Calendar cal = CalendarIn(*icu, c.zone_);
  std::u16string id(c.zone_.size() + 16, u'\0');  // the name as given, or a normalised one
  UErrorCode status = U_ZERO_ERROR;
  int32_t length = cal ? icu->zone_id(cal.get(), id.data(), static_cast<int32_t>(id.size()),
                                      &status)
                       : 0;
  // ICU answers an unknown zone with GMT under the name "Etc/Unknown".
  if (!cal || U_FAILURE(status) || id.substr(0, static_cast<size_t>(length)) == u"Etc/Unknown") {
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
  const Icu* icu = LoadIcu();
  if (icu == nullptr) return std::nullopt;  // Parse, which made this Cron, loaded it
  Calendar cal = CalendarIn(*icu, zone_);
  if (!cal) return std::nullopt;
  int64_t t = (after / 60 + 1) * 60;
  const int64_t limit = t + int64_t{5} * 366 * 24 * 3600;
  for (; t < limit; t += 60) {
    UErrorCode status = U_ZERO_ERROR;
    icu->set_millis(cal.get(), static_cast<UDate>(t) * 1000.0, &status);
    int hour = icu->get(cal.get(), UCAL_HOUR_OF_DAY, &status);
    int mday = icu->get(cal.get(), UCAL_DAY_OF_MONTH, &status);
    int month = icu->get(cal.get(), UCAL_MONTH, &status) + 1;
    int wday = icu->get(cal.get(), UCAL_DAY_OF_WEEK, &status) - 1;
    int minute = icu->get(cal.get(), UCAL_MINUTE, &status);
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
