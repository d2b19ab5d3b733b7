// Input files for predictions (.npy, .png, .json) and the JSON rendering of outputs.
#include <png.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/json_writer.h"
#include "common/util.h"
#include "coreml/coreml.h"

namespace ringo::coreml {

namespace fs = std::filesystem;

namespace {

Result<std::string> ReadAll(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return NotFound("input file '" + path.string() + "' does not exist");
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument("cannot open input file '" + path.string() + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Value of `key` in the Python dict literal of a .npy header, up to the next top-level comma
// or closing brace (tuples kept whole).
std::string HeaderField(const std::string& header, const std::string& key) {
  size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) return {};
  at = header.find(':', at);
  if (at == std::string::npos) return {};
  size_t end = at + 1;
  int depth = 0;
  for (; end < header.size(); ++end) {
    char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  std::string v = header.substr(at + 1, end - at - 1);
  size_t b = v.find_first_not_of(" \t"), e = v.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : v.substr(b, e - b + 1);
}

uint32_t LittleEndian(const std::string& s, size_t at, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint32_t(static_cast<uint8_t>(s[at + i])) << (8 * i);
  return v;
}

Result<Value> LoadNpy(const std::string& bytes, const std::string& what) {
  static const char kMagic[] = "\x93NUMPY";
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0) {
    return InvalidArgument(what + " is not a .npy file (bad magic)");
  }
  const int major = static_cast<uint8_t>(bytes[6]);
  if (major < 1 || major > 3) {
    return InvalidArgument(what + " has unsupported .npy version " + std::to_string(major));
  }
  const size_t len_bytes = major == 1 ? 2 : 4, start = 8 + len_bytes;
  if (bytes.size() < start) return InvalidArgument(what + " is truncated in its header");
  const size_t header_len = LittleEndian(bytes, 8, static_cast<int>(len_bytes));
  if (bytes.size() < start + header_len)
    return InvalidArgument(what + " is truncated in its header");
  const std::string header = bytes.substr(start, header_len);
  std::string descr = HeaderField(header, "descr");
  std::string fortran = HeaderField(header, "fortran_order");
  std::string shape_text = HeaderField(header, "shape");
  if (descr.size() < 2 || (descr.front() != '\'' && descr.front() != '"') || fortran.empty() ||
      shape_text.empty() || shape_text.front() != '(' || shape_text.back() != ')') {
    return InvalidArgument(what + " has a malformed .npy header");
  }
  descr = descr.substr(1, descr.size() - 2);
  if (fortran != "False") {
    return InvalidArgument(what + " is in Fortran order; save it in C order " +
                           "(numpy.ascontiguousarray)");
  }
  if (descr.find('O') != std::string::npos) {
    return InvalidArgument(what + " holds Python objects (dtype " + descr + "); numbers only");
  }
  if (!descr.empty() && descr[0] == '>') {
    return InvalidArgument(what + " is big-endian (dtype " + descr + "); little-endian only");
  }
  std::string kind = descr.size() >= 3 ? descr.substr(1) : descr;
  size_t item = 0;
  if (kind == "f4" || kind == "i4") item = 4;
  if (kind == "f8" || kind == "i8") item = 8;
  if (kind == "u1" || kind == "i1" || kind == "b1") item = 1;
  if (kind == "i2" || kind == "u2") item = 2;
  if (item == 0) {
    return InvalidArgument(what + " has dtype " + descr +
                           "; supported: float32, float64, int8, int16, int32, int64, uint8, "
                           "uint16, bool");
  }
  Value v;
  std::string dims = shape_text.substr(1, shape_text.size() - 2);
  std::stringstream ss(dims);
  std::string part;
  while (std::getline(ss, part, ',')) {
    size_t b = part.find_first_not_of(' ');
    if (b == std::string::npos) continue;
    std::optional<int64_t> d = ParseInt64(part.substr(b, part.find_last_not_of(' ') - b + 1));
    if (!d || *d < 0) return InvalidArgument(what + " has a malformed shape " + shape_text);
    v.tensor.shape.push_back(*d);
  }
  const int64_t count = v.tensor.size();
  const size_t data_at = start + header_len;
  if (count < 0 || bytes.size() - data_at != static_cast<size_t>(count) * item) {
    return InvalidArgument(what + " holds " + std::to_string(bytes.size() - data_at) +
                           " data bytes; shape " + shape_text + " of " + descr + " needs " +
                           std::to_string(count * static_cast<int64_t>(item)));
  }
  v.tensor.data.resize(static_cast<size_t>(count));
  const char* p = bytes.data() + data_at;
  for (int64_t i = 0; i < count; ++i, p += item) {
    if (kind == "f4") {
      float f;
      std::memcpy(&f, p, 4);
      v.tensor.data[i] = f;
    } else if (kind == "f8") {
      double d;
      std::memcpy(&d, p, 8);
      v.tensor.data[i] = static_cast<float>(d);
    } else if (kind == "i4") {
      int32_t n;
      std::memcpy(&n, p, 4);
      v.tensor.data[i] = static_cast<float>(n);
    } else if (kind == "i8") {
      int64_t n;
      std::memcpy(&n, p, 8);
      v.tensor.data[i] = static_cast<float>(n);
    } else if (kind == "i2" || kind == "u2") {
      uint16_t n;
      std::memcpy(&n, p, 2);
      v.tensor.data[i] = kind == "i2" ? static_cast<float>(static_cast<int16_t>(n)) : n;
    } else if (kind == "i1") {
      v.tensor.data[i] = static_cast<int8_t>(*p);
    } else {  // u1, and b1 (bool, one byte 0 or 1)
      v.tensor.data[i] = static_cast<uint8_t>(*p);
    }
  }
  return v;
}

Result<Value> LoadPng(const Feature& declared, const std::string& bytes, const std::string& what) {
  if (declared.type != "Image") {
    return InvalidArgument(what + ": .png files are for image inputs; '" + declared.name +
                           "' is a " + declared.type);
  }
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    return InvalidArgument(what + " is not a readable PNG: " + image.message);
  }
  const bool gray =
      declared.color_space == "GRAYSCALE" || declared.color_space == "GRAYSCALE_FLOAT16";
  if (static_cast<int64_t>(image.width) != declared.image_width ||
      static_cast<int64_t>(image.height) != declared.image_height) {
    png_image_free(&image);
    return InvalidArgument(what + " is " + std::to_string(image.width) + "x" +
                           std::to_string(image.height) + "; input '" + declared.name + "' needs " +
                           std::to_string(declared.image_width) + "x" +
                           std::to_string(declared.image_height) + " (images are not resized)");
  }
  // Read with alpha and drop it: Core ML ignores the alpha channel of its pixel buffers.
  image.format = gray ? PNG_FORMAT_GA : PNG_FORMAT_RGBA;
  const size_t channels_in = gray ? 2 : 4;
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr)) {
    std::string message = image.message;
    png_image_free(&image);
    return InvalidArgument(what + " could not be decoded: " + message);
  }
  const int64_t h = image.height, w = image.width, c = gray ? 1 : 3;
  Value v;
  v.tensor.shape = {c, h, w};
  v.tensor.data.resize(static_cast<size_t>(c * h * w));
  const bool bgr = declared.color_space == "BGR";
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const uint8_t* px = pixels.data() + (y * w + x) * channels_in;
      for (int64_t ch = 0; ch < c; ++ch) {
        int64_t src = bgr ? 2 - ch : ch;
        v.tensor.data[(ch * h + y) * w + x] = px[src];
      }
    }
  }
  return v;
}

// Appends the numbers of a nested list to `data`, checking it is rectangular against `shape`
// (taken from the first element at each depth).
Status Flatten(const nlohmann::json& j, size_t depth, const std::vector<int64_t>& shape,
               std::vector<float>* data, const std::string& what) {
  if (depth == shape.size()) {
    if (!j.is_number()) return InvalidArgument(what + " holds a non-number where a number belongs");
    data->push_back(j.get<float>());
    return Status::Ok();
  }
  if (!j.is_array() || static_cast<int64_t>(j.size()) != shape[depth]) {
    return InvalidArgument(what + " is not a rectangular nested list of numbers");
  }
  for (const auto& e : j) RETURN_IF_ERROR(Flatten(e, depth + 1, shape, data, what));
  return Status::Ok();
}

Result<Value> LoadJson(const std::string& text, const std::string& what) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return InvalidArgument(what + " is not JSON: " + e.what());
  }
  Value v;
  for (const nlohmann::json* p = &j; p->is_array(); p = &(*p)[0]) {
    v.tensor.shape.push_back(static_cast<int64_t>(p->size()));
    if (p->empty()) break;
  }
  RETURN_IF_ERROR(Flatten(j, 0, v.tensor.shape, &v.tensor.data, what));
  return v;
}

}  // namespace

Result<Value> LoadInputFile(const Feature& declared, const fs::path& file) {
  ASSIGN_OR_RETURN(std::string bytes, ReadAll(file));
  const std::string what = "input file '" + file.string() + "'";
  const std::string ext = ToLower(file.extension().string());
  if (ext == ".npy") return LoadNpy(bytes, what);
  if (ext == ".png") return LoadPng(declared, bytes, what);
  if (ext == ".json") return LoadJson(bytes, what);
  return InvalidArgument(what + " has an unknown extension; use .npy, .png or .json");
}

std::string OutputsToJson(const std::map<std::string, Value>& outputs) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  for (const auto& [name, v] : outputs) {
    w.Key(name);
    if (v.kind == "string") {
      w.String(v.string_value);
    } else if (v.kind == "int64") {
      w.Int(v.int_value);
    } else if (v.kind == "dictionary") {
      w.BeginObject();
      for (const auto& [label, p] : v.dict) w.Field(label, p);
      w.EndObject();
    } else {
      w.BeginObject().Key("shape").BeginArray();
      for (int64_t d : v.tensor.shape) w.Int(d);
      w.EndArray().Key("data").BeginArray();
      // Shortest text that reads back as the same float32: the values are float32, and the
      // double expansion (0.1f -> 0.10000000149011612) only adds noise to diffs.
      char buf[32];
      for (float f : v.tensor.data) {
        if (!std::isfinite(f)) {
          w.Double(f);
          continue;
        }
        auto end = std::to_chars(buf, buf + sizeof buf, f).ptr;
        w.Raw(std::string_view(buf, static_cast<size_t>(end - buf)));
      }
      w.EndArray().EndObject();
    }
  }
  w.EndObject();
  return out;
}

}  // namespace ringo::coreml
