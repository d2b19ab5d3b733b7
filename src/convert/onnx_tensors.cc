// Reading an ONNX graph's initializers and inputs: constants, shapes and element types.
#include <onnx/onnx_pb.h>

#include <cstring>
#include <string_view>

#include "convert/importer.h"

namespace ringo::convert {

// Dimensions beyond this are certainly not a real model and would overflow element counts.
constexpr int64_t kMaxDim = int64_t(1) << 31;

Status Importer::ReadInitializer(onnx::TensorProto* t, const std::string_view* mapped) {
  std::string what = "initializer '" + t->name() + "' of '" + source_ + "'";
  if (!mapped &&
      (t->data_location() == onnx::TensorProto::EXTERNAL || t->external_data_size() > 0)) {
    return InvalidArgument(what + " uses external data, which ringo reads only from a file");
  }
  Shape shape(t->dims().begin(), t->dims().end());
  for (int64_t d : shape) {
    if (d < 0 || d > kMaxDim) return InvalidArgument(what + " has an invalid dimension");
  }
  int64_t n = NumElements(shape);
  Constant c;
  c.shape = shape;
  const std::string_view raw = mapped ? *mapped : std::string_view(t->raw_data());
  auto check = [&](int64_t have) -> Status {
    if (have != n) {
      return InvalidArgument(what + " holds " + std::to_string(have) + " values but its shape " +
                             ShapeToString(shape) + " needs " + std::to_string(n));
    }
    return Status::Ok();
  };
  switch (t->data_type()) {
    case onnx::TensorProto::FLOAT:
      if (!raw.empty()) {
        if (raw.size() % 4 != 0) return InvalidArgument(what + " has truncated raw data");
        RETURN_IF_ERROR(check(static_cast<int64_t>(raw.size() / 4)));
        if (mapped) {
          c.mapped = raw;  // read when a pass needs the values (Constant::Load)
        } else {
          c.f.resize(n);
          std::memcpy(c.f.data(), raw.data(), raw.size());  // ONNX raw data is little-endian
        }
      } else {
        RETURN_IF_ERROR(check(t->float_data_size()));
        c.f.assign(t->float_data().begin(), t->float_data().end());
      }
      break;
    case onnx::TensorProto::DOUBLE:
      c.f.resize(n);
      if (!raw.empty()) {
        RETURN_IF_ERROR(check(static_cast<int64_t>(raw.size() / 8)));
        for (int64_t k = 0; k < n; ++k) {
          double v;
          std::memcpy(&v, raw.data() + 8 * k, 8);
          c.f[k] = static_cast<float>(v);
        }
      } else {
        RETURN_IF_ERROR(check(t->double_data_size()));
        for (int64_t k = 0; k < n; ++k) c.f[k] = static_cast<float>(t->double_data(k));
      }
      break;
    case onnx::TensorProto::INT64:
      c.is_int = true;
      if (!raw.empty()) {
        RETURN_IF_ERROR(check(static_cast<int64_t>(raw.size() / 8)));
        c.i.resize(n);
        std::memcpy(c.i.data(), raw.data(), 8 * n);
      } else {
        RETURN_IF_ERROR(check(t->int64_data_size()));
        c.i.assign(t->int64_data().begin(), t->int64_data().end());
      }
      break;
    case onnx::TensorProto::INT32:
      c.is_int = true;
      c.i.resize(n);
      if (!raw.empty()) {
        RETURN_IF_ERROR(check(static_cast<int64_t>(raw.size() / 4)));
        for (int64_t k = 0; k < n; ++k) {
          int32_t v;
          std::memcpy(&v, raw.data() + 4 * k, 4);
          c.i[k] = v;
        }
      } else {
        RETURN_IF_ERROR(check(t->int32_data_size()));
        for (int64_t k = 0; k < n; ++k) c.i[k] = t->int32_data(k);
      }
      break;
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::UINT16: {
      // Stored in int32_data, or raw in their own width.
      const int type = t->data_type();
      const bool byte = type == onnx::TensorProto::INT8 || type == onnx::TensorProto::UINT8;
      const size_t width = byte ? 1 : 2;
      c.is_int = true;
      c.i.resize(n);
      if (!raw.empty()) {
        RETURN_IF_ERROR(check(static_cast<int64_t>(raw.size() / width)));
        for (int64_t k = 0; k < n; ++k) {
          const auto* p = reinterpret_cast<const uint8_t*>(raw.data()) + width * k;
          uint32_t u = width == 1 ? p[0] : static_cast<uint32_t>(p[0] | (p[1] << 8));
          bool is_signed = type == onnx::TensorProto::INT8 || type == onnx::TensorProto::INT16;
          c.i[k] = !is_signed ? u : width == 1 ? int64_t(int8_t(u)) : int64_t(int16_t(u));
        }
      } else {
        RETURN_IF_ERROR(check(t->int32_data_size()));
        for (int64_t k = 0; k < n; ++k) c.i[k] = t->int32_data(k);
      }
      break;
    }
    case onnx::TensorProto::BOOL:
      c.is_int = c.is_bool = true;
      c.i.resize(n);
      if (!raw.empty()) {
        RETURN_IF_ERROR(check(static_cast<int64_t>(raw.size())));
        for (int64_t k = 0; k < n; ++k) c.i[k] = raw[k] != 0;
      } else {
        RETURN_IF_ERROR(check(t->int32_data_size()));
        for (int64_t k = 0; k < n; ++k) c.i[k] = t->int32_data(k) != 0;
      }
      break;
    default:
      return InvalidArgument(what + " has ONNX data type " + std::to_string(t->data_type()) +
                             "; ringo reads float, double, int32, int64 and bool tensors");
  }
  // The protobuf copy is no longer needed; releasing it now keeps the peak near one copy.
  std::string().swap(*t->mutable_raw_data());
  t->clear_float_data();
  graph_.shapes[t->name()] = shape;
  consts_[t->name()] = std::move(c);
  return Status::Ok();
}

Status Importer::ReadInput(const onnx::ValueInfoProto& in) {
  if (consts_.count(in.name())) return Status::Ok();  // an initializer listed as input
  const auto& type = in.type();
  if (!type.has_tensor_type()) {
    return InvalidArgument("input '" + in.name() + "' is not a tensor");
  }
  DType dtype;
  if (!ElementType(type.tensor_type().elem_type(), &dtype)) {
    return InvalidArgument("input '" + in.name() + "' has ONNX element type " +
                           std::to_string(type.tensor_type().elem_type()) +
                           "; ringo converts float, double, signed and unsigned integers up to "
                           "16 bits, int32, int64 and bool inputs");
  }
  if (!type.tensor_type().has_shape()) {
    return InvalidArgument("input '" + in.name() + "' has no shape; give it a static shape");
  }
  Shape shape;
  const auto& dims = type.tensor_type().shape().dim();
  for (int k = 0; k < dims.size(); ++k) {
    const auto& d = dims[k];
    if (d.has_dim_value() && d.dim_value() > 0 && d.dim_value() <= kMaxDim) {
      shape.push_back(d.dim_value());
    } else if (k == 0) {
      shape.push_back(1);  // a symbolic leading dimension: one example
    } else {
      std::string sym = d.has_dim_param() ? " ('" + d.dim_param() + "')" : "";
      return InvalidArgument("input '" + in.name() + "' has a dynamic dimension" + sym +
                             " at axis " + std::to_string(k) +
                             " with no fixed size; give its sizes with --shape, or export the "
                             "model with a static shape");
    }
  }
  if (dtype != DType::kFloat) graph_.dtypes[in.name()] = dtype;
  graph_.inputs.push_back(in.name());
  graph_.shapes[in.name()] = shape;
  return Status::Ok();
}

}  // namespace ringo::convert
