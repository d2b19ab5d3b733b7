// Reference evaluator for ML Programs: the main function's block, op by op, with MIL semantics.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <optional>

#include "coreml/evaluate_internal.h"
#include "coreml/kernels.h"
#include "coreml/schema.h"

namespace ringo::coreml::internal {

namespace {

using kernels::ShapeString;

// A value of the program. Numbers of every type live in `t.data` (floats computed in fp32);
// integer and bool tensors also keep their exact values in `ints`. Strings, and the dictionary
// a classify op produces, have their own fields.
struct MilValue {
  mil::DataType type = mil::FLOAT32;
  Tensor t;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  bool is_dict = false;
  std::map<std::string, double> dict;
};

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

// The element-wise MIL math ops that are one C function.
std::function<float(float)> MathFunction(const std::string& type) {
  static const std::map<std::string, float (*)(float)> kFunctions = {
      {"acos", std::acos},   {"acosh", std::acosh}, {"asin", std::asin}, {"asinh", std::asinh},
      {"atan", std::atan},   {"atanh", std::atanh}, {"ceil", std::ceil}, {"cos", std::cos},
      {"cosh", std::cosh},   {"erf", std::erf},     {"floor", std::floor}, {"log", std::log},
      {"sin", std::sin},     {"sinh", std::sinh},   {"tan", std::tan},
      {"round", std::nearbyint}};  // to nearest, ties to even (the default rounding mode)
  auto it = kFunctions.find(type);
  if (it != kFunctions.end()) return it->second;
  if (type == "sign") return [](float v) { return v > 0 ? 1.0f : v < 0 ? -1.0f : 0.0f; };
  return nullptr;
}

// Comparisons and logical ops, as 1 (true) or 0 (false).
std::function<float(float, float)> Comparison(const std::string& type) {
  auto b = [](bool v) { return v ? 1.0f : 0.0f; };
  if (type == "equal") return [=](float x, float y) { return b(x == y); };
  if (type == "not_equal") return [=](float x, float y) { return b(x != y); };
  if (type == "less") return [=](float x, float y) { return b(x < y); };
  if (type == "less_equal") return [=](float x, float y) { return b(x <= y); };
  if (type == "greater") return [=](float x, float y) { return b(x > y); };
  if (type == "greater_equal") return [=](float x, float y) { return b(x >= y); };
  if (type == "logical_and") return [=](float x, float y) { return b(x != 0 && y != 0); };
  if (type == "logical_or") return [=](float x, float y) { return b(x != 0 || y != 0); };
  if (type == "logical_xor") return [=](float x, float y) { return b((x != 0) != (y != 0)); };
  return nullptr;
}

class OpRunner {
 public:
  OpRunner(const mil::Operation& op, const std::map<std::string, MilValue>& env,
           const std::string& weights)
      : op_(op), env_(env), weights_(weights) {
    auto it = op.attributes().find("name");
    if (it != op.attributes().end() && it->second.immediatevalue().tensor().has_strings() &&
        it->second.immediatevalue().tensor().strings().values_size() == 1) {
      name_ = it->second.immediatevalue().tensor().strings().values(0);
    } else if (op.outputs_size() > 0) {
      name_ = op.outputs(0).name();
    }
    what_ = op.type() + " op '" + name_ + "'";
  }

  const std::string& name() const { return name_; }

  // The op's outputs, in the order of op.outputs().
  Result<std::vector<MilValue>> Run() {
    const std::string& type = op_.type();
    if (type == "const") {
      auto it = op_.attributes().find("val");
      if (it == op_.attributes().end()) return InvalidArgument(what_ + " has no 'val' attribute");
      ASSIGN_OR_RETURN(MilValue v, Decode(it->second, weights_, what_));
      return One(std::move(v));
    }
    if (type == "constexpr_affine_dequantize") return AffineDequantize();
    if (type == "constexpr_lut_to_dense") return LutToDense();
    if (type == "constexpr_sparse_to_dense") return SparseToDense();
    if (type == "conv") return Conv();
    if (type == "linear") return Linear();
    if (type == "matmul") return MatMul();
    if (type == "add") return BinaryOp([](float a, float b) { return a + b; });
    if (type == "sub") return BinaryOp([](float a, float b) { return a - b; });
    if (type == "mul") return BinaryOp([](float a, float b) { return a * b; });
    if (type == "real_div") return BinaryOp([](float a, float b) { return a / b; });
    if (type == "maximum") return BinaryOp([](float a, float b) { return std::max(a, b); });
    if (type == "minimum") return BinaryOp([](float a, float b) { return std::min(a, b); });
    if (type == "pow") return BinaryOp([](float a, float b) { return std::pow(a, b); });
    if (type == "relu") return UnaryOp([](float v) { return v > 0 ? v : 0.0f; });
    if (type == "relu6") return UnaryOp([](float v) { return std::clamp(v, 0.0f, 6.0f); });
    if (type == "sigmoid") return UnaryOp([](float v) { return 1.0f / (1.0f + std::exp(-v)); });
    if (type == "tanh") return UnaryOp([](float v) { return std::tanh(v); });
    if (type == "exp") return UnaryOp([](float v) { return std::exp(v); });
    if (type == "sqrt") return UnaryOp([](float v) { return std::sqrt(v); });
    if (type == "abs") return UnaryOp([](float v) { return std::fabs(v); });
    if (type == "softsign") return UnaryOp([](float v) { return v / (1.0f + std::fabs(v)); });
    if (type == "softplus") {
      return UnaryOp(
          [](float v) { return std::max(v, 0.0f) + std::log1p(std::exp(-std::fabs(v))); });
    }
    if (type == "identity") return UnaryOp([](float v) { return v; });
    if (auto f = MathFunction(type)) return UnaryOp(f);
    if (auto f = Comparison(type)) return BinaryOp(f);
    if (type == "logical_not") return UnaryOp([](float v) { return v == 0 ? 1.0f : 0.0f; });
    if (type == "thresholded_relu") {
      ASSIGN_OR_RETURN(float alpha, Scalar("alpha", 1.0f));
      return UnaryOp([=](float v) { return v > alpha ? v : 0.0f; });
    }
    if (type == "floor_div") return BinaryOp([](float a, float b) { return std::floor(a / b); });
    if (type == "mod") {
      // Floor modulo: the result takes the divisor's sign.
      return BinaryOp([](float a, float b) { return a - std::floor(a / b) * b; });
    }
    if (type == "leaky_relu") {
      ASSIGN_OR_RETURN(float alpha, Scalar("alpha", 0.01f));
      return UnaryOp([=](float v) { return v < 0 ? alpha * v : v; });
    }
    if (type == "elu") {
      ASSIGN_OR_RETURN(float alpha, Scalar("alpha", 1.0f));
      return UnaryOp([=](float v) { return v < 0 ? alpha * (std::exp(v) - 1.0f) : v; });
    }
    if (type == "sigmoid_hard") {
      ASSIGN_OR_RETURN(float alpha, Scalar("alpha", 0.2f));
      ASSIGN_OR_RETURN(float beta, Scalar("beta", 0.5f));
      return UnaryOp([=](float v) { return std::clamp(alpha * v + beta, 0.0f, 1.0f); });
    }
    if (type == "clip") {
      ASSIGN_OR_RETURN(float lo, Scalar("alpha", std::nullopt));
      ASSIGN_OR_RETURN(float hi, Scalar("beta", std::nullopt));
      return UnaryOp([=](float v) { return std::min(std::max(v, lo), hi); });
    }
    if (type == "batch_norm") return BatchNorm();
    if (type == "max_pool") return Pool(kernels::PoolType::kMax);
    if (type == "avg_pool") return Pool(kernels::PoolType::kAverage);
    if (type == "reduce_mean") return Reduction(std::nullopt);
    static const std::map<std::string, kernels::ReduceKind> kReductions = {
        {"reduce_sum", kernels::ReduceKind::kSum},
        {"reduce_max", kernels::ReduceKind::kMax},
        {"reduce_min", kernels::ReduceKind::kMin},
        {"reduce_prod", kernels::ReduceKind::kProd},
        {"reduce_l1_norm", kernels::ReduceKind::kL1},
        {"reduce_l2_norm", kernels::ReduceKind::kL2},
        {"reduce_log_sum", kernels::ReduceKind::kLogSum},
        {"reduce_log_sum_exp", kernels::ReduceKind::kLogSumExp},
        {"reduce_sum_square", kernels::ReduceKind::kSumSquare}};
    if (auto it = kReductions.find(type); it != kReductions.end()) return Reduction(it->second);
    if (type == "reduce_argmax" || type == "reduce_argmin") {
      return ArgReduce(type == "reduce_argmax");
    }
    if (type == "select") return Select();
    if (type == "gather") return Gather();
    if (type == "gather_along_axis") return GatherAlongAxis();
    if (type == "slice_by_index") return SliceByIndex();
    if (type == "tile") return Tile();
    if (type == "cumsum") return CumSum();
    if (type == "softmax") return Softmax();
    if (type == "reshape") return Reshape();
    if (type == "transpose") return Transpose();
    if (type == "squeeze") return Squeeze();
    if (type == "expand_dims") return ExpandDims();
    if (type == "concat") return Concat();
    if (type == "pad") return Pad();
    if (type == "cast") return Cast();
    if (type == "classify") return Classify();
    return FailedPrecondition("the evaluator does not implement op type '" + type + "' (op '" +
                              name_ + "')");
  }

 private:
  static std::vector<MilValue> One(MilValue v) {
    std::vector<MilValue> out;
    out.push_back(std::move(v));
    return out;
  }

  Result<const MilValue*> Resolve(const mil::Argument::Binding& b, const std::string& param) {
    if (b.has_value()) {
      ASSIGN_OR_RETURN(MilValue v,
                       Decode(b.value(), weights_, what_ + " parameter '" + param + "'"));
      inline_.push_back(std::move(v));
      return &inline_.back();
    }
    auto it = env_.find(b.name());
    if (it == env_.end()) {
      return InvalidArgument(what_ + " reads '" + b.name() + "', which is not defined before it");
    }
    return &it->second;
  }

  // The value bound to a parameter; nullptr when the parameter is absent.
  Result<const MilValue*> Optional(const std::string& param) {
    auto it = op_.inputs().find(param);
    if (it == op_.inputs().end() || it->second.arguments().empty()) {
      return static_cast<const MilValue*>(nullptr);
    }
    return Resolve(it->second.arguments(0), param);
  }

  Result<const MilValue*> Required(const std::string& param) {
    ASSIGN_OR_RETURN(const MilValue* v, Optional(param));
    if (v == nullptr) return InvalidArgument(what_ + " lacks parameter '" + param + "'");
    return v;
  }

  Result<float> Scalar(const std::string& param, std::optional<float> fallback) {
    ASSIGN_OR_RETURN(const MilValue* v, Optional(param));
    if (v == nullptr) {
      if (fallback) return *fallback;
      return InvalidArgument(what_ + " lacks parameter '" + param + "'");
    }
    if (v->t.data.size() != 1) {
      return InvalidArgument(what_ + ": parameter '" + param + "' must be a scalar");
    }
    return v->t.data[0];
  }

  Result<std::vector<int64_t>> Ints(const std::string& param,
                                    std::optional<std::vector<int64_t>> fallback) {
    ASSIGN_OR_RETURN(const MilValue* v, Optional(param));
    if (v == nullptr) {
      if (fallback) return *fallback;
      return InvalidArgument(what_ + " lacks parameter '" + param + "'");
    }
    if (!v->ints.empty() || v->t.data.empty()) return v->ints;
    std::vector<int64_t> out;
    for (float f : v->t.data) out.push_back(static_cast<int64_t>(std::lround(f)));
    return out;
  }

  Result<bool> Bool(const std::string& param, bool fallback) {
    ASSIGN_OR_RETURN(const MilValue* v, Optional(param));
    if (v == nullptr) return fallback;
    if (v->t.data.size() != 1) {
      return InvalidArgument(what_ + ": parameter '" + param + "' must be a scalar");
    }
    return v->t.data[0] != 0;
  }

  Result<std::string> String(const std::string& param, const std::string& fallback) {
    ASSIGN_OR_RETURN(const MilValue* v, Optional(param));
    if (v == nullptr) return fallback;
    if (v->strings.size() != 1) {
      return InvalidArgument(what_ + ": parameter '" + param + "' must be a string");
    }
    return v->strings[0];
  }

  // A float tensor result carrying the op's declared output type. An fp16 result is stored as
  // the device stores it: each value rounded to binary16 (beyond 65504 it becomes infinite).
  MilValue Float(Tensor t) const {
    MilValue v;
    v.t = std::move(t);
    if (op_.outputs_size() > 0 && op_.outputs(0).type().has_tensortype()) {
      v.type = op_.outputs(0).type().tensortype().datatype();
    }
    if (v.type == mil::FLOAT16) {
      for (float& f : v.t.data) f = RoundToHalf(f);
    }
    return v;
  }

  Result<std::vector<MilValue>> UnaryOp(const std::function<float(float)>& f) {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    Tensor t = x->t;
    for (float& v : t.data) v = f(v);
    return One(Float(std::move(t)));
  }

  Result<std::vector<MilValue>> BinaryOp(const std::function<float(float, float)>& f) {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    ASSIGN_OR_RETURN(const MilValue* y, Required("y"));
    auto out = kernels::Binary(x->t, y->t, f);
    if (!out.ok()) return InvalidArgument(what_ + ": " + out.status().message());
    return One(Float(std::move(out).value()));
  }

  // Padding of a window op from pad_type / pad, and its output size.
  Status Geometry(const Tensor& x, bool ceil_mode, kernels::Window* win) {
    ASSIGN_OR_RETURN(std::string pad_type, String("pad_type", "valid"));
    const int64_t h = x.shape[2], w = x.shape[3];
    const int64_t kh = (win->kh - 1) * win->dh + 1, kw = (win->kw - 1) * win->dw + 1;
    if (pad_type == "same" || pad_type == "same_lower") {
      bool start = pad_type == "same_lower";
      std::tie(win->pad_top, win->pad_bottom) = kernels::SamePadding(h, kh, win->sh, start);
      std::tie(win->pad_left, win->pad_right) = kernels::SamePadding(w, kw, win->sw, start);
    } else if (pad_type == "custom") {
      ASSIGN_OR_RETURN(std::vector<int64_t> pad, Ints("pad", std::vector<int64_t>{0, 0, 0, 0}));
      if (pad.size() != 4) {
        return InvalidArgument(what_ + ": pad needs 4 values [top, bottom, left, right]");
      }
      win->pad_top = pad[0];
      win->pad_bottom = pad[1];
      win->pad_left = pad[2];
      win->pad_right = pad[3];
    } else if (pad_type != "valid") {
      return InvalidArgument(what_ + ": unknown pad_type '" + pad_type + "'");
    }
    auto size = ceil_mode ? kernels::CeilOutSize : kernels::FloorOutSize;
    win->out_h = size(h, kh, win->sh, win->pad_top, win->pad_bottom);
    win->out_w = size(w, kw, win->sw, win->pad_left, win->pad_right);
    if (win->out_h <= 0 || win->out_w <= 0) {
      return InvalidArgument(what_ + ": the window does not fit the input " + ShapeString(x.shape));
    }
    return Status::Ok();
  }

  Status Pair(const std::string& param, int64_t* a, int64_t* b) {
    ASSIGN_OR_RETURN(std::vector<int64_t> v, Ints(param, std::vector<int64_t>{*a, *b}));
    if (v.size() != 2 || v[0] <= 0 || v[1] <= 0) {
      return InvalidArgument(what_ + ": '" + param + "' needs 2 positive values (2-D only)");
    }
    *a = v[0];
    *b = v[1];
    return Status::Ok();
  }

  Result<std::vector<MilValue>> Conv() {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    ASSIGN_OR_RETURN(const MilValue* weight, Required("weight"));
    ASSIGN_OR_RETURN(const MilValue* bias, Optional("bias"));
    const Tensor& wt = weight->t;
    if (x->t.shape.size() != 4 || wt.shape.size() != 4) {
      return FailedPrecondition(what_ + ": only 2-D convolution ([N, C, H, W]) is implemented");
    }
    ASSIGN_OR_RETURN(float groups_f, Scalar("groups", 1.0f));
    const int64_t groups = static_cast<int64_t>(groups_f), c_out = wt.shape[0];
    if (groups <= 0 || x->t.shape[1] != wt.shape[1] * groups || c_out % groups != 0) {
      return InvalidArgument(what_ + ": input " + ShapeString(x->t.shape) +
                             " does not fit weight " + ShapeString(wt.shape) + " with " +
                             std::to_string(groups) + " groups");
    }
    if (bias != nullptr && bias->t.size() != c_out) {
      return InvalidArgument(what_ + ": bias has " + std::to_string(bias->t.size()) + " values");
    }
    kernels::Window win;
    win.kh = wt.shape[2];
    win.kw = wt.shape[3];
    RETURN_IF_ERROR(Pair("strides", &win.sh, &win.sw));
    RETURN_IF_ERROR(Pair("dilations", &win.dh, &win.dw));
    RETURN_IF_ERROR(Geometry(x->t, false, &win));
    return One(Float(kernels::Conv2D(x->t, wt.data.data(), bias ? bias->t.data.data() : nullptr,
                                     c_out, groups, win)));
  }

  Result<std::vector<MilValue>> Linear() {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    ASSIGN_OR_RETURN(const MilValue* weight, Required("weight"));
    ASSIGN_OR_RETURN(const MilValue* bias, Optional("bias"));
    const Tensor& wt = weight->t;
    if (x->t.shape.empty() || wt.shape.size() != 2 || x->t.shape.back() != wt.shape[1]) {
      return InvalidArgument(what_ + ": input " + ShapeString(x->t.shape) +
                             " does not fit weight " + ShapeString(wt.shape));
    }
    const int64_t in = wt.shape[1], out_features = wt.shape[0], rows = x->t.size() / in;
    if (bias != nullptr && bias->t.size() != out_features) {
      return InvalidArgument(what_ + ": bias has " + std::to_string(bias->t.size()) + " values");
    }
    Tensor out;
    out.shape = x->t.shape;
    out.shape.back() = out_features;
    out.data.resize(static_cast<size_t>(rows * out_features));
    kernels::Gemm(x->t.data.data(), wt.data.data(), out.data.data(), rows, out_features, in, false,
                  true);
    if (bias != nullptr) {
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t o = 0; o < out_features; ++o)
          out.data[r * out_features + o] += bias->t.data[o];
      }
    }
    return One(Float(std::move(out)));
  }

  Result<std::vector<MilValue>> MatMul() {
    ASSIGN_OR_RETURN(const MilValue* xv, Required("x"));
    ASSIGN_OR_RETURN(const MilValue* yv, Required("y"));
    ASSIGN_OR_RETURN(bool tx, Bool("transpose_x", false));
    ASSIGN_OR_RETURN(bool ty, Bool("transpose_y", false));
    Tensor x = xv->t, y = yv->t;
    // Rank-1 operands are promoted (x to a row, y to a column) and the unit axis dropped after.
    bool x_vec = x.shape.size() == 1, y_vec = y.shape.size() == 1;
    if (x.shape.empty() || y.shape.empty()) return InvalidArgument(what_ + ": scalar operand");
    if (x_vec) {
      x.shape.insert(x.shape.begin(), 1);
      tx = false;
    }
    if (y_vec) {
      y.shape.push_back(1);
      ty = false;
    }
    const size_t rx = x.shape.size(), ry = y.shape.size();
    const int64_t m = tx ? x.shape[rx - 1] : x.shape[rx - 2];
    const int64_t k = tx ? x.shape[rx - 2] : x.shape[rx - 1];
    const int64_t k2 = ty ? y.shape[ry - 1] : y.shape[ry - 2];
    const int64_t n = ty ? y.shape[ry - 2] : y.shape[ry - 1];
    if (k != k2) {
      return InvalidArgument(what_ + ": inner dimensions differ for " + ShapeString(xv->t.shape) +
                             " and " + ShapeString(yv->t.shape));
    }
    std::vector<int64_t> bx(x.shape.begin(), x.shape.end() - 2),
        by(y.shape.begin(), y.shape.end() - 2);
    auto batch = kernels::BroadcastShape(bx, by);
    if (!batch.ok()) return InvalidArgument(what_ + ": " + batch.status().message());
    const std::vector<int64_t> bshape = *batch;
    int64_t batches = 1;
    for (int64_t d : bshape) batches *= d;
    Tensor out;
    out.shape = bshape;
    out.shape.push_back(m);
    out.shape.push_back(n);
    out.data.resize(static_cast<size_t>(batches * m * n));
    // Offset of batch `idx` (an index into bshape) in an operand whose batch shape is `own`,
    // right-aligned, with its unit axes broadcast.
    auto offset = [&](const std::vector<int64_t>& own, const std::vector<int64_t>& idx) {
      int64_t off = 0, stride = 1;
      for (size_t i = own.size(); i-- > 0;) {
        if (own[i] != 1) off += idx[bshape.size() - own.size() + i] * stride;
        stride *= own[i];
      }
      return off;
    };
    std::vector<int64_t> idx(bshape.size(), 0);
    for (int64_t b = 0; b < batches; ++b) {
      kernels::Gemm(x.data.data() + offset(bx, idx) * m * k,
                    y.data.data() + offset(by, idx) * k * n, out.data.data() + b * m * n, m, n, k,
                    tx, ty);
      for (size_t i = bshape.size(); i-- > 0;) {
        if (++idx[i] < bshape[i]) break;
        idx[i] = 0;
      }
    }
    if (x_vec) out.shape.erase(out.shape.end() - 2);
    if (y_vec) out.shape.pop_back();
    return One(Float(std::move(out)));
  }

  Result<std::vector<MilValue>> BatchNorm() {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    ASSIGN_OR_RETURN(const MilValue* mean, Required("mean"));
    ASSIGN_OR_RETURN(const MilValue* var, Required("variance"));
    ASSIGN_OR_RETURN(const MilValue* gamma, Optional("gamma"));
    ASSIGN_OR_RETURN(const MilValue* beta, Optional("beta"));
    ASSIGN_OR_RETURN(float eps, Scalar("epsilon", 1e-5f));
    Tensor t = x->t;
    if (t.shape.size() < 2) return InvalidArgument(what_ + ": input needs rank >= 2");
    const int64_t c = t.shape[1];
    for (const MilValue* p : {mean, var, gamma, beta}) {
      if (p != nullptr && p->t.size() != c) {
        return InvalidArgument(what_ + ": per-channel parameters need " + std::to_string(c) +
                               " values");
      }
    }
    const int64_t inner = t.size() / (t.shape[0] * c);
    for (int64_t b = 0; b < t.shape[0]; ++b) {
      for (int64_t ch = 0; ch < c; ++ch) {
        float g = gamma ? gamma->t.data[ch] : 1.0f, be = beta ? beta->t.data[ch] : 0.0f;
        float k = g / std::sqrt(var->t.data[ch] + eps), off = be - k * mean->t.data[ch];
        float* p = t.data.data() + (b * c + ch) * inner;
        for (int64_t i = 0; i < inner; ++i) p[i] = k * p[i] + off;
      }
    }
    return One(Float(std::move(t)));
  }

  Result<std::vector<MilValue>> Pool(kernels::PoolType type) {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    if (x->t.shape.size() != 4) {
      return FailedPrecondition(what_ + ": only 2-D pooling ([N, C, H, W]) is implemented");
    }
    kernels::Window win;
    ASSIGN_OR_RETURN(std::vector<int64_t> k, Ints("kernel_sizes", std::nullopt));
    if (k.size() != 2 || k[0] <= 0 || k[1] <= 0) {
      return InvalidArgument(what_ + ": kernel_sizes needs 2 positive values");
    }
    win.kh = k[0];
    win.kw = k[1];
    RETURN_IF_ERROR(Pair("strides", &win.sh, &win.sw));
    ASSIGN_OR_RETURN(bool ceil_mode, Bool("ceil_mode", false));
    ASSIGN_OR_RETURN(bool exclude, Bool("exclude_padding_from_average", false));
    RETURN_IF_ERROR(Geometry(x->t, ceil_mode, &win));
    return One(Float(kernels::Pool2D(x->t, type, win, exclude)));
  }

  Result<std::vector<int64_t>> Axes(const std::vector<int64_t>& raw, size_t rank) {
    std::vector<int64_t> axes;
    for (int64_t a : raw) {
      ASSIGN_OR_RETURN(int64_t n, Axis(a, rank, what_));
      if (std::find(axes.begin(), axes.end(), n) != axes.end()) {
        return InvalidArgument(what_ + ": axis " + std::to_string(a) + " repeats");
      }
      axes.push_back(n);
    }
    return axes;
  }

  // reduce_mean (kind empty) and the other reduce_* ops.
  Result<std::vector<MilValue>> Reduction(std::optional<kernels::ReduceKind> kind) {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    std::vector<int64_t> all;
    for (size_t i = 0; i < x->t.shape.size(); ++i) all.push_back(static_cast<int64_t>(i));
    ASSIGN_OR_RETURN(std::vector<int64_t> raw, Ints("axes", all));
    ASSIGN_OR_RETURN(std::vector<int64_t> axes, Axes(raw, x->t.shape.size()));
    ASSIGN_OR_RETURN(bool keep, Bool("keep_dims", false));
    Tensor out = kind ? kernels::Reduce(x->t, axes, *kind) : kernels::ReduceMean(x->t, axes);
    if (!keep) {
      std::vector<int64_t> shape;
      for (size_t i = 0; i < out.shape.size(); ++i) {
        if (std::find(axes.begin(), axes.end(), int64_t(i)) == axes.end()) {
          shape.push_back(out.shape[i]);
        }
      }
      out.shape = shape;
    }
    return One(Float(std::move(out)));
  }

  // ---- compressed weights (iOS 16's constexpr ops) ----

  // The declared output shape and type of a constexpr op, values rounded to fp16 when declared.
  Result<MilValue> Decompressed(std::vector<float> data, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    if (n != static_cast<int64_t>(data.size())) {
      return InvalidArgument(what_ + " yields " + std::to_string(data.size()) +
                             " values for shape " + ShapeString(shape));
    }
    Tensor t;
    t.shape = std::move(shape);
    t.data = std::move(data);
    MilValue v = Float(std::move(t));
    if (v.type == mil::FLOAT16) {
      for (float& f : v.t.data) f = RoundToHalf(f);
    }
    return v;
  }

  // scale * (quantized_data - zero_point), scale and zero point per slice along axis or one.
  Result<std::vector<MilValue>> AffineDequantize() {
    ASSIGN_OR_RETURN(const MilValue* q, Required("quantized_data"));
    ASSIGN_OR_RETURN(const MilValue* zp, Required("zero_point"));
    ASSIGN_OR_RETURN(const MilValue* scale, Required("scale"));
    ASSIGN_OR_RETURN(std::vector<int64_t> axis_v, Ints("axis", std::vector<int64_t>{0}));
    if (axis_v.size() != 1) return InvalidArgument(what_ + ": axis must be a scalar");
    ASSIGN_OR_RETURN(int64_t axis, Axis(axis_v[0], q->t.shape.size(), what_));
    const int64_t channels = q->t.shape[axis];
    int64_t inner = 1;
    for (size_t d = axis + 1; d < q->t.shape.size(); ++d) inner *= q->t.shape[d];
    for (const MilValue* p : {zp, scale}) {
      if (p->t.size() != 1 && p->t.size() != channels) {
        return InvalidArgument(what_ + ": scale and zero_point need 1 or " +
                               std::to_string(channels) + " values");
      }
    }
    std::vector<float> out(q->t.data.size());
    for (size_t i = 0; i < out.size(); ++i) {
      const size_t c = static_cast<size_t>((static_cast<int64_t>(i) / inner) % channels);
      const float s = scale->t.data[scale->t.data.size() == 1 ? 0 : c];
      const float z = zp->t.data[zp->t.data.size() == 1 ? 0 : c];
      out[i] = s * (q->t.data[i] - z);
    }
    ASSIGN_OR_RETURN(MilValue v, Decompressed(std::move(out), q->t.shape));
    return One(std::move(v));
  }

  // Bit i of a packed uint8 array, least significant bit of each byte first.
  static uint32_t Bits(const std::vector<float>& bytes, size_t first_bit, int count) {
    uint32_t v = 0;
    for (int b = 0; b < count; ++b) {
      size_t bit = first_bit + b;
      uint32_t byte = static_cast<uint32_t>(bytes[bit / 8]);
      v |= ((byte >> (bit % 8)) & 1u) << b;
    }
    return v;
  }

  Result<std::vector<MilValue>> LutToDense() {
    ASSIGN_OR_RETURN(const MilValue* indices, Required("indices"));
    ASSIGN_OR_RETURN(const MilValue* lut, Required("lut"));
    ASSIGN_OR_RETURN(std::vector<int64_t> shape, Ints("shape", std::nullopt));
    const size_t k = lut->t.data.size();
    int bits = 0;
    while ((size_t{1} << bits) < k) ++bits;
    const bool width_ok = bits == 1 || bits == 2 || bits == 4 || bits == 6 || bits == 8;
    if ((size_t{1} << bits) != k || !width_ok) {
      return InvalidArgument(what_ + ": the lookup table has " + std::to_string(k) + " entries");
    }
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    if (static_cast<int64_t>(indices->t.data.size()) != (n * bits + 7) / 8) {
      return InvalidArgument(what_ + ": " + std::to_string(indices->t.data.size()) +
                             " index bytes for " + std::to_string(n) + " values");
    }
    std::vector<float> out(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out[i] = lut->t.data[Bits(indices->t.data, i * bits, bits)];
    ASSIGN_OR_RETURN(MilValue v, Decompressed(std::move(out), shape));
    return One(std::move(v));
  }

  Result<std::vector<MilValue>> SparseToDense() {
    ASSIGN_OR_RETURN(const MilValue* data, Required("nonzero_data"));
    ASSIGN_OR_RETURN(const MilValue* mask, Required("mask"));
    ASSIGN_OR_RETURN(std::vector<int64_t> shape, Ints("shape", std::nullopt));
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    if (static_cast<int64_t>(mask->t.data.size()) != (n + 7) / 8) {
      return InvalidArgument(what_ + ": the mask does not fit shape " + ShapeString(shape));
    }
    std::vector<float> out(static_cast<size_t>(n), 0.0f);
    size_t next = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (!Bits(mask->t.data, i, 1)) continue;
      if (next >= data->t.data.size()) {
        return InvalidArgument(what_ + ": the mask has more set bits than nonzero_data values");
      }
      out[i] = data->t.data[next++];
    }
    if (next != data->t.data.size()) {
      return InvalidArgument(what_ + ": nonzero_data has values the mask does not place");
    }
    ASSIGN_OR_RETURN(MilValue v, Decompressed(std::move(out), shape));
    return One(std::move(v));
  }

  Result<std::vector<MilValue>> ArgReduce(bool largest) {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    ASSIGN_OR_RETURN(std::vector<int64_t> axis, Ints("axis", std::vector<int64_t>{-1}));
    ASSIGN_OR_RETURN(bool keep, Bool("keep_dims", false));
    if (axis.size() != 1) return InvalidArgument(what_ + ": axis must be a scalar");
    ASSIGN_OR_RETURN(int64_t a, Axis(axis[0], x->t.shape.size(), what_));
    Tensor out = kernels::ArgReduce(x->t, a, largest);
    if (!keep) out.shape.erase(out.shape.begin() + a);
    return One(Float(std::move(out)));
  }

  Result<std::vector<MilValue>> Select() {
    ASSIGN_OR_RETURN(const MilValue* c, Required("cond"));
    ASSIGN_OR_RETURN(const MilValue* a, Required("a"));
    ASSIGN_OR_RETURN(const MilValue* b, Required("b"));
    auto out = kernels::Select(c->t, a->t, b->t);
    if (!out.ok()) return InvalidArgument(what_ + ": " + out.status().message());
    return One(Float(std::move(out).value()));
  }

  // Indices along an axis of size n, negative ones counted from the end.
  Result<std::vector<int64_t>> Indices(const MilValue& v, int64_t n) {
    std::vector<int64_t> out;
    for (float f : v.t.data) {
      int64_t j = static_cast<int64_t>(f);
      if (j < 0) j += n;
      if (j < 0 || j >= n) {
        return InvalidArgument(what_ + ": index " + std::to_string(static_cast<int64_t>(f)) +
                               " is out of range for size " + std::to_string(n));
      }
      out.push_back(j);
    }
    return out;
  }

  Result<std::vector<MilValue>> Gather() {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    ASSIGN_OR_RETURN(const MilValue* idx, Required("indices"));
    ASSIGN_OR_RETURN(std::vector<int64_t> axis, Ints("axis", std::vector<int64_t>{0}));
    if (axis.size() != 1) return InvalidArgument(what_ + ": axis must be a scalar");
    ASSIGN_OR_RETURN(int64_t a, Axis(axis[0], x->t.shape.size(), what_));
    ASSIGN_OR_RETURN(std::vector<int64_t> indices, Indices(*idx, x->t.shape[a]));
    return One(Float(kernels::Gather(x->t, indices, idx->t.shape, a)));
  }

  Result<std::vector<MilValue>> GatherAlongAxis() {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    ASSIGN_OR_RETURN(const MilValue* idx, Required("indices"));
    ASSIGN_OR_RETURN(std::vector<int64_t> axis, Ints("axis", std::vector<int64_t>{0}));
    if (axis.size() != 1) return InvalidArgument(what_ + ": axis must be a scalar");
    ASSIGN_OR_RETURN(int64_t a, Axis(axis[0], x->t.shape.size(), what_));
    if (idx->t.shape.size() != x->t.shape.size()) {
      return InvalidArgument(what_ + ": indices and x differ in rank");
    }
    Tensor indices = idx->t;
    ASSIGN_OR_RETURN(std::vector<int64_t> flat, Indices(*idx, x->t.shape[a]));
    for (size_t i = 0; i < flat.size(); ++i) indices.data[i] = static_cast<float>(flat[i]);
    for (size_t d = 0; d < indices.shape.size(); ++d) {
      if (int64_t(d) != a && indices.shape[d] > x->t.shape[d]) {
        return InvalidArgument(what_ + ": indices exceed x outside the axis");
      }
    }
    return One(Float(kernels::GatherAlongAxis(x->t, indices, a)));
  }

  // MIL slice_by_index: begin/end/stride per axis, masks to use the whole axis, squeeze_mask
  // to drop an axis (its begin picks the element).
  Result<std::vector<MilValue>> SliceByIndex() {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    const size_t rank = x->t.shape.size();
    ASSIGN_OR_RETURN(std::vector<int64_t> begin, Ints("begin", std::nullopt));
    ASSIGN_OR_RETURN(std::vector<int64_t> end, Ints("end", std::nullopt));
    ASSIGN_OR_RETURN(std::vector<int64_t> stride,
                     Ints("stride", std::vector<int64_t>(rank, 1)));
    std::vector<int64_t> none(rank, 0);
    ASSIGN_OR_RETURN(std::vector<int64_t> begin_mask, Ints("begin_mask", none));
    ASSIGN_OR_RETURN(std::vector<int64_t> end_mask, Ints("end_mask", none));
    ASSIGN_OR_RETURN(std::vector<int64_t> squeeze_mask, Ints("squeeze_mask", none));
    if (begin.size() != rank || end.size() != rank || stride.size() != rank ||
        begin_mask.size() != rank || end_mask.size() != rank || squeeze_mask.size() != rank) {
      return InvalidArgument(what_ + ": begin, end, stride and masks need one value per axis");
    }
    std::vector<int64_t> b(rank), e(rank), keep;
    for (size_t d = 0; d < rank; ++d) {
      const int64_t n = x->t.shape[d], s = stride[d];
      if (s == 0) return InvalidArgument(what_ + ": stride 0");
      auto clamp = [&](int64_t v) {
        if (v < 0) v += n;
        return s > 0 ? std::clamp<int64_t>(v, 0, n) : std::clamp<int64_t>(v, -1, n - 1);
      };
      b[d] = begin_mask[d] ? (s > 0 ? 0 : n - 1) : clamp(begin[d]);
      e[d] = end_mask[d] ? (s > 0 ? n : -1) : clamp(end[d]);
      if (squeeze_mask[d]) e[d] = b[d] + (s > 0 ? 1 : -1);
      if (!squeeze_mask[d]) keep.push_back(static_cast<int64_t>(d));
    }
    Tensor out = kernels::StridedSlice(x->t, b, e, stride);
    std::vector<int64_t> shape;
    for (int64_t d : keep) shape.push_back(out.shape[d]);
    out.shape = shape;
    return One(Float(std::move(out)));
  }

  Result<std::vector<MilValue>> Tile() {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    ASSIGN_OR_RETURN(std::vector<int64_t> reps, Ints("reps", std::nullopt));
    if (reps.size() != x->t.shape.size()) {
      return InvalidArgument(what_ + ": reps needs one value per axis");
    }
    for (int64_t r : reps) {
      if (r < 0) return InvalidArgument(what_ + ": negative repetition");
    }
    return One(Float(kernels::Tile(x->t, reps)));
  }

  Result<std::vector<MilValue>> CumSum() {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    ASSIGN_OR_RETURN(std::vector<int64_t> axis, Ints("axis", std::vector<int64_t>{0}));
    ASSIGN_OR_RETURN(bool exclusive, Bool("exclusive", false));
    ASSIGN_OR_RETURN(bool reverse, Bool("reverse", false));
    if (axis.size() != 1) return InvalidArgument(what_ + ": axis must be a scalar");
    ASSIGN_OR_RETURN(int64_t a, Axis(axis[0], x->t.shape.size(), what_));
    return One(Float(kernels::CumSum(x->t, a, exclusive, reverse)));
  }

  Result<std::vector<MilValue>> Softmax() {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    ASSIGN_OR_RETURN(std::vector<int64_t> axis, Ints("axis", std::vector<int64_t>{-1}));
    if (axis.size() != 1) return InvalidArgument(what_ + ": axis must be a scalar");
    ASSIGN_OR_RETURN(int64_t a, Axis(axis[0], x->t.shape.size(), what_));
    Tensor t = x->t;
    kernels::Softmax(&t, a);
    return One(Float(std::move(t)));
  }

  Result<std::vector<MilValue>> Reshape() {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    ASSIGN_OR_RETURN(std::vector<int64_t> shape, Ints("shape", std::nullopt));
    int64_t known = 1, infer = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == -1) {
        if (infer >= 0) return InvalidArgument(what_ + ": shape has more than one -1");
        infer = static_cast<int64_t>(i);
      } else if (shape[i] < 0) {
        return InvalidArgument(what_ + ": negative dimension in shape");
      } else {
        known *= shape[i];
      }
    }
    if (infer >= 0 && known > 0) shape[infer] = x->t.size() / known;
    Tensor t = x->t;
    t.shape = shape;
    if (t.size() != x->t.size()) {
      return InvalidArgument(what_ + " cannot reshape " + ShapeString(x->t.shape) + " to " +
                             ShapeString(shape));
    }
    return One(Float(std::move(t)));
  }

  Result<std::vector<MilValue>> Transpose() {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    ASSIGN_OR_RETURN(std::vector<int64_t> raw, Ints("perm", std::nullopt));
    ASSIGN_OR_RETURN(std::vector<int64_t> perm, Axes(raw, x->t.shape.size()));
    if (perm.size() != x->t.shape.size()) {
      return InvalidArgument(what_ + ": perm has " + std::to_string(perm.size()) +
                             " axes for rank " + std::to_string(x->t.shape.size()));
    }
    return One(Float(kernels::Transpose(x->t, perm)));
  }

  Result<std::vector<MilValue>> Squeeze() {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    ASSIGN_OR_RETURN(const MilValue* axes_v, Optional("axes"));
    Tensor t = x->t;
    std::vector<int64_t> shape;
    std::vector<int64_t> axes;
    if (axes_v != nullptr) {
      ASSIGN_OR_RETURN(std::vector<int64_t> raw, Ints("axes", std::nullopt));
      ASSIGN_OR_RETURN(axes, Axes(raw, t.shape.size()));
    }
    for (size_t i = 0; i < t.shape.size(); ++i) {
      bool listed = std::find(axes.begin(), axes.end(), int64_t(i)) != axes.end();
      if (listed && t.shape[i] != 1) {
        return InvalidArgument(what_ + ": axis " + std::to_string(i) + " has size " +
                               std::to_string(t.shape[i]));
      }
      if ((axes_v == nullptr && t.shape[i] == 1) || listed) continue;
      shape.push_back(t.shape[i]);
    }
    t.shape = shape;
    return One(Float(std::move(t)));
  }

  Result<std::vector<MilValue>> ExpandDims() {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    ASSIGN_OR_RETURN(std::vector<int64_t> raw, Ints("axes", std::nullopt));
    Tensor t = x->t;
    // Axes index the output, whose rank is the input's plus the number of new axes.
    ASSIGN_OR_RETURN(std::vector<int64_t> axes, Axes(raw, t.shape.size() + raw.size()));
    std::sort(axes.begin(), axes.end());
    for (int64_t a : axes) t.shape.insert(t.shape.begin() + a, 1);
    return One(Float(std::move(t)));
  }

  Result<std::vector<MilValue>> Concat() {
    auto it = op_.inputs().find("values");
    if (it == op_.inputs().end() || it->second.arguments().empty()) {
      return InvalidArgument(what_ + " lacks parameter 'values'");
    }
    std::vector<const Tensor*> parts;
    for (const auto& b : it->second.arguments()) {
      ASSIGN_OR_RETURN(const MilValue* v, Resolve(b, "values"));
      parts.push_back(&v->t);
    }
    ASSIGN_OR_RETURN(std::vector<int64_t> axis, Ints("axis", std::nullopt));
    ASSIGN_OR_RETURN(bool interleave, Bool("interleave", false));
    if (interleave) return FailedPrecondition(what_ + ": interleave is not implemented");
    if (axis.size() != 1) return InvalidArgument(what_ + ": axis must be a scalar");
    ASSIGN_OR_RETURN(int64_t a, Axis(axis[0], parts[0]->shape.size(), what_));
    for (const Tensor* p : parts) {
      bool fits = p->shape.size() == parts[0]->shape.size();
      for (size_t d = 0; fits && d < p->shape.size(); ++d) {
        fits = int64_t(d) == a || p->shape[d] == parts[0]->shape[d];
      }
      if (!fits) {
        return InvalidArgument(what_ + " cannot join " + ShapeString(parts[0]->shape) + " and " +
                               ShapeString(p->shape));
      }
    }
    return One(Float(kernels::Concat(parts, a)));
  }

  Result<std::vector<MilValue>> Pad() {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    ASSIGN_OR_RETURN(std::vector<int64_t> pad, Ints("pad", std::nullopt));
    ASSIGN_OR_RETURN(std::string mode, String("mode", "constant"));
    ASSIGN_OR_RETURN(float value, Scalar("constant_val", 0.0f));
    const size_t rank = x->t.shape.size();
    if (pad.size() % 2 != 0 || pad.size() / 2 > rank) {
      return InvalidArgument(what_ + ": pad needs before/after pairs for at most " +
                             std::to_string(rank) + " axes");
    }
    // The pairs cover the last pad.size()/2 axes.
    std::vector<std::pair<int64_t, int64_t>> pads(rank, {0, 0});
    const size_t first = rank - pad.size() / 2;
    for (size_t i = 0; i < pad.size() / 2; ++i) {
      if (pad[2 * i] < 0 || pad[2 * i + 1] < 0) {
        return InvalidArgument(what_ + ": negative padding");
      }
      pads[first + i] = {pad[2 * i], pad[2 * i + 1]};
    }
    kernels::PadMode m;
    if (mode == "constant") {
      m = kernels::PadMode::kConstant;
    } else if (mode == "reflect") {
      m = kernels::PadMode::kReflect;
    } else if (mode == "replicate") {
      m = kernels::PadMode::kReplicate;
    } else {
      return FailedPrecondition(what_ + ": pad mode '" + mode + "' is not implemented");
    }
    return One(Float(kernels::Pad(x->t, pads, m, value)));
  }

  Result<std::vector<MilValue>> Cast() {
    ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
    ASSIGN_OR_RETURN(std::string dtype, String("dtype", ""));
    MilValue v;
    v.t = x->t;
    if (dtype == "fp16") {
      // Half precision as the device stores it: every value rounded to the nearest binary16.
      v.type = mil::FLOAT16;
      for (float& f : v.t.data) f = RoundToHalf(f);
    } else if (dtype == "fp32") {
      v.type = mil::FLOAT32;
    } else if (dtype == "int32" || dtype == "int64" || dtype == "bool") {
      v.type = dtype == "bool" ? mil::BOOL : dtype == "int32" ? mil::INT32 : mil::INT64;
      std::vector<int64_t> ints;
      for (float f : v.t.data) {
        ints.push_back(dtype == "bool" ? int64_t(f != 0) : static_cast<int64_t>(f));
      }
      SetInts(&v, std::move(ints));
    } else {
      return FailedPrecondition(what_ + ": cast to '" + dtype + "' is not implemented");
    }
    return One(std::move(v));
  }

  Result<std::vector<MilValue>> Classify() {
    ASSIGN_OR_RETURN(const MilValue* probs, Required("probabilities"));
    ASSIGN_OR_RETURN(const MilValue* classes, Required("classes"));
    const bool strings = !classes->strings.empty();
    std::vector<std::string> labels = classes->strings;
    if (!strings) {
      for (int64_t c : classes->ints) labels.push_back(std::to_string(c));
    }
    if (labels.empty() || static_cast<int64_t>(labels.size()) != probs->t.size()) {
      return InvalidArgument(what_ + ": " + std::to_string(labels.size()) + " classes for " +
                             std::to_string(probs->t.size()) + " probabilities");
    }
    if (op_.outputs_size() != 2) return InvalidArgument(what_ + " needs two outputs");
    size_t best = static_cast<size_t>(std::max_element(probs->t.data.begin(), probs->t.data.end()) -
                                      probs->t.data.begin());
    MilValue label;
    if (strings) {
      label.type = mil::STRING;
      label.strings = {labels[best]};
    } else {
      label.type = mil::INT64;
      SetInts(&label, {classes->ints[best]});
    }
    label.t.shape = {};
    MilValue dict;
    dict.is_dict = true;
    for (size_t i = 0; i < labels.size(); ++i) dict.dict[labels[i]] = probs->t.data[i];
    std::vector<MilValue> out;
    out.push_back(std::move(label));
    out.push_back(std::move(dict));
    return out;
  }

  const mil::Operation& op_;
  const std::map<std::string, MilValue>& env_;
  const std::string& weights_;
  std::string name_, what_;
  std::deque<MilValue> inline_;  // inline argument values; a deque keeps pointers stable
};

}  // namespace

Result<std::map<std::string, Value>> PredictProgram(const Model& model,
                                                    const std::map<std::string, Value>& inputs,
                                                    std::map<std::string, Tensor>* trace) {
  const mil::Program& program = model.spec().mlprogram();
  auto fn_it = program.functions().find("main");
  if (fn_it == program.functions().end()) {
    return FailedPrecondition("the ML Program has no 'main' function");
  }
  const mil::Function& fn = fn_it->second;
  auto block_it = fn.block_specializations().find(fn.opset());
  if (block_it == fn.block_specializations().end()) {
    if (fn.block_specializations().size() != 1) {
      return FailedPrecondition("function main has no block for its opset '" + fn.opset() + "'");
    }
    block_it = fn.block_specializations().begin();
  }
  const mil::Block& block = block_it->second;

  std::map<std::string, MilValue> env;
  for (const mil::NamedValueType& in : fn.inputs()) {
    auto it = inputs.find(in.name());
    if (it == inputs.end()) {
      return InvalidArgument("missing input '" + in.name() + "'");
    }
    MilValue v;
    v.t = it->second.tensor;
    std::vector<int64_t> shape;
    // The function declares the full shape (an image as [1, C, H, W]); the caller's value was
    // already checked against the description, so only the batch axes can differ.
    if (DeclaredShape(in.type(), &shape)) {
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      if (n != v.t.size()) {
        return InvalidArgument("input '" + in.name() + "' has shape " + ShapeString(v.t.shape) +
                               "; the program expects " + ShapeString(shape));
      }
      v.t.shape = shape;
    }
    if (in.type().has_tensortype()) v.type = in.type().tensortype().datatype();
    if (IsInteger(v.type)) {
      for (float f : v.t.data) v.ints.push_back(static_cast<int64_t>(f));
    }
    env[in.name()] = std::move(v);
  }

  for (const mil::Operation& op : block.operations()) {
    OpRunner runner(op, env, model.weights());
    ASSIGN_OR_RETURN(std::vector<MilValue> outs, runner.Run());
    if (static_cast<int>(outs.size()) != op.outputs_size()) {
      return InvalidArgument(op.type() + " op declares " + std::to_string(op.outputs_size()) +
                             " outputs; it produces " + std::to_string(outs.size()));
    }
    if (trace != nullptr && op.type() != "const" && !outs.empty() && outs[0].strings.empty() &&
        !outs[0].is_dict) {
      (*trace)[runner.name()] = outs[0].t;
    }
    for (int i = 0; i < op.outputs_size(); ++i) env[op.outputs(i).name()] = std::move(outs[i]);
  }

  std::map<std::string, Value> outputs;
  for (const std::string& name : block.outputs()) {
    auto it = env.find(name);
    if (it == env.end()) {
      return InvalidArgument("block output '" + name + "' is not produced by any op");
    }
    const MilValue& v = it->second;
    Value out;
    if (v.is_dict) {
      out.kind = "dictionary";
      out.dict = v.dict;
    } else if (v.type == mil::STRING) {
      out.kind = "string";
      out.string_value = v.strings.empty() ? std::string() : v.strings[0];
    } else if (IsInteger(v.type) && v.ints.size() == 1 && v.t.shape.empty()) {
      out.kind = "int64";
      out.int_value = v.ints[0];
    } else {
      out.tensor = v.t;
    }
    outputs[name] = std::move(out);
  }
  return outputs;
}

}  // namespace ringo::coreml::internal
