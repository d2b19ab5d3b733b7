// Targeting: dotted version comparison, version ranges and the channel rules built on them.
#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "common/util.h"
#include "deploy/deploy.h"

namespace ringo::deploy {

using nlohmann::json;

namespace {

// The numeric components of a dotted version; nullopt unless every component is digits.
std::optional<std::vector<uint64_t>> Components(std::string_view v) {
  if (v.empty()) return std::nullopt;
  std::vector<uint64_t> out;
  size_t start = 0;
  for (;;) {
    size_t dot = v.find('.', start);
    std::string_view part = v.substr(start, dot == std::string_view::npos ? v.npos : dot - start);
    if (part.empty() || part.size() > 9) return std::nullopt;
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), n);
    if (ec != std::errc() || end != part.data() + part.size()) return std::nullopt;
    out.push_back(n);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// Whether a bound lets through at least the version at the other: lower (min) vs upper (max).
bool LowerBelowUpper(const std::string& min, bool min_incl, const std::string& max,
                     bool max_incl) {
  if (min.empty() || max.empty()) return true;
  int c = *CompareVersions(min, max);
  return c < 0 || (c == 0 && min_incl && max_incl);
}

bool AnyOf(const std::vector<std::string>& list, const std::string& value, bool fold_case) {
  if (list.empty()) return true;
  if (value.empty()) return false;
  std::string v = fold_case ? ToLower(value) : value;
  for (const std::string& item : list) {
    if ((fold_case ? ToLower(item) : item) == v) return true;
  }
  return false;
}

}  // namespace

std::optional<int> CompareVersions(std::string_view a, std::string_view b) {
  auto x = Components(a);
  auto y = Components(b);
  if (!x || !y) return std::nullopt;
  size_t n = std::max(x->size(), y->size());
  x->resize(n, 0);
  y->resize(n, 0);
  if (*x < *y) return -1;
  if (*x > *y) return 1;
  return 0;
}

bool VersionRange::Contains(std::string_view version) const {
  if (unbounded()) return true;
  if (!Components(version)) return false;
  if (!min.empty()) {
    int c = *CompareVersions(version, min);
    if (c < 0 || (c == 0 && !min_inclusive)) return false;
  }
  if (!max.empty()) {
    int c = *CompareVersions(version, max);
    if (c > 0 || (c == 0 && !max_inclusive)) return false;
  }
  return true;
}

bool VersionRange::Overlaps(const VersionRange& o) const {
  // Intersect: the tighter lower bound must lie below the tighter upper bound. With dense
  // versions (there is always one between two distinct versions) that is exact.
  return LowerBelowUpper(min, min_inclusive, o.max, o.max_inclusive) &&
         LowerBelowUpper(o.min, o.min_inclusive, max, max_inclusive);
}

std::string VersionRange::ToString() const {
  if (unbounded()) return "*";
  if (!min.empty() && !max.empty() && min_inclusive && max_inclusive &&
      *CompareVersions(min, max) == 0) {
    return "==" + min;
  }
  std::string out;
  if (!min.empty()) out += (min_inclusive ? ">=" : ">") + min;
  if (!max.empty()) out += (out.empty() ? "" : ",") + std::string(max_inclusive ? "<=" : "<") + max;
  return out;
}

Result<VersionRange> ParseVersionRange(std::string_view text) {
  VersionRange r;
  text = Trim(text);
  if (text.empty() || text == "*") return r;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    std::string_view part =
        Trim(text.substr(start, comma == std::string_view::npos ? text.npos : comma - start));
    std::string_view op;
    for (std::string_view candidate : {">=", "<=", "==", ">", "<", "="}) {
      if (part.substr(0, candidate.size()) == candidate) {
        op = candidate;
        break;
      }
    }
    std::string version(Trim(part.substr(op.size())));
    if (!Components(version)) {
      return InvalidArgument("invalid version constraint '" + std::string(part) +
                             "' in range '" + std::string(text) +
                             "': expected >=, >, <=, <, == and a dotted numeric version");
    }
    bool lower = op == ">=" || op == ">" || op.empty() || op == "==" || op == "=";
    bool upper = op == "<=" || op == "<" || op.empty() || op == "==" || op == "=";
    bool inclusive = op != ">" && op != "<";
    // Several bounds on one side: keep the tighter.
    if (lower) {
      int c = r.min.empty() ? 1 : *CompareVersions(version, r.min);
      if (c > 0 || (c == 0 && !inclusive)) {
        r.min = version;
        r.min_inclusive = inclusive;
      }
    }
    if (upper) {
      int c = r.max.empty() ? -1 : *CompareVersions(version, r.max);
      if (c < 0 || (c == 0 && !inclusive)) {
        r.max = version;
        r.max_inclusive = inclusive;
      }
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (!LowerBelowUpper(r.min, r.min_inclusive, r.max, r.max_inclusive)) {
    return InvalidArgument("version range '" + std::string(text) + "' contains no version");
  }
  return r;
}

bool Rule::Matches(const DeviceQuery& d) const {
  if (!device_ids.empty() && !AnyOf(device_ids, d.device_id, false)) return false;
  if (!AnyOf(device_classes, d.device_class, false)) return false;
  if (!AnyOf(os, d.os, true)) return false;
  if (!os_version.Contains(d.os_version)) return false;
  if (!app_version.Contains(d.app_version)) return false;
  if (!AnyOf(regions, d.region, true)) return false;
  if (!AnyOf(languages, d.language, true)) return false;
  return true;
}

int MatchRule(const std::vector<Rule>& rules, const DeviceQuery& device) {
  for (size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].Matches(device)) return static_cast<int>(i);
  }
  return -1;
}

Result<std::vector<Rule>> ParseRules(std::string_view text) {
  // Rules are an array of flat objects; anything deeper is refused before parsing.
  if (!JsonDepthWithin(text, 8)) return InvalidArgument("rules nest too deep");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return InvalidArgument("rules are not valid JSON");
  if (j.is_object() && j.contains("rules")) j = j["rules"];
  if (!j.is_array()) return InvalidArgument("rules must be a JSON array (or {\"rules\": [...]})");
  if (j.size() > 100) return InvalidArgument("at most 100 rules per channel");
  std::vector<Rule> out;
  for (size_t i = 0; i < j.size(); ++i) {
    const json& r = j[i];
    std::string where = "rule " + std::to_string(i + 1);
    if (!r.is_object()) return InvalidArgument(where + " is not an object");
    Rule rule;
    if (r.contains("name")) {
      if (!r["name"].is_string()) return InvalidArgument(where + ": 'name' must be a string");
      rule.name = r["name"].get<std::string>();
      where += " ('" + rule.name + "')";
    }
    auto list = [&](const char* field, std::vector<std::string>* dst) -> Status {
      const json& v = r[field];
      if (v.is_string()) {
        dst->push_back(v.get<std::string>());
      } else if (v.is_array() && !v.empty()) {
        for (const json& item : v) {
          if (!item.is_string() || item.get<std::string>().empty())
            return InvalidArgument(where + ": '" + field + "' must list non-empty strings");
          dst->push_back(item.get<std::string>());
        }
      } else {
        return InvalidArgument(where + ": '" + field +
                               "' must be a string or a non-empty list of strings");
      }
      return Status::Ok();
    };
    auto range = [&](const char* field, VersionRange* dst) -> Status {
      const json& v = r[field];
      if (v.is_string()) {
        auto parsed = ParseVersionRange(v.get<std::string>());
        if (!parsed.ok()) return InvalidArgument(where + ": " + parsed.status().message());
        *dst = *parsed;
        return Status::Ok();
      }
      if (!v.is_object()) {
        return InvalidArgument(where + ": '" + field +
                               "' must be a range string or {\"min\": ..., \"max\": ...}");
      }
      std::string spec;
      for (auto& [k, bound] : v.items()) {
        if ((k != "min" && k != "max") || !bound.is_string())
          return InvalidArgument(where + ": '" + field + "' takes string 'min' and 'max' only");
        spec += (spec.empty() ? "" : ",") + std::string(k == "min" ? ">=" : "<=") +
                bound.get<std::string>();
      }
      auto parsed = ParseVersionRange(spec);
      if (!parsed.ok()) return InvalidArgument(where + ": " + parsed.status().message());
      *dst = *parsed;
      return Status::Ok();
    };
    for (auto& [key, value] : r.items()) {
      Status s = Status::Ok();
      if (key == "name") {
        continue;
      } else if (key == "deployment_id") {
        if (!value.is_string() || value.get<std::string>().empty())
          return InvalidArgument(where + ": 'deployment_id' must be a non-empty string");
        rule.deployment_id = value.get<std::string>();
      } else if (key == "device_ids" || key == "device_id") {
        s = list(key.c_str(), &rule.device_ids);
      } else if (key == "device_class" || key == "device_classes") {
        s = list(key.c_str(), &rule.device_classes);
      } else if (key == "os") {
        s = list("os", &rule.os);
      } else if (key == "region" || key == "regions") {
        s = list(key.c_str(), &rule.regions);
      } else if (key == "language" || key == "languages") {
        s = list(key.c_str(), &rule.languages);
      } else if (key == "os_version") {
        s = range("os_version", &rule.os_version);
      } else if (key == "app_version" || key == "app_versions") {
        s = range(key.c_str(), &rule.app_version);
      } else {
        return InvalidArgument(where + ": unknown field '" + key + "'");
      }
      if (!s.ok()) return s;
    }
    if (rule.deployment_id.empty()) return InvalidArgument(where + " names no 'deployment_id'");
    out.push_back(std::move(rule));
  }
  return out;
}

std::string RulesToJson(const std::vector<Rule>& rules) {
  json arr = json::array();
  for (const Rule& r : rules) {
    json j = {{"deployment_id", r.deployment_id}};
    if (!r.name.empty()) j["name"] = r.name;
    if (!r.device_ids.empty()) j["device_ids"] = r.device_ids;
    if (!r.device_classes.empty()) j["device_class"] = r.device_classes;
    if (!r.os.empty()) j["os"] = r.os;
    if (!r.os_version.unbounded()) j["os_version"] = r.os_version.ToString();
    if (!r.app_version.unbounded()) j["app_version"] = r.app_version.ToString();
    if (!r.regions.empty()) j["region"] = r.regions;
    if (!r.languages.empty()) j["language"] = r.languages;
    arr.push_back(std::move(j));
  }
  return arr.dump();
}

}  // namespace ringo::deploy
