// Request fields from a JSON body or a query string.
#include "api/request.h"

#include <charconv>

#include "api/api.h"
#include "common/util.h"
#include "http/http.h"

namespace ringo::api {

namespace {

// MLflow's wording, which its clients and tests match on: "Invalid value <the value as JSON>
// for parameter '<key>' supplied", followed by what was expected.
std::string InvalidValue(std::string_view value_json, std::string_view key,
                         std::string_view expected) {
  return "Invalid value " + std::string(value_json) + " for parameter '" + std::string(key) +
         "' supplied: expected " + std::string(expected);
}

std::string TypeError(simdjson::dom::element v, std::string_view key, std::string_view expected) {
  return InvalidValue(simdjson::minify(v), key, expected);
}

// A query-string value, quoted as the JSON string it arrived as.
std::string TypeError(std::string_view text, std::string_view key, std::string_view expected) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return InvalidValue(quoted + "\"", key, expected);
}

Result<std::optional<std::string>> ElemString(simdjson::dom::element v, std::string_view key) {
  if (v.is_null()) return std::optional<std::string>();
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) {
    return InvalidArgument(TypeError(v, key, "a string"));
  }
  return std::optional<std::string>(std::string(s));
}

Result<std::optional<int64_t>> ElemInt64(simdjson::dom::element v, std::string_view key) {
  if (v.is_null()) return std::optional<int64_t>();
  int64_t n;
  if (v.get_int64().get(n) == simdjson::SUCCESS) return std::optional<int64_t>(n);
  uint64_t u;
  if (v.get_uint64().get(u) == simdjson::SUCCESS) {
    return InvalidArgument(TypeError(v, key, "a 64-bit integer (out of range)"));
  }
  double d;
  if (v.get_double().get(d) == simdjson::SUCCESS) {
    // Integral doubles (1e3) are accepted as protobuf's JSON parser accepts them.
    if (d == static_cast<double>(static_cast<int64_t>(d))) {
      return std::optional<int64_t>(static_cast<int64_t>(d));
    }
    return InvalidArgument(TypeError(v, key, "an integer"));
  }
  std::string_view s;
  if (v.get_string().get(s) == simdjson::SUCCESS) {
    auto parsed = ParseInt64(s);
    if (parsed) return std::optional<int64_t>(*parsed);
    return InvalidArgument(TypeError(v, key, "an integer"));
  }
  return InvalidArgument(TypeError(v, key, "an integer"));
}

Result<std::optional<double>> ElemDouble(simdjson::dom::element v, std::string_view key) {
  if (v.is_null()) return std::optional<double>();
  double d;
  if (v.get_double().get(d) == simdjson::SUCCESS) return std::optional<double>(d);
  int64_t n;
  if (v.get_int64().get(n) == simdjson::SUCCESS) return std::optional<double>(double(n));
  uint64_t u;
  if (v.get_uint64().get(u) == simdjson::SUCCESS) return std::optional<double>(double(u));
  std::string_view s;
  if (v.get_string().get(s) == simdjson::SUCCESS) {
    auto parsed = ParseDouble(s);
    if (parsed) return std::optional<double>(*parsed);
    return InvalidArgument(TypeError(v, key, "a number"));
  }
  return InvalidArgument(TypeError(v, key, "a number"));
}

}  // namespace

Result<Fields> ReadFields(const http::Request& req) {
  if (req.method == http::Method::kGet || req.method == http::Method::kHead) {
    if (req.query.empty() && !req.body.empty()) return Fields::FromJson(req.body);
    return Fields::FromQuery(req.query);
  }
  return Fields::FromJson(req.body);
}

Status MissingField(std::string_view key) {
  return InvalidArgument("Missing value for required parameter '" + std::string(key) + "'.");
}

Result<Fields> Fields::FromJson(const std::string& body) {
  thread_local simdjson::dom::parser parser;
  Fields f;
  f.json_ = true;
  std::string_view text = body;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) text = "{}";
  simdjson::padded_string padded(text);
  // The padded copy must outlive the parse: simdjson's DOM points into the parser, not into
  // the input, so the copy can go once parsing is done.
  auto error = parser.parse(padded).get(f.root_);
  if (error != simdjson::SUCCESS) {
    return InvalidArgument(std::string("malformed JSON in request body: ") +
                           simdjson::error_message(error));
  }
  if (!f.root_.is_object()) return InvalidArgument("the request body must be a JSON object");
  return f;
}

Result<Fields> Fields::FromQuery(std::string_view query) {
  auto parsed = http::ParseQuery(query);
  if (!parsed) return InvalidArgument("malformed percent-encoding in the query string");
  Fields f;
  f.query_ = std::move(*parsed);
  return f;
}

bool Fields::Has(std::string_view key) const {
  if (!json_) {
    for (const auto& [k, v] : query_) {
      if (k == key) return true;
    }
    return false;
  }
  simdjson::dom::element v;
  return root_.at_key(key).get(v) == simdjson::SUCCESS;
}

std::string Fields::Minified() const { return json_ ? simdjson::minify(root_) : "{}"; }

std::string Fields::Minified(std::string_view key) const {
  simdjson::dom::element v;
  if (!json_ || root_.at_key(key).get(v) != simdjson::SUCCESS) return "null";
  return simdjson::minify(v);
}

Result<std::optional<std::string>> Fields::String(std::string_view key) const {
  if (json_) return String(root_, key);
  for (const auto& [k, v] : query_) {
    if (k == key) return std::optional<std::string>(v);
  }
  return std::optional<std::string>();
}

Result<std::string> Fields::RequiredString(std::string_view key) const {
  ASSIGN_OR_RETURN(std::optional<std::string> v, String(key));
  if (!v || v->empty()) return MissingField(key);
  return *v;
}

Result<std::string> Fields::StringOr(std::string_view key, std::string_view fallback) const {
  ASSIGN_OR_RETURN(std::optional<std::string> v, String(key));
  return v ? std::move(*v) : std::string(fallback);
}

Result<std::optional<int64_t>> Fields::Int64(std::string_view key) const {
  if (json_) return Int64(root_, key);
  for (const auto& [k, v] : query_) {
    if (k != key) continue;
    auto parsed = ParseInt64(v);
    if (!parsed) {
      return InvalidArgument(TypeError(std::string_view(v), key, "an integer"));
    }
    return std::optional<int64_t>(*parsed);
  }
  return std::optional<int64_t>();
}

Result<std::optional<double>> Fields::Double(std::string_view key) const {
  if (json_) return Double(root_, key);
  for (const auto& [k, v] : query_) {
    if (k != key) continue;
    auto parsed = ParseDouble(v);
    if (!parsed) {
      return InvalidArgument(TypeError(std::string_view(v), key, "a number"));
    }
    return std::optional<double>(*parsed);
  }
  return std::optional<double>();
}

Result<std::optional<bool>> Fields::Bool(std::string_view key) const {
  std::string text;
  if (json_) {
    simdjson::dom::element v;
    if (root_.at_key(key).get(v) != simdjson::SUCCESS || v.is_null()) return std::optional<bool>();
    bool b;
    if (v.get_bool().get(b) == simdjson::SUCCESS) return std::optional<bool>(b);
    std::string_view sv;
    if (v.get_string().get(sv) != simdjson::SUCCESS)
      return InvalidArgument(TypeError(v, key, "a boolean"));
    text = std::string(sv);
  } else {
    bool found = false;
    for (const auto& [k, v] : query_) {
      if (k == key) {
        text = v;
        found = true;
        break;
      }
    }
    if (!found) return std::optional<bool>();
  }
  std::string lower = ToLower(text);
  if (lower == "true" || lower == "1") return std::optional<bool>(true);
  if (lower == "false" || lower == "0") return std::optional<bool>(false);
  return InvalidArgument(TypeError(std::string_view(text), key, "true or false"));
}

Result<std::vector<std::string>> Fields::StringList(std::string_view key) const {
  std::vector<std::string> out;
  if (!json_) {
    for (const auto& [k, v] : query_) {
      if (k == key) out.push_back(v);
    }
    return out;
  }
  simdjson::dom::element v;
  if (root_.at_key(key).get(v) != simdjson::SUCCESS || v.is_null()) return out;
  simdjson::dom::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) {
    // A single string where a list is expected is accepted as a one-element list.
    std::string_view s;
    if (v.get_string().get(s) == simdjson::SUCCESS) {
      out.emplace_back(s);
      return out;
    }
    return InvalidArgument(TypeError(v, key, "a list of strings"));
  }
  for (simdjson::dom::element e : arr) {
    std::string_view s;
    if (e.get_string().get(s) != simdjson::SUCCESS) {
      return InvalidArgument(TypeError(v, key, "a list of strings"));
    }
    out.emplace_back(s);
  }
  return out;
}

Result<std::vector<simdjson::dom::element>> Fields::Objects(std::string_view key) const {
  if (!json_) return std::vector<simdjson::dom::element>();
  return Objects(root_, key);
}

Result<std::optional<simdjson::dom::element>> Fields::Object(std::string_view key) const {
  simdjson::dom::element v;
  if (!json_ || root_.at_key(key).get(v) != simdjson::SUCCESS) {
    return std::optional<simdjson::dom::element>();
  }
  if (!v.is_object()) {
    return InvalidArgument(TypeError(v, key, "an object"));
  }
  return std::optional<simdjson::dom::element>(v);
}

Result<std::optional<std::string>> Fields::String(simdjson::dom::element obj,
                                                  std::string_view key) {
  simdjson::dom::element v;
  if (obj.at_key(key).get(v) != simdjson::SUCCESS) return std::optional<std::string>();
  return ElemString(v, key);
}

Result<std::optional<int64_t>> Fields::Int64(simdjson::dom::element obj, std::string_view key) {
  simdjson::dom::element v;
  if (obj.at_key(key).get(v) != simdjson::SUCCESS) return std::optional<int64_t>();
  return ElemInt64(v, key);
}

Result<std::optional<double>> Fields::Double(simdjson::dom::element obj, std::string_view key) {
  simdjson::dom::element v;
  if (obj.at_key(key).get(v) != simdjson::SUCCESS) return std::optional<double>();
  return ElemDouble(v, key);
}

Result<std::optional<std::string>> Fields::AsString(const Found& v, std::string_view key) {
  if (!v) return std::optional<std::string>();
  return ElemString(*v, key);
}

Result<std::optional<int64_t>> Fields::AsInt64(const Found& v, std::string_view key) {
  if (!v) return std::optional<int64_t>();
  return ElemInt64(*v, key);
}

Result<std::optional<double>> Fields::AsDouble(const Found& v, std::string_view key) {
  if (!v) return std::optional<double>();
  return ElemDouble(*v, key);
}

Result<std::vector<simdjson::dom::element>> Fields::Objects(simdjson::dom::element obj,
                                                            std::string_view key) {
  std::vector<simdjson::dom::element> out;
  simdjson::dom::element v;
  if (obj.at_key(key).get(v) != simdjson::SUCCESS || v.is_null()) return out;
  simdjson::dom::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) {
    return InvalidArgument(TypeError(v, key, "a list of objects"));
  }
  for (simdjson::dom::element e : arr) {
    if (!e.is_object()) return InvalidArgument(TypeError(v, key, "a list of objects"));
    out.push_back(e);
  }
  return out;
}

int MlflowClientMajor(const http::Request& req) {
  constexpr std::string_view kAgent = "mlflow-python-client/";
  std::string_view agent = req.Header("user-agent");
  if (!agent.starts_with(kAgent)) return 0;
  agent.remove_prefix(kAgent.size());
  int major = 0;
  auto [end, ec] = std::from_chars(agent.data(), agent.data() + agent.size(), major);
  return ec == std::errc() && end != agent.data() ? major : 0;
}

}  // namespace ringo::api
