// JsonWriter: a small streaming JSON writer built on std::to_chars, for responses.
#ifndef RINGO_COMMON_JSON_WRITER_H_
#define RINGO_COMMON_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringo {

// Appends JSON text to a string. Commas are inserted automatically; the caller balances
// Begin/End calls (checked with assert). Doubles follow the proto3 JSON mapping: NaN and
// infinities are written as the strings "NaN", "Infinity", "-Infinity". int64 values are
// written as JSON numbers. Not thread-safe.
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // Writes an object key; the next call writes its value.
  JsonWriter& Key(std::string_view key);

  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // Inserts already-serialised JSON as one value.
  JsonWriter& Raw(std::string_view json);

  // Shorthands for Key(k) followed by a value.
  JsonWriter& Field(std::string_view k, std::string_view v) { return Key(k).String(v); }
  JsonWriter& Field(std::string_view k, const char* v) { return Key(k).String(v); }
  JsonWriter& Field(std::string_view k, int64_t v) { return Key(k).Int(v); }
  JsonWriter& Field(std::string_view k, double v) { return Key(k).Double(v); }
  JsonWriter& FieldBool(std::string_view k, bool v) { return Key(k).Bool(v); }

 private:
  void Separate();

  std::string* out_;
  // One entry per open container: true once it holds an element.
  std::vector<bool> has_element_;
  bool after_key_ = false;
};

// Appends `s` to `out` as a quoted JSON string with escapes. Bytes that are not well-formed
// UTF-8 are written as U+FFFD, so the output is always valid JSON text.
void AppendJsonString(std::string* out, std::string_view s);
// Appends a number as JsonWriter writes it (for hot loops that bypass the writer).
void AppendJsonInt(std::string* out, int64_t value);
void AppendJsonDouble(std::string* out, double value);
// AppendJsonDouble's text written at `out`, which has room for kMaxJsonDouble characters;
// returns the end of what was written.
inline constexpr size_t kMaxJsonDouble = 32;
char* WriteJsonDouble(char* out, double value);
inline constexpr size_t kMaxJsonInt = 24;

// Writes the integers of a sequence whose neighbours share all but their last four digits (a
// metric history's steps and timestamps) as AppendJsonInt does: the leading digits are formatted
// once and copied while they last. `out` has room for kMaxJsonInt characters.
class JsonIntRun {
 public:
  char* Write(char* out, int64_t value);

 private:
  int64_t high_ = -1;
  char high_digits_[16] = {};
  size_t length_ = 0;
};

}  // namespace ringo

#endif  // RINGO_COMMON_JSON_WRITER_H_
