// Lowering an ONNX ModelProto to the converter's Graph: order, shapes, constants, canonical ops.
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <numeric>
#include <set>
#include <unordered_map>

#include "convert/graph.h"
#include "convert/importer.h"

namespace ringo::convert {

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
  return s + "]";
}

Constant Constant::Floats(Shape shape, std::vector<float> values) {
  Constant c;
  c.shape = std::move(shape);
  c.f = std::move(values);
  return c;
}

Constant Constant::Ints(Shape shape, std::vector<int64_t> values) {
  Constant c;
  c.is_int = true;
  c.shape = std::move(shape);
  c.i = std::move(values);
  return c;
}

namespace {
constexpr int kMinOpset = 1;
}  // namespace

// Dimensions beyond this are certainly not a real model and would overflow element counts.
constexpr int64_t kMaxDim = int64_t(1) << 31;

// ---- attributes ----

const onnx::AttributeProto* FindAttr(const onnx::NodeProto& node, std::string_view name) {
  for (const auto& a : node.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

int64_t AttrInt(const onnx::NodeProto& node, std::string_view name, int64_t def) {
  const auto* a = FindAttr(node, name);
  return a ? a->i() : def;
}

float AttrFloat(const onnx::NodeProto& node, std::string_view name, float def) {
  const auto* a = FindAttr(node, name);
  return a ? a->f() : def;
}

std::string AttrString(const onnx::NodeProto& node, std::string_view name, std::string def) {
  const auto* a = FindAttr(node, name);
  return a ? a->s() : def;
}

std::vector<int64_t> AttrInts(const onnx::NodeProto& node, std::string_view name,
                              std::vector<int64_t> def) {
  const auto* a = FindAttr(node, name);
  if (!a) return def;
  return {a->ints().begin(), a->ints().end()};
}

// ---- constant arithmetic (folding) ----

// Row-major strides of a shape.
std::vector<int64_t> Strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int k = static_cast<int>(s.size()) - 2; k >= 0; --k) st[k] = st[k + 1] * s[k + 1];
  return st;
}

Result<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t k = 0; k < r; ++k) {
    int64_t da = k < r - a.size() ? 1 : a[k - (r - a.size())];
    int64_t db = k < r - b.size() ? 1 : b[k - (r - b.size())];
    if (da != db && da != 1 && db != 1) {
      return InvalidArgument("shapes " + ShapeToString(a) + " and " + ShapeToString(b) +
                             " do not broadcast");
    }
    out[k] = da == 1 ? db : da;
  }
  return out;
}

// Index into `in` (shape `in_shape`) of output element `flat` under broadcasting to `out`.
int64_t BroadcastIndex(int64_t flat, const Shape& out, const std::vector<int64_t>& out_strides,
                       const Shape& in, const std::vector<int64_t>& in_strides) {
  int64_t idx = 0;
  size_t off = out.size() - in.size();
  for (size_t k = 0; k < out.size(); ++k) {
    int64_t c = (flat / out_strides[k]) % out[k];
    if (k >= off && in[k - off] != 1) idx += c * in_strides[k - off];
  }
  return idx;
}

Result<Constant> FoldBinary(const std::string& op, const Constant& a, const Constant& b) {
  ASSIGN_OR_RETURN(Shape out, BroadcastShapes(a.shape, b.shape));
  int64_t n = NumElements(out);
  auto os = Strides(out), as = Strides(a.shape), bs = Strides(b.shape);
  Constant c;
  c.shape = out;
  c.is_int = a.is_int && b.is_int;
  if (c.is_int) {
    c.i.resize(n);
  } else {
    c.f.resize(n);
  }
  for (int64_t k = 0; k < n; ++k) {
    int64_t ia = BroadcastIndex(k, out, os, a.shape, as);
    int64_t ib = BroadcastIndex(k, out, os, b.shape, bs);
    if (c.is_int) {
      int64_t x = a.i[ia], y = b.i[ib], r = 0;
      if (op == "Add") r = x + y;
      if (op == "Sub") r = x - y;
      if (op == "Mul") r = x * y;
      if (op == "Div") {
        if (y == 0) return InvalidArgument("integer division by zero in a constant");
        r = x / y;
      }
      c.i[k] = r;
    } else {
      double x = a.at(ia), y = b.at(ib), r = 0;
      if (op == "Add") r = x + y;
      if (op == "Sub") r = x - y;
      if (op == "Mul") r = x * y;
      if (op == "Div") r = x / y;
      c.f[k] = static_cast<float>(r);
    }
  }
  return c;
}

Constant Transposed(const Constant& in, const std::vector<int64_t>& perm) {
  Shape out(perm.size());
  for (size_t k = 0; k < perm.size(); ++k) out[k] = in.shape[perm[k]];
  auto is = Strides(in.shape), os = Strides(out);
  Constant c;
  c.is_int = in.is_int;
  c.shape = out;
  int64_t n = in.size();
  if (c.is_int) {
    c.i.resize(n);
  } else {
    c.f.resize(n);
  }
  for (int64_t k = 0; k < n; ++k) {
    int64_t src = 0;
    for (size_t d = 0; d < out.size(); ++d) src += ((k / os[d]) % out[d]) * is[perm[d]];
    if (c.is_int) {
      c.i[k] = in.i[src];
    } else {
      c.f[k] = in.f[src];
    }
  }
  return c;
}

// ---- shape helpers ----

Result<int64_t> NormalizeAxis(int64_t axis, size_t rank) {
  int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) {
    return InvalidArgument("axis " + std::to_string(axis) + " is out of range for rank " +
                           std::to_string(r));
  }
  return axis < 0 ? axis + r : axis;
}

Result<Shape> ReshapeTarget(const Shape& in, const Constant& target, bool allow_zero) {
  Shape out(target.size());
  int infer = -1;
  int64_t known = 1;
  for (int64_t k = 0; k < target.size(); ++k) {
    int64_t d = target.int_at(k);
    if (d == 0 && !allow_zero) {
      if (k >= static_cast<int64_t>(in.size())) return InvalidArgument("0 in shape beyond rank");
      d = in[k];
    }
    if (d == -1) {
      if (infer >= 0) return InvalidArgument("more than one -1 in the target shape");
      infer = static_cast<int>(k);
      d = 1;
    } else if (d < 0) {
      return InvalidArgument("negative dimension in the target shape");
    }
    out[k] = d;
    known *= d;
  }
  int64_t total = NumElements(in);
  if (infer >= 0) {
    if (known == 0 || total % known != 0) {
      return InvalidArgument("cannot infer -1 reshaping " + ShapeToString(in));
    }
    out[infer] = total / known;
  } else if (known != total) {
    return InvalidArgument("cannot reshape " + ShapeToString(in) + " to " + ShapeToString(out));
  }
  return out;
}

int64_t PoolOut(int64_t in, int64_t k_eff, int64_t s, int64_t p0, int64_t p1, bool ceil_mode) {
  int64_t span = in + p0 + p1 - k_eff;
  if (!ceil_mode) return span / s + 1;
  int64_t out = (span + s - 1) / s + 1;
  // A last window that would start inside the end padding is dropped.
  if ((out - 1) * s >= in + p0) --out;
  return out;
}

std::string Sanitized(std::string_view name) {
  std::string s;
  for (char c : name) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    s += ok ? c : '_';
  }
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) s = "v_" + s;
  return s;
}

bool ElementType(int32_t onnx_type, DType* dtype) {
  switch (onnx_type) {
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::DOUBLE:  // computed in float32, as Core ML would
      *dtype = DType::kFloat;
      return true;
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::UINT16:
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::INT64:  // Core ML's integers are int32
      *dtype = DType::kInt;
      return true;
    case onnx::TensorProto::BOOL:
      *dtype = DType::kBool;
      return true;
    default:
      return false;
  }
}

int OpVersion(const std::string& op_type, int opset) {
  const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(op_type, opset);
  return schema ? schema->since_version() : opset;
}

std::string Importer::Temp(const onnx::NodeProto& node, const std::string& what) {
  std::string base = node.output(0) + "__" + what;
  std::string name = base;
  for (int k = 1; graph_.shapes.count(name); ++k) name = base + "_" + std::to_string(k);
  return name;
}

std::string Importer::Materialize(const std::string& name) {
  auto it = consts_.find(name);
  if (it == consts_.end()) return name;
  std::string value = name + "__const";
  if (materialized_.insert(name).second) {
    Op op;
    op.type = op.onnx_op = "const";
    op.name = Sanitized(name) + "_const";
    op.output = value;
    op.weight = it->second;
    op.const_dtype = it->second.is_bool ? DType::kBool
                     : it->second.is_int ? DType::kInt
                                         : DType::kFloat;
    graph_.shapes[value] = it->second.shape;
    if (op.const_dtype != DType::kFloat) graph_.dtypes[value] = op.const_dtype;
    graph_.ops.push_back(std::move(op));
  }
  return value;
}

Status Importer::EmitGeneric(const onnx::NodeProto& node, Op op, const std::string& mil_type,
                             const std::vector<std::string>& inputs,
                             const std::vector<std::string>& params, const Shape& out,
                             DType dtype) {
  for (const std::string& in : inputs) {
    if (!graph_.shapes.count(in)) return Fail(node, "input '" + in + "' has no known shape");
  }
  op.type = mil_type;
  op.generic = true;
  op.params = params;
  op.inputs.clear();
  for (const std::string& in : inputs) op.inputs.push_back(Materialize(in));
  if (dtype != DType::kFloat) graph_.dtypes[op.output] = dtype;
  Emit(std::move(op), out);
  return Status::Ok();
}

Status Importer::ReadInitializer(onnx::TensorProto* t) {
  std::string what = "initializer '" + t->name() + "' of '" + source_ + "'";
  if (t->data_location() == onnx::TensorProto::EXTERNAL || t->external_data_size() > 0) {
    return InvalidArgument(what + " uses external data, which ringo does not read");
  }
  Shape shape(t->dims().begin(), t->dims().end());
  for (int64_t d : shape) {
    if (d < 0 || d > kMaxDim) return InvalidArgument(what + " has an invalid dimension");
  }
  int64_t n = NumElements(shape);
  Constant c;
  c.shape = shape;
  const std::string& raw = t->raw_data();
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
        c.f.resize(n);
        std::memcpy(c.f.data(), raw.data(), raw.size());  // ONNX raw data is little-endian
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
                             " with no fixed size; export the model with a static shape");
    }
  }
  if (dtype != DType::kFloat) graph_.dtypes[in.name()] = dtype;
  graph_.inputs.push_back(in.name());
  graph_.shapes[in.name()] = shape;
  return Status::Ok();
}

// Kahn's algorithm over value names. A node whose input nobody produces, or that sits on a
// cycle, is reported by name.
Status Importer::TopologicalOrder(std::vector<int>* order) {
  const auto& nodes = model_->graph().node();
  std::unordered_map<std::string, int> producer;
  for (int n = 0; n < nodes.size(); ++n) {
    for (const auto& out : nodes[n].output()) {
      if (out.empty()) continue;
      if (producer.count(out) || graph_.shapes.count(out)) {
        return InvalidArgument("value '" + out + "' is produced twice (node '" + nodes[n].name() +
                               "')");
      }
      producer[out] = n;
    }
  }
  std::vector<int> pending(nodes.size(), 0);
  std::vector<std::vector<int>> users(nodes.size());
  for (int n = 0; n < nodes.size(); ++n) {
    for (const auto& in : nodes[n].input()) {
      if (in.empty() || graph_.shapes.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end()) {
        node_index_ = n;
        return Fail(nodes[n], "input '" + in +
                                  "' is not produced by any node, initializer or "
                                  "graph input");
      }
      ++pending[n];
      users[it->second].push_back(n);
    }
  }
  std::deque<int> ready;
  for (int n = 0; n < nodes.size(); ++n) {
    if (pending[n] == 0) ready.push_back(n);
  }
  while (!ready.empty()) {
    int n = ready.front();
    ready.pop_front();
    order->push_back(n);
    for (int u : users[n]) {
      if (--pending[u] == 0) ready.push_back(u);
    }
  }
  if (static_cast<int>(order->size()) != nodes.size()) {
    for (int n = 0; n < nodes.size(); ++n) {
      if (pending[n] > 0) {
        return InvalidArgument("the ONNX graph has a cycle through node '" +
                               (nodes[n].name().empty() ? nodes[n].op_type() : nodes[n].name()) +
                               "'");
      }
    }
  }
  return Status::Ok();
}

Result<Graph> Importer::Run() {
  if (!model_->has_graph()) return InvalidArgument("'" + source_ + "' has no graph");
  bool has_onnx_domain = false;
  for (const auto& imp : model_->opset_import()) {
    if (imp.domain().empty() || imp.domain() == "ai.onnx") {
      opset_ = static_cast<int>(imp.version());
      has_onnx_domain = true;
    }
  }
  // Each op is converted by its own version under the model's opset, so any opset the ONNX
  // library knows will do; an op whose old version means something else is refused by name.
  const int max_opset =
      onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map().at(onnx::ONNX_DOMAIN).second;
  // A model of other domains only: its nodes are refused by name, not for an opset.
  if (!has_onnx_domain) opset_ = max_opset;
  if (opset_ < kMinOpset || opset_ > max_opset) {
    return InvalidArgument("'" + source_ + "' uses ONNX opset " + std::to_string(opset_) +
                           "; ringo converts opsets " + std::to_string(kMinOpset) + " to " +
                           std::to_string(max_opset));
  }
  onnx::GraphProto* g = model_->mutable_graph();
  for (auto& t : *g->mutable_initializer()) RETURN_IF_ERROR(ReadInitializer(&t));
  for (const auto& in : g->input()) RETURN_IF_ERROR(ReadInput(in));
  if (graph_.inputs.empty()) return InvalidArgument("'" + source_ + "' has no graph inputs");
  if (g->output_size() == 0) return InvalidArgument("'" + source_ + "' has no graph outputs");

  std::vector<int> order;
  RETURN_IF_ERROR(TopologicalOrder(&order));
  for (const auto& node : g->node()) {
    for (const auto& in : node.input()) ++uses_[in];
  }
  for (const auto& out : g->output()) ++uses_[out.name()];
  for (size_t k = 0; k < order.size(); ++k) {
    node_index_ = order[k];
    op_version_ = OpVersion(g->node(order[k]).op_type(), opset_);
    RETURN_IF_ERROR(LowerOrRecord(g->node(order[k])));
    if (progress_ && k % 16 == 0) progress_(static_cast<double>(k) / order.size());
  }

  for (const auto& out : g->output()) {
    std::string name = out.name();
    auto a = alias_.find(name);
    std::string value = a == alias_.end() ? name : a->second;
    if (unknown_.count(value)) continue;  // its node's problem is already recorded
    if (!graph_.shapes.count(value)) {
      return InvalidArgument("output '" + name + "' is not produced by any node");
    }
    if (consts_.count(value)) value = Materialize(value);  // a constant output is a const op
    bool is_input =
        std::find(graph_.inputs.begin(), graph_.inputs.end(), value) != graph_.inputs.end();
    bool is_output =
        std::find(graph_.outputs.begin(), graph_.outputs.end(), value) != graph_.outputs.end();
    if (is_input || is_output) {
      // An output that passes an input (or another output) through needs a value of its own.
      Op copy;
      copy.type = copy.onnx_op = "identity";
      copy.name = Sanitized(name) + "_identity";
      copy.generic = true;
      copy.inputs = {value};
      copy.params = {"x"};
      copy.output = name + "__copy";
      graph_.shapes[copy.output] = graph_.shapes[value];
      if (graph_.TypeOf(value) != DType::kFloat) graph_.dtypes[copy.output] = graph_.TypeOf(value);
      value = copy.output;
      graph_.ops.push_back(std::move(copy));
    }
    if (value != name) RenameValue(&graph_, value, name);
    graph_.outputs.push_back(name);
  }
  return std::move(graph_);
}

Status Importer::Fold(const onnx::NodeProto& node, bool* folded) {
  const std::string& t = node.op_type();
  *folded = false;
  auto out = [&](Constant c) {
    graph_.shapes[node.output(0)] = c.shape;
    consts_[node.output(0)] = std::move(c);
    *folded = true;
    return Status::Ok();
  };
  if (t == "Constant") {
    if (const auto* a = FindAttr(node, "value")) {
      onnx::TensorProto tensor = a->t();
      tensor.set_name(node.output(0));
      RETURN_IF_ERROR(ReadInitializer(&tensor));
      *folded = true;
      return Status::Ok();
    }
    if (const auto* a = FindAttr(node, "value_float")) return out(Constant::Floats({}, {a->f()}));
    if (const auto* a = FindAttr(node, "value_int")) return out(Constant::Ints({}, {a->i()}));
    if (const auto* a = FindAttr(node, "value_floats")) {
      return out(Constant::Floats({a->floats_size()}, {a->floats().begin(), a->floats().end()}));
    }
    if (const auto* a = FindAttr(node, "value_ints")) {
      return out(Constant::Ints({a->ints_size()}, {a->ints().begin(), a->ints().end()}));
    }
    return Fail(node, "Constant without a supported value attribute");
  }
  if (t == "Shape") {
    std::string x = In(node, 0);
    if (!graph_.shapes.count(x)) return Fail(node, "input has no known shape");
    const Shape& s = ShapeOf(x);
    int64_t r = static_cast<int64_t>(s.size());
    int64_t start = AttrInt(node, "start", 0), end = AttrInt(node, "end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = std::clamp<int64_t>(start, 0, r);
    end = std::clamp<int64_t>(end, start, r);
    return out(Constant::Ints({end - start}, {s.begin() + start, s.begin() + end}));
  }
  RETURN_IF_ERROR(FoldCreation(node, folded));
  if (*folded) return Status::Ok();
  // Every other foldable op needs all of its (present) inputs constant.
  for (int k = 0; k < node.input_size(); ++k) {
    if (!node.input(k).empty() && !ConstOf(In(node, k))) return Status::Ok();
  }
  if (node.input_size() == 0) return Status::Ok();
  const Constant& a = *ConstOf(In(node, 0));
  if (t == "Equal" || t == "Less" || t == "Greater" || t == "Where") {
    // Shape arithmetic exporters write (expand's -1 as Where(Equal(shape, -1), 1, shape)).
    return FoldSelect(node, folded);
  }
  if (t == "Add" || t == "Sub" || t == "Mul" || t == "Div") {
    auto r = FoldBinary(t, a, *ConstOf(In(node, 1)));
    if (!r.ok()) return Fail(node, r.status().message());
    return out(std::move(r).value());
  }
  if (t == "Gather") {
    const Constant& idx = *ConstOf(In(node, 1));
    auto axis_r = NormalizeAxis(AttrInt(node, "axis", 0), a.shape.size());
    if (!axis_r.ok()) return Fail(node, axis_r.status().message());
    int64_t axis = *axis_r;
    Shape s(a.shape.begin(), a.shape.begin() + axis);
    s.insert(s.end(), idx.shape.begin(), idx.shape.end());
    s.insert(s.end(), a.shape.begin() + axis + 1, a.shape.end());
    int64_t outer = NumElements(Shape(a.shape.begin(), a.shape.begin() + axis));
    int64_t inner = NumElements(Shape(a.shape.begin() + axis + 1, a.shape.end()));
    Constant c;
    c.is_int = a.is_int;
    c.shape = s;
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t k = 0; k < idx.size(); ++k) {
        int64_t j = idx.int_at(k);
        if (j < 0) j += a.shape[axis];
        if (j < 0 || j >= a.shape[axis]) return Fail(node, "index out of range");
        int64_t base = (o * a.shape[axis] + j) * inner;
        for (int64_t in = 0; in < inner; ++in) {
          if (a.is_int) {
            c.i.push_back(a.i[base + in]);
          } else {
            c.f.push_back(a.f[base + in]);
          }
        }
      }
    }
    return out(std::move(c));
  }
  if (t == "Cast") {
    int64_t to = AttrInt(node, "to", 0);
    Constant c;
    c.shape = a.shape;
    if (to == onnx::TensorProto::FLOAT || to == onnx::TensorProto::DOUBLE) {
      for (int64_t k = 0; k < a.size(); ++k) c.f.push_back(static_cast<float>(a.at(k)));
    } else if (to == onnx::TensorProto::INT64 || to == onnx::TensorProto::INT32) {
      c.is_int = true;
      for (int64_t k = 0; k < a.size(); ++k) c.i.push_back(a.int_at(k));
    } else {
      return Fail(node, "cast of a constant to ONNX type " + std::to_string(to));
    }
    return out(std::move(c));
  }
  if (t == "Concat") {
    int64_t rank = static_cast<int64_t>(a.shape.size());
    auto axis_r = NormalizeAxis(AttrInt(node, "axis", op_version_ < 4 ? 1 : 0), rank);
    if (!axis_r.ok()) return Fail(node, axis_r.status().message());
    int64_t axis = *axis_r;
    Shape s = a.shape;
    s[axis] = 0;
    std::vector<const Constant*> parts;
    for (int k = 0; k < node.input_size(); ++k) {
      const Constant* p = ConstOf(In(node, k));
      if (p->shape.size() != a.shape.size()) return Fail(node, "inputs differ in rank");
      parts.push_back(p);
      s[axis] += p->shape[axis];
    }
    Constant c;
    c.is_int = a.is_int;
    c.shape = s;
    int64_t outer = NumElements(Shape(s.begin(), s.begin() + axis));
    for (int64_t o = 0; o < outer; ++o) {
      for (const Constant* p : parts) {
        int64_t chunk = NumElements(Shape(p->shape.begin() + axis, p->shape.end()));
        for (int64_t k = 0; k < chunk; ++k) {
          if (c.is_int) {
            c.i.push_back(p->is_int ? p->i[o * chunk + k]
                                    : static_cast<int64_t>(p->f[o * chunk + k]));
          } else {
            c.f.push_back(static_cast<float>(p->at(o * chunk + k)));
          }
        }
      }
    }
    return out(std::move(c));
  }
  if (t == "Transpose") {
    std::vector<int64_t> perm = AttrInts(node, "perm", {});
    if (perm.empty()) {
      for (int64_t k = static_cast<int64_t>(a.shape.size()) - 1; k >= 0; --k) perm.push_back(k);
    }
    if (perm.size() != a.shape.size()) return Fail(node, "perm does not match the rank");
    return out(Transposed(a, perm));
  }
  if (t == "Unsqueeze" || t == "Squeeze" || t == "Reshape" || t == "Flatten" || t == "Identity") {
    return Status::Ok();  // shape-only ops: Lower handles constants through its shape logic
  }
  return Status::Ok();
}

Status Importer::LowerConv(const onnx::NodeProto& node, Op op) {
  std::string x = In(node, 0);
  const Shape& xs = ShapeOf(x);
  const Constant* w = ConstOf(In(node, 1));
  if (!w) return Fail(node, "weights must be a constant (initializer)");
  if (xs.size() != 4 || w->shape.size() != 4) {
    return Fail(node,
                "only 2-D convolution on [N, C, H, W] is supported, input is " + ShapeToString(xs));
  }
  op.groups = AttrInt(node, "group", 1);
  if (op.groups < 1 || w->shape[1] * op.groups != xs[1] || w->shape[0] % op.groups != 0) {
    return Fail(node, "weights " + ShapeToString(w->shape) + " do not fit input " +
                          ShapeToString(xs) + " with group " + std::to_string(op.groups));
  }
  op.kernel = {w->shape[2], w->shape[3]};
  op.strides = AttrInts(node, "strides", {1, 1});
  op.dilations = AttrInts(node, "dilations", {1, 1});
  op.pads = AttrInts(node, "pads", {0, 0, 0, 0});
  if (op.strides.size() != 2 || op.dilations.size() != 2 || op.pads.size() != 4) {
    return Fail(node, "strides, dilations and pads must be 2-D");
  }
  for (int64_t v : op.strides) {
    if (v < 1) return Fail(node, "strides must be positive");
  }
  std::string auto_pad = AttrString(node, "auto_pad", "NOTSET");
  Shape out = {xs[0], w->shape[0], 0, 0};
  for (int d = 0; d < 2; ++d) {
    int64_t in = xs[2 + d], s = op.strides[d], k_eff = (op.kernel[d] - 1) * op.dilations[d] + 1;
    RETURN_IF_ERROR(ResolveAutoPad(node, auto_pad, d, in, s, k_eff, &op.pads));
    int64_t span = in + op.pads[d] + op.pads[d + 2] - k_eff;
    if (span < 0) return Fail(node, "kernel larger than the padded input");
    out[2 + d] = span / s + 1;
  }
  op.inputs = {x};
  if (const Constant* b = ConstOf(In(node, 2))) {
    if (b->size() != w->shape[0]) return Fail(node, "bias length does not match the weights");
    op.bias = Take(In(node, 2));
    op.has_bias = true;
  } else if (!In(node, 2).empty()) {
    return Fail(node, "bias must be a constant");
  }
  op.weight = Take(In(node, 1));
  Emit(std::move(op), out);
  return Status::Ok();
}

Status Importer::LowerPool(const onnx::NodeProto& node, Op op) {
  std::string x = In(node, 0);
  const Shape& xs = ShapeOf(x);
  if (xs.size() != 4) return Fail(node, "only 2-D pooling on [N, C, H, W] is supported");
  if (node.output_size() > 1 && !node.output(1).empty()) {
    return Fail(node, "the Indices output is not supported");
  }
  op.kernel = AttrInts(node, "kernel_shape", {});
  op.strides = AttrInts(node, "strides", {1, 1});
  op.pads = AttrInts(node, "pads", {0, 0, 0, 0});
  std::vector<int64_t> dil = AttrInts(node, "dilations", {1, 1});
  if (op.kernel.size() != 2 || op.strides.size() != 2 || op.pads.size() != 4) {
    return Fail(node, "kernel_shape, strides and pads must be 2-D");
  }
  if (dil != std::vector<int64_t>{1, 1}) return Fail(node, "dilated pooling is not supported");
  op.ceil_mode = AttrInt(node, "ceil_mode", 0) != 0;
  op.exclude_padding = AttrInt(node, "count_include_pad", 0) == 0;
  std::string auto_pad = AttrString(node, "auto_pad", "NOTSET");
  Shape out = {xs[0], xs[1], 0, 0};
  for (int d = 0; d < 2; ++d) {
    int64_t in = xs[2 + d], s = op.strides[d], k = op.kernel[d];
    if (s < 1 || k < 1) return Fail(node, "kernel and strides must be positive");
    RETURN_IF_ERROR(ResolveAutoPad(node, auto_pad, d, in, s, k, &op.pads));
    if (in + op.pads[d] + op.pads[d + 2] < k) return Fail(node, "kernel larger than the input");
    out[2 + d] = PoolOut(in, k, s, op.pads[d], op.pads[d + 2], op.ceil_mode);
  }
  op.inputs = {x};
  Emit(std::move(op), out);
  return Status::Ok();
}

Status Importer::Lower(const onnx::NodeProto& node) {
  const std::string& t = node.op_type();
  if (!node.domain().empty() && node.domain() != "ai.onnx") {
    return InvalidArgument("unsupported ONNX operator '" + node.domain() + "." + t + "' at node '" +
                           NodeName(node) + "' (opset " + std::to_string(op_version_) + ")");
  }
  if (node.output_size() == 0) return Fail(node, "node has no outputs");
  // Before version 7 binary ops broadcast only when told to, possibly from a given axis.
  if (op_version_ < 7 && (FindAttr(node, "broadcast") || FindAttr(node, "axis")) &&
      (t == "Add" || t == "Sub" || t == "Mul" || t == "Div" || t == "Pow" || t == "And" ||
       t == "Or" || t == "Xor" || t == "Equal" || t == "Less" || t == "Greater")) {
    return Fail(node, "the broadcast and axis attributes of versions before 7 are not supported");
  }
  bool folded = false;
  RETURN_IF_ERROR(Fold(node, &folded));
  if (folded) return Status::Ok();

  Op op;
  op.name = UniqueOpName(node);
  op.onnx_op = t;
  op.node = NodeName(node);
  op.output = node.output(0);
  std::string x = In(node, 0);
  if (t != "Constant" && node.input_size() > 0 && !x.empty() && !graph_.shapes.count(x)) {
    return Fail(node, "input '" + x + "' has no known shape");
  }
  for (auto family : {&Importer::LowerElementwise, &Importer::LowerReduction,
                      &Importer::LowerTensorOp, &Importer::LowerNormalization}) {
    bool handled = false;
    Status s = (this->*family)(node, op, &handled);
    if (s.ok() && !step_status_.ok()) s = step_status_;
    step_status_ = Status::Ok();
    if (!s.ok() || handled) return s;
  }
  const Constant* x_const = ConstOf(x);
  Shape xs = x.empty() ? Shape{} : ShapeOf(x);
  // These ops compute in float only (shape ops and Add/Sub/Mul below also take integers).
  static const std::set<std::string> kFloatOnly = {
      "Conv",        "MaxPool", "AveragePool",        "GlobalAveragePool", "Relu",
      "Sigmoid",     "Tanh",    "HardSwish",          "LeakyRelu",         "HardSigmoid",
      "Clip",        "Gemm",    "BatchNormalization", "MatMul",            "Softmax",
      "Pad",         "ReduceMean"};
  if (!x.empty() && kFloatOnly.count(t) && TypeOf(x) != DType::kFloat) {
    return Fail(node, "integer and bool inputs are not supported");
  }

  auto unary = [&](const char* type) {
    op.type = type;
    op.inputs = {x};
    Emit(std::move(op), xs);
    return Status::Ok();
  };
  // Shape-only ops: constants stay constants, dynamic values become a reshape.
  auto reshape_to = [&](const Shape& target) {
    if (x_const) {
      Constant c = *x_const;
      c.shape = target;
      graph_.shapes[node.output(0)] = target;
      consts_[node.output(0)] = std::move(c);
      return Status::Ok();
    }
    op.type = "reshape";
    op.inputs = {x};
    Emit(std::move(op), target);
    return Status::Ok();
  };
  auto axes_of = [&](int input) -> std::optional<std::vector<int64_t>> {
    if (FindAttr(node, "axes")) return AttrInts(node, "axes", {});
    std::string name = In(node, input);
    if (name.empty()) return std::vector<int64_t>{};
    const Constant* c = ConstOf(name);
    if (!c) return std::nullopt;
    std::vector<int64_t> v;
    for (int64_t k = 0; k < c->size(); ++k) v.push_back(c->int_at(k));
    return v;
  };

  if (t == "Identity" || t == "Dropout") {
    if (t == "Dropout" && !In(node, 2).empty()) {
      const Constant* training = ConstOf(In(node, 2));
      if (!training || training->at(0) != 0) {
        return Fail(node, "training_mode must be a constant false (inference only)");
      }
    }
    if (node.output_size() > 1 && !node.output(1).empty()) {
      // Inference keeps every element: the mask is all true.
      Constant mask = Constant::Ints(xs, std::vector<int64_t>(NumElements(xs), 1));
      mask.is_bool = true;
      graph_.shapes[node.output(1)] = xs;
      consts_[node.output(1)] = std::move(mask);
    }
    if (x_const) {
      consts_[node.output(0)] = *x_const;
      graph_.shapes[node.output(0)] = xs;
    } else {
      alias_[node.output(0)] = x;
    }
    return Status::Ok();
  }
  if (t == "Conv") {
    op.type = "conv";
    return LowerConv(node, std::move(op));
  }
  if (t == "MaxPool" || t == "AveragePool") {
    op.type = t == "MaxPool" ? "max_pool" : "avg_pool";
    return LowerPool(node, std::move(op));
  }
  if (t == "GlobalAveragePool") {
    if (xs.size() != 4) return Fail(node, "input must be [N, C, H, W]");
    op.type = "global_avg_pool";
    op.inputs = {x};
    Emit(std::move(op), {xs[0], xs[1], 1, 1});
    return Status::Ok();
  }
  if (t == "Relu") return unary("relu");
  if (t == "Sigmoid") return unary("sigmoid");
  if (t == "Tanh") return unary("tanh");
  if (t == "HardSwish") return unary("hard_swish");
  if (t == "LeakyRelu") {
    op.alpha = AttrFloat(node, "alpha", 0.01f);
    return unary("leaky_relu");
  }
  if (t == "HardSigmoid") {
    op.alpha = AttrFloat(node, "alpha", 0.2f);
    op.beta_value = AttrFloat(node, "beta", 0.5f);
    return unary("hard_sigmoid");
  }
  if (t == "Clip") {
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    if (FindAttr(node, "min") || FindAttr(node, "max")) {  // the attribute form before opset 11
      lo = AttrFloat(node, "min", lo);
      hi = AttrFloat(node, "max", hi);
    }
    for (int k = 1; k <= 2; ++k) {
      std::string b = In(node, k);
      if (b.empty()) continue;
      const Constant* c = ConstOf(b);
      if (!c || c->size() != 1) return Fail(node, "min and max must be constant scalars");
      (k == 1 ? lo : hi) = static_cast<float>(c->at(0));
    }
    if (lo == 0.0f && std::isinf(hi)) return unary("relu");
    op.alpha = lo;
    op.beta_value = hi;
    return unary("clip");
  }
  if (t == "BatchNormalization") {
    for (int k = 1; k < node.output_size(); ++k) {
      if (!node.output(k).empty()) return Fail(node, "training outputs are not supported");
    }
    if (AttrInt(node, "training_mode", 0) != 0) return Fail(node, "training_mode is set");
    if (xs.size() < 2) return Fail(node, "input rank must be at least 2");
    Constant* parts[4] = {&op.gamma, &op.beta, &op.mean, &op.variance};
    for (int k = 0; k < 4; ++k) {
      const Constant* c = ConstOf(In(node, k + 1));
      if (!c || c->size() != xs[1] || c->is_int) {
        return Fail(node, "scale, bias, mean and variance must be constant vectors of length " +
                              std::to_string(xs[1]));
      }
      *parts[k] = Take(In(node, k + 1));
    }
    op.epsilon = AttrFloat(node, "epsilon", 1e-5f);
    return unary("batch_norm");
  }
  if (t == "Gemm") {
    if (xs.size() != 2) return Fail(node, "A must be a matrix");
    if (AttrInt(node, "transA", 0) != 0) return Fail(node, "transA=1 is not supported");
    const Constant* b = ConstOf(In(node, 1));
    if (!b || b->shape.size() != 2 || b->is_int) return Fail(node, "B must be a constant matrix");
    float alpha = AttrFloat(node, "alpha", 1.0f), beta = AttrFloat(node, "beta", 1.0f);
    Shape b_shape = b->shape;
    // Core ML wants [out, in]: ONNX transB=1 already is; otherwise transpose.
    op.weight = AttrInt(node, "transB", 0) != 0 ? Take(In(node, 1)) : Transposed(*b, {1, 0});
    if (op.weight.shape[1] != xs[1]) {
      return Fail(node, "B " + ShapeToString(b_shape) + " does not fit A " + ShapeToString(xs));
    }
    if (alpha != 1.0f) {
      for (float& v : op.weight.f) v *= alpha;
    }
    int64_t n_out = op.weight.shape[0];
    if (!In(node, 2).empty()) {
      const Constant* c = ConstOf(In(node, 2));
      if (!c || c->is_int) return Fail(node, "C must be a constant");
      if (c->size() != 1 && c->size() != n_out) {
        return Fail(node, "C " + ShapeToString(c->shape) + " is not a per-output bias");
      }
      op.bias = Constant::Floats({n_out}, std::vector<float>(n_out));
      for (int64_t k = 0; k < n_out; ++k) {
        op.bias.f[k] = beta * c->f[c->size() == 1 ? 0 : k];
      }
      op.has_bias = true;
    }
    op.type = "linear";
    op.inputs = {x};
    Emit(std::move(op), {xs[0], n_out});
    return Status::Ok();
  }
  if (t == "MatMul") {
    std::string y = In(node, 1);
    const Constant* b = ConstOf(y);
    if (x_const && b) return Fail(node, "constant MatMul is not folded");
    if (b && b->shape.size() == 2 && !b->is_int && !xs.empty() && xs.back() == b->shape[0]) {
      op.weight = Transposed(*b, {1, 0});
      op.type = "linear";
      op.inputs = {x};
      Shape out = xs;
      out.back() = b->shape[1];
      Emit(std::move(op), out);
      return Status::Ok();
    }
    Shape a = xs, bs = ShapeOf(y);
    if (a.size() < 2 || bs.size() < 2 || a.back() != bs[bs.size() - 2]) {
      return Fail(node, "shapes " + ShapeToString(a) + " and " + ShapeToString(bs) +
                            " do not multiply (rank >= 2 required)");
    }
    auto batch = BroadcastShapes(Shape(a.begin(), a.end() - 2), Shape(bs.begin(), bs.end() - 2));
    if (!batch.ok()) return Fail(node, batch.status().message());
    Shape out = *batch;
    out.push_back(a[a.size() - 2]);
    out.push_back(bs.back());
    op.type = "matmul";
    if (x_const || b) {
      op.operand = x_const ? *x_const : *b;
      op.operand_index = x_const ? 0 : 1;
      op.inputs = {x_const ? y : x};
    } else {
      op.inputs = {x, y};
    }
    Emit(std::move(op), out);
    return Status::Ok();
  }
  if (t == "Add" || t == "Sub" || t == "Mul" || t == "Div") {
    std::string y = In(node, 1);
    if (!graph_.shapes.count(y)) return Fail(node, "input '" + y + "' has no known shape");
    const Constant* b = ConstOf(y);
    auto shape = BroadcastShapes(xs, ShapeOf(y));
    if (!shape.ok()) return Fail(node, shape.status().message());
    static const std::map<std::string, std::string> kTypes = {
        {"Add", "add"}, {"Sub", "sub"}, {"Mul", "mul"}, {"Div", "div"}};
    op.type = kTypes.at(t);
    if (TypeOf(x) != DType::kFloat || TypeOf(y) != DType::kFloat) {
      if (TypeOf(x) != DType::kInt || TypeOf(y) != DType::kInt || t == "Div") {
        return Fail(node, "only Add, Sub and Mul of two integer tensors are supported");
      }
      std::string mil = op.type;
      return EmitGeneric(node, std::move(op), mil, {x, y}, {"x", "y"}, *shape, DType::kInt);
    }
    if (x_const || b) {
      const Constant* c = x_const ? x_const : b;
      op.operand = *c;
      op.operand_index = x_const ? 0 : 1;
      op.inputs = {x_const ? y : x};
    } else {
      op.inputs = {x, y};
    }
    Emit(std::move(op), *shape);
    return Status::Ok();
  }
  if (t == "Flatten") {
    // Flatten's axis runs from -r to r: a negative one counts from the rank, not rank + 1.
    int64_t raw = AttrInt(node, "axis", 1);
    auto axis = NormalizeAxis(raw < 0 ? raw + static_cast<int64_t>(xs.size()) : raw,
                              xs.size() + 1);
    if (!axis.ok()) return Fail(node, axis.status().message());
    Shape target = {NumElements(Shape(xs.begin(), xs.begin() + *axis)),
                    NumElements(Shape(xs.begin() + *axis, xs.end()))};
    return reshape_to(target);
  }
  if (t == "Reshape") {
    const Constant* s = ConstOf(In(node, 1));
    if (!s) {
      return Fail(node, "the target shape is not a constant after folding (dynamic reshape)");
    }
    auto target = ReshapeTarget(xs, *s, AttrInt(node, "allowzero", 0) != 0);
    if (!target.ok()) return Fail(node, target.status().message());
    return reshape_to(*target);
  }
  if (t == "Squeeze" || t == "Unsqueeze") {
    auto axes = axes_of(1);
    if (!axes) return Fail(node, "axes must be a constant");
    Shape target;
    if (t == "Squeeze") {
      std::set<int64_t> drop;
      for (int64_t a : *axes) {
        auto n = NormalizeAxis(a, xs.size());
        if (!n.ok()) return Fail(node, n.status().message());
        if (xs[*n] != 1)
          return Fail(node, "cannot squeeze a dimension of size " + std::to_string(xs[*n]));
        drop.insert(*n);
      }
      for (size_t k = 0; k < xs.size(); ++k) {
        if (axes->empty() ? xs[k] != 1 : !drop.count(static_cast<int64_t>(k))) {
          target.push_back(xs[k]);
        }
      }
    } else {
      size_t rank = xs.size() + axes->size();
      std::set<int64_t> add;
      for (int64_t a : *axes) {
        auto n = NormalizeAxis(a, rank);
        if (!n.ok()) return Fail(node, n.status().message());
        add.insert(*n);
      }
      if (add.size() != axes->size()) return Fail(node, "repeated axes");
      size_t src = 0;
      for (size_t k = 0; k < rank; ++k) {
        target.push_back(add.count(static_cast<int64_t>(k)) ? 1 : xs[src++]);
      }
    }
    return reshape_to(target);
  }
  if (t == "Transpose") {
    op.perm = AttrInts(node, "perm", {});
    if (op.perm.empty()) {
      for (int64_t k = static_cast<int64_t>(xs.size()) - 1; k >= 0; --k) op.perm.push_back(k);
    }
    std::vector<int64_t> sorted = op.perm;
    std::sort(sorted.begin(), sorted.end());
    for (size_t k = 0; k < sorted.size(); ++k) {
      if (sorted[k] != static_cast<int64_t>(k) || sorted.size() != xs.size()) {
        return Fail(node, "perm is not a permutation of the input's axes");
      }
    }
    Shape out(xs.size());
    for (size_t k = 0; k < xs.size(); ++k) out[k] = xs[op.perm[k]];
    op.type = "transpose";
    op.inputs = {x};
    Emit(std::move(op), out);
    return Status::Ok();
  }
  if (t == "Concat") {
    // Concat's axis defaulted to 1 before version 4.
    auto axis = NormalizeAxis(AttrInt(node, "axis", op_version_ < 4 ? 1 : 0), xs.size());
    if (!axis.ok()) return Fail(node, axis.status().message());
    Shape out = xs;
    out[*axis] = 0;
    for (int k = 0; k < node.input_size(); ++k) {
      std::string in = In(node, k);
      if (!graph_.shapes.count(in)) return Fail(node, "input '" + in + "' has no known shape");
      if (TypeOf(in) != TypeOf(x)) return Fail(node, "inputs differ in element type");
      const Shape& s = ShapeOf(in);
      if (s.size() != xs.size()) return Fail(node, "inputs differ in rank");
      for (size_t d = 0; d < s.size(); ++d) {
        if (static_cast<int64_t>(d) != *axis && s[d] != xs[d]) {
          return Fail(node, "inputs differ outside the concatenation axis");
        }
      }
      out[*axis] += s[*axis];
      op.inputs.push_back(Materialize(in));
    }
    op.type = "concat";
    op.axis = *axis;
    Emit(std::move(op), out);
    return Status::Ok();
  }
  if (t == "Softmax") {
    auto axis = NormalizeAxis(AttrInt(node, "axis", op_version_ < 13 ? 1 : -1), xs.size());
    if (!axis.ok()) return Fail(node, axis.status().message());
    // Before opset 13 Softmax normalises over all axes from `axis` on; that equals a softmax
    // over `axis` only when the axes after it have size 1.
    if (op_version_ < 13) {
      for (size_t d = *axis + 1; d < xs.size(); ++d) {
        if (xs[d] != 1) return Fail(node, "softmax over several axes is not supported");
      }
    }
    op.type = "softmax";
    op.axis = *axis;
    op.inputs = {x};
    Emit(std::move(op), xs);
    return Status::Ok();
  }
  if (t == "Pad") {
    std::string mode = AttrString(node, "mode", "constant");
    if (mode != "constant") return Fail(node, "pad mode '" + mode + "' is not supported");
    std::vector<int64_t> pads;
    if (FindAttr(node, "pads")) {
      pads = AttrInts(node, "pads", {});
      op.pad_value = AttrFloat(node, "value", 0.0f);
    } else {
      const Constant* p = ConstOf(In(node, 1));
      if (!p) return Fail(node, "pads must be a constant");
      for (int64_t k = 0; k < p->size(); ++k) pads.push_back(p->int_at(k));
      if (!In(node, 2).empty()) {
        const Constant* v = ConstOf(In(node, 2));
        if (!v || v->size() != 1) return Fail(node, "constant_value must be a constant scalar");
        op.pad_value = static_cast<float>(v->at(0));
      }
      if (!In(node, 3).empty()) return Fail(node, "the axes input is not supported");
    }
    size_t r = xs.size();
    if (pads.size() != 2 * r) return Fail(node, "pads must hold 2 values per dimension");
    Shape out = xs;
    for (size_t d = 0; d < r; ++d) {
      if (pads[d] < 0 || pads[d + r] < 0) return Fail(node, "negative pads are not supported");
      op.pad_amounts.push_back(pads[d]);
      op.pad_amounts.push_back(pads[d + r]);
      out[d] += pads[d] + pads[d + r];
    }
    op.type = "pad";
    op.inputs = {x};
    Emit(std::move(op), out);
    return Status::Ok();
  }
  if (t == "ReduceMean") {
    auto axes = axes_of(1);
    if (!axes) return Fail(node, "axes must be a constant");
    std::set<int64_t> set;
    for (int64_t a : *axes) {
      auto n = NormalizeAxis(a, xs.size());
      if (!n.ok()) return Fail(node, n.status().message());
      set.insert(*n);
    }
    if (set.empty()) {
      if (AttrInt(node, "noop_with_empty_axes", 0) != 0) {
        alias_[node.output(0)] = x;  // ONNX: no axes and this flag make the op an identity
        return Status::Ok();
      }
      for (size_t k = 0; k < xs.size(); ++k) set.insert(static_cast<int64_t>(k));
    }
    op.axes.assign(set.begin(), set.end());
    op.keep_dims = AttrInt(node, "keepdims", 1) != 0;
    Shape out;
    for (size_t k = 0; k < xs.size(); ++k) {
      if (!set.count(static_cast<int64_t>(k))) {
        out.push_back(xs[k]);
      } else if (op.keep_dims) {
        out.push_back(1);
      }
    }
    op.type = "reduce_mean";
    op.inputs = {x};
    Emit(std::move(op), out);
    return Status::Ok();
  }
  return InvalidArgument("unsupported ONNX operator '" + t + "' at node '" + NodeName(node) +
                         "' (opset " + std::to_string(op_version_) + ")");
}

Status Importer::LowerOrRecord(const onnx::NodeProto& node) {
  bool reads_unknown = false;
  for (const auto& in : node.input()) reads_unknown |= unknown_.count(in) > 0;
  Status s = Status::Ok();
  if (!reads_unknown) {
    s = Lower(node);
  } else if (!IsSupportedOnnxOp(node.op_type()) ||
             (!node.domain().empty() && node.domain() != "ai.onnx")) {
    // Its inputs are unknown, but an op ringo has no lowering for is a problem of its own.
    std::string type =
        node.domain().empty() ? node.op_type() : node.domain() + "." + node.op_type();
    s = InvalidArgument("unsupported ONNX operator '" + type + "' at node '" + NodeName(node) +
                        "' (opset " + std::to_string(op_version_) + ")");
  }
  if (reads_unknown || !s.ok()) {
    for (const auto& out : node.output()) {
      if (!out.empty()) unknown_.insert(out);
    }
  }
  if (s.ok() || problems_ == nullptr || s.code() != Code::kInvalidArgument) return s;
  problems_->push_back({NodeName(node), node.op_type(), op_version_, s.message()});
  return Status::Ok();
}

bool IsSupportedOnnxOp(const std::string& op_type) {
  static const std::set<std::string> kOps = {
      // onnx_import.cc: canonical ops and folds
      "Identity", "Dropout", "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Relu",
      "Sigmoid", "Tanh", "HardSwish", "LeakyRelu", "HardSigmoid", "Clip", "BatchNormalization",
      "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Flatten", "Reshape", "Squeeze", "Unsqueeze",
      "Transpose", "Concat", "Softmax", "Pad", "ReduceMean", "Constant", "Shape", "Size",
      "EyeLike", "ConstantOfShape", "Range",
      // lower_ops.cc
      "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Erf", "Exp",
      "Floor", "Log", "Sin", "Sinh", "Sqrt", "Tan", "Softplus", "Softsign", "Round", "Abs",
      "Sign", "Neg", "Reciprocal", "Not", "Elu", "ThresholdedRelu", "Selu", "Celu", "Shrink",
      "PRelu", "Pow", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or",
      "Xor", "Mod", "Max", "Min", "Sum", "Mean", "Where", "ArgMax", "ArgMin", "ReduceSum",
      "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
      "ReduceLogSumExp", "ReduceSumSquare",
      // lower_tensor.cc and the lower_*.cc it dispatches to
      "LogSoftmax", "Hardmax", "Slice", "Split", "Cast", "CastLike", "Gather", "GatherElements",
      "CumSum", "Tile", "Expand", "Trilu", "DepthToSpace", "SpaceToDepth", "LayerNormalization",
      "InstanceNormalization", "MeanVarianceNormalization", "NegativeLogLikelihoodLoss",
      "SoftmaxCrossEntropyLoss", "Resize", "Upsample", "GlobalMaxPool",
      "ConvTranspose", "LSTM", "GRU", "RNN", "Einsum"};
  return kOps.count(op_type) > 0;
}

Result<Graph> ImportOnnx(onnx::ModelProto* model, const std::string& source_name,
                         const std::function<void(double)>& progress,
                         std::vector<NodeProblem>* problems) {
  Importer importer(model, source_name, progress, problems);
  return importer.Run();
}

}  // namespace ringo::convert
