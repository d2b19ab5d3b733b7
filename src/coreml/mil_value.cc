// ML Program values: constants (immediate or in the weight blob) decoded for the evaluator.
#include <cmath>
#include <cstring>

#include "coreml/evaluate_mil.h"

namespace ringo::coreml::internal {

using kernels::ShapeString;

bool IsInteger(mil::DataType t) {
  return t == mil::INT8 || t == mil::INT16 || t == mil::INT32 || t == mil::INT64 ||
         t == mil::UINT8 || t == mil::UINT16 || t == mil::UINT32 || t == mil::UINT64 ||
         t == mil::BOOL;
}

float RoundToHalf(float v) { return HalfToFloat(FloatToHalf(v)); }

// The shape a value type declares; false when a dimension is not a constant.
bool DeclaredShape(const mil::ValueType& type, std::vector<int64_t>* shape) {
  shape->clear();
  if (!type.has_tensortype()) return false;
  for (const mil::Dimension& d : type.tensortype().dimensions()) {
    if (!d.has_constant()) return false;
    shape->push_back(static_cast<int64_t>(d.constant().size()));
  }
  return true;
}

void SetInts(MilValue* v, std::vector<int64_t> ints) {
  v->t.data.assign(ints.begin(), ints.end());
  v->ints = std::move(ints);
}

// Decodes a constant (immediate or blob) into a MilValue; `what` names it in errors.
Result<MilValue> Decode(const mil::Value& value, const std::string& weights,
                        const std::string& what) {
  MilValue out;
  std::vector<int64_t> shape;
  bool has_shape = DeclaredShape(value.type(), &shape);
  if (value.type().has_tensortype()) out.type = value.type().tensortype().datatype();
  auto check_count = [&](size_t n) -> Status {
    if (has_shape) {
      int64_t want = 1;
      for (int64_t d : shape) want *= d;
      if (static_cast<int64_t>(n) != want) {
        return InvalidArgument(what + " holds " + std::to_string(n) + " values; its type " +
                               ShapeString(shape) + " needs " + std::to_string(want));
      }
      out.t.shape = shape;
    } else {
      out.t.shape = {static_cast<int64_t>(n)};
    }
    return Status::Ok();
  };
  if (value.has_blobfilevalue()) {
    if (weights.empty()) {
      return InvalidArgument(what + " refers to a weight blob but the model has no weight file");
    }
    auto blob = ReadBlob(weights, value.blobfilevalue().offset());
    if (!blob.ok()) return InvalidArgument(what + ": " + blob.status().message());
    std::string_view data = blob->data;
    switch (blob->type) {
      case BlobType::kFloat16:
        out.t.data.resize(data.size() / 2);
        for (size_t i = 0; i < out.t.data.size(); ++i) {
          out.t.data[i] = HalfToFloat(static_cast<uint16_t>(
              static_cast<uint8_t>(data[2 * i]) | (static_cast<uint8_t>(data[2 * i + 1]) << 8)));
        }
        break;
      case BlobType::kFloat32:
        out.t.data.resize(data.size() / 4);
        std::memcpy(out.t.data.data(), data.data(), out.t.data.size() * 4);
        break;
      case BlobType::kInt8:
      case BlobType::kUInt8: {
        std::vector<int64_t> ints(data.size());
        for (size_t i = 0; i < data.size(); ++i) {
          ints[i] = blob->type == BlobType::kInt8 ? int64_t(static_cast<int8_t>(data[i]))
                                                  : int64_t(static_cast<uint8_t>(data[i]));
        }
        SetInts(&out, std::move(ints));
        break;
      }
      case BlobType::kInt32: {
        std::vector<int64_t> ints(data.size() / 4);
        for (size_t i = 0; i < ints.size(); ++i) {
          int32_t v;
          std::memcpy(&v, data.data() + 4 * i, 4);
          ints[i] = v;
        }
        SetInts(&out, std::move(ints));
        break;
      }
    }
    RETURN_IF_ERROR(check_count(std::max(out.t.data.size(), out.ints.size())));
    return out;
  }
  if (!value.has_immediatevalue()) return InvalidArgument(what + " has no value");
  const mil::Value::ImmediateValue& imm = value.immediatevalue();
  if (imm.has_list()) {
    // A list of scalars (classify's classes): strings or integers, in order.
    for (const mil::Value& item : imm.list().values()) {
      ASSIGN_OR_RETURN(MilValue v, Decode(item, weights, what));
      out.strings.insert(out.strings.end(), v.strings.begin(), v.strings.end());
      out.ints.insert(out.ints.end(), v.ints.begin(), v.ints.end());
      if (!v.strings.empty()) out.type = mil::STRING;
      if (!v.ints.empty()) out.type = mil::INT64;
    }
    out.t.shape = {static_cast<int64_t>(std::max(out.strings.size(), out.ints.size()))};
    return out;
  }
  if (!imm.has_tensor()) return InvalidArgument(what + " has an unsupported immediate value");
  const mil::TensorValue& tv = imm.tensor();
  size_t n = 0;
  if (tv.has_floats()) {
    out.t.data.assign(tv.floats().values().begin(), tv.floats().values().end());
    n = out.t.data.size();
  } else if (tv.has_doubles()) {
    out.t.data.assign(tv.doubles().values().begin(), tv.doubles().values().end());
    n = out.t.data.size();
  } else if (tv.has_ints()) {
    SetInts(&out, {tv.ints().values().begin(), tv.ints().values().end()});
    n = out.ints.size();
  } else if (tv.has_longints()) {
    SetInts(&out, {tv.longints().values().begin(), tv.longints().values().end()});
    n = out.ints.size();
  } else if (tv.has_bools()) {
    SetInts(&out, {tv.bools().values().begin(), tv.bools().values().end()});
    n = out.ints.size();
  } else if (tv.has_strings()) {
    out.strings.assign(tv.strings().values().begin(), tv.strings().values().end());
    out.type = mil::STRING;
    n = out.strings.size();
  } else if (tv.has_bytes()) {
    // Raw little-endian values of the declared type: fp16 weights, or 8-bit integers.
    const std::string& b = tv.bytes().values();
    if (out.type == mil::FLOAT16) {
      if (b.size() % 2 != 0) return InvalidArgument(what + " has an odd number of fp16 bytes");
      out.t.data.resize(b.size() / 2);
      for (size_t i = 0; i < out.t.data.size(); ++i) {
        out.t.data[i] = HalfToFloat(static_cast<uint16_t>(
            static_cast<uint8_t>(b[2 * i]) | (static_cast<uint8_t>(b[2 * i + 1]) << 8)));
      }
      n = out.t.data.size();
    } else if (out.type == mil::UINT32 || out.type == mil::INT32) {
      if (b.size() % 4 != 0) return InvalidArgument(what + " has a partial 32-bit value");
      std::vector<int64_t> ints(b.size() / 4);
      for (size_t i = 0; i < ints.size(); ++i) {
        uint32_t u;
        std::memcpy(&u, b.data() + 4 * i, 4);
        ints[i] = out.type == mil::UINT32 ? int64_t(u) : int64_t(static_cast<int32_t>(u));
      }
      SetInts(&out, std::move(ints));
      n = out.ints.size();
    } else if (out.type == mil::INT8 || out.type == mil::UINT8) {
      std::vector<int64_t> ints(b.size());
      for (size_t i = 0; i < b.size(); ++i) {
        ints[i] = out.type == mil::INT8 ? int64_t(static_cast<int8_t>(b[i]))
                                        : int64_t(static_cast<uint8_t>(b[i]));
      }
      SetInts(&out, std::move(ints));
      n = out.ints.size();
    } else {
      return FailedPrecondition(what + " stores bytes of a type the evaluator does not decode");
    }
  }
  RETURN_IF_ERROR(check_count(n));
  return out;
}

// Normalises a possibly negative axis; kInvalidArgument when out of range.
Result<int64_t> Axis(int64_t axis, size_t rank, const std::string& op) {
  int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) {
    return InvalidArgument(op + ": axis " + std::to_string(axis) + " is out of range for rank " +
                           std::to_string(rank));
  }
  return axis < 0 ? axis + r : axis;
}

}  // namespace ringo::coreml::internal
