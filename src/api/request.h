// Request fields from a JSON body or a query string, with MLflow's type rules.
#ifndef RINGO_API_REQUEST_H_
#define RINGO_API_REQUEST_H_

#include <simdjson.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "http/http.h"

namespace ringo::api {

// The fields of one request message. JSON bodies are parsed with a per-thread simdjson
// parser, so a Fields value (and elements taken from it) is valid only until the same thread
// parses another body: read everything out before going asynchronous.
// int64 fields are accepted as JSON numbers or decimal strings (proto3 JSON mapping); doubles
// as numbers or "NaN"/"Infinity"/"-Infinity". A present field of the wrong type is
// kInvalidArgument naming the field; absent optional fields are nullopt.
class Fields {
 public:
  static Result<Fields> FromJson(const std::string& body);
  static Result<Fields> FromQuery(std::string_view query);

  Result<std::optional<std::string>> String(std::string_view key) const;
  Result<std::string> RequiredString(std::string_view key) const;
  // The string, or `fallback` when absent.
  Result<std::string> StringOr(std::string_view key, std::string_view fallback) const;
  Result<std::optional<int64_t>> Int64(std::string_view key) const;
  Result<std::optional<double>> Double(std::string_view key) const;
  // A bool as JSON true/false, or the strings "true"/"false" (query strings).
  Result<std::optional<bool>> Bool(std::string_view key) const;
  // A repeated string field: a JSON array of strings, or repeated query parameters.
  Result<std::vector<std::string>> StringList(std::string_view key) const;
  // A repeated message field (JSON only): its elements; empty when absent.
  Result<std::vector<simdjson::dom::element>> Objects(std::string_view key) const;

  // A message field (JSON only): the object; nullopt when absent.
  Result<std::optional<simdjson::dom::element>> Object(std::string_view key) const;

  // True when the (JSON) message has the field.
  bool Has(std::string_view key) const;
  // The JSON message re-serialised compactly.
  std::string Minified() const;
  // The JSON message itself (valid as long as the Fields are).
  simdjson::dom::element Root() const { return root_; }
  // One field of the JSON message re-serialised compactly; "null" when absent.
  std::string Minified(std::string_view key) const;

  // Same accessors on an element of a repeated message field.
  static Result<std::optional<std::string>> String(simdjson::dom::element obj,
                                                   std::string_view key);
  static Result<std::optional<int64_t>> Int64(simdjson::dom::element obj, std::string_view key);
  static Result<std::optional<double>> Double(simdjson::dom::element obj, std::string_view key);
  static Result<std::vector<simdjson::dom::element>> Objects(simdjson::dom::element obj,
                                                             std::string_view key);

  // The fields of `obj` named in `names` (the first of a repeated name), found in one pass over
  // it, for the thousand small objects of a log-batch; then read with As*, `key` naming the
  // field in errors as the accessors above do.
  using Found = std::optional<simdjson::dom::element>;
  template <size_t N>
  static std::array<Found, N> Find(simdjson::dom::element obj,
                                   const std::array<std::string_view, N>& names) {
    std::array<Found, N> found;
    simdjson::dom::object o;
    if (obj.get_object().get(o) != simdjson::SUCCESS) return found;
    for (auto [k, v] : o) {
      for (size_t i = 0; i < N; ++i) {
        if (!found[i] && k == names[i]) {
          found[i] = v;
          break;
        }
      }
    }
    return found;
  }
  static Result<std::optional<std::string>> AsString(const Found& v, std::string_view key);
  static Result<std::optional<int64_t>> AsInt64(const Found& v, std::string_view key);
  static Result<std::optional<double>> AsDouble(const Found& v, std::string_view key);

 private:
  bool json_ = false;
  simdjson::dom::element root_;
  std::vector<std::pair<std::string, std::string>> query_;
};

// The fields of a request: the JSON body for POST/PATCH/DELETE, the query string for GET/HEAD
// (as MLflow's client sends them); a GET with an empty query but a JSON body is also accepted.
Result<Fields> ReadFields(const http::Request& req);

// "Missing value for required parameter 'x'" as a kInvalidArgument Status.
Status MissingField(std::string_view key);

// The major version of the MLflow Python client that sent the request (its User-Agent,
// "mlflow-python-client/2.17.2"); 0 when it is not one. Where MLflow 2 and 3 word an error
// differently, clients (and the scripts written for them) get their own version's words.
int MlflowClientMajor(const http::Request& req);

}  // namespace ringo::api

#endif  // RINGO_API_REQUEST_H_
