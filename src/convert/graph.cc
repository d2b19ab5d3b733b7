// Graph passes shared by both emitters: folding BatchNorm and biases, dead ops, value names.
#include "convert/graph.h"

#include <cmath>
#include <set>
#include <unordered_map>

namespace ringo::convert {

namespace {

// How many ops read each value, plus one for each graph output.
std::unordered_map<std::string, int> UseCounts(const Graph& g) {
  std::unordered_map<std::string, int> uses;
  for (const Op& op : g.ops) {
    for (const std::string& in : op.inputs) ++uses[in];
  }
  for (const std::string& out : g.outputs) ++uses[out];
  return uses;
}

// conv -> batch_norm becomes one conv: w' = w * s, b' = (b - mean) * s + beta with
// s = gamma / sqrt(var + eps) per output channel. Exact up to float rounding.
bool FoldBatchNorm(Op* conv, const Op& bn) {
  int64_t c_out = conv->weight.shape[0];
  if (bn.gamma.size() != c_out) return false;
  int64_t per = conv->weight.size() / c_out;
  conv->weight.Load();  // scaled here, so no longer written from the ONNX file as it is
  if (!conv->has_bias) {
    conv->bias = Constant::Floats({c_out}, std::vector<float>(c_out, 0.0f));
    conv->has_bias = true;
  }
  for (int64_t o = 0; o < c_out; ++o) {
    double s = bn.gamma.f[o] / std::sqrt(static_cast<double>(bn.variance.f[o]) + bn.epsilon);
    for (int64_t k = 0; k < per; ++k) {
      float& w = conv->weight.f[o * per + k];
      w = static_cast<float>(w * s);
    }
    conv->bias.f[o] = static_cast<float>((conv->bias.f[o] - bn.mean.f[o]) * s + bn.beta.f[o]);
  }
  return true;
}

}  // namespace

void RenameValue(Graph* g, const std::string& from, const std::string& to) {
  for (Op& op : g->ops) {
    for (std::string& in : op.inputs) {
      if (in == from) in = to;
    }
    if (op.output == from) op.output = to;
  }
  for (std::string& in : g->inputs) {
    if (in == from) in = to;
  }
  for (std::string& out : g->outputs) {
    if (out == from) out = to;
  }
  auto it = g->shapes.find(from);
  if (it != g->shapes.end()) {
    Shape s = std::move(it->second);
    g->shapes.erase(it);
    g->shapes[to] = std::move(s);
  }
  auto dt = g->dtypes.find(from);
  if (dt != g->dtypes.end()) {
    DType d = dt->second;
    g->dtypes.erase(dt);
    g->dtypes[to] = d;
  }
}

void OptimizeGraph(Graph* g, bool drop_unused) {
  auto uses = UseCounts(*g);
  std::unordered_map<std::string, size_t> producer;
  for (size_t k = 0; k < g->ops.size(); ++k) producer[g->ops[k].output] = k;
  std::vector<bool> dead(g->ops.size(), false);
  for (size_t k = 0; k < g->ops.size(); ++k) {
    Op& op = g->ops[k];
    if (op.inputs.empty() || op.generic) continue;
    auto p = producer.find(op.inputs[0]);
    if (p == producer.end() || uses[op.inputs[0]] != 1) continue;
    Op& prev = g->ops[p->second];
    bool fold = false;
    if (prev.generic) continue;
    if (op.type == "reshape" && prev.type == "reshape") {
      // Reshape of a reshape reads the first one's input: rank-5 layers cannot hold the
      // rank-5 intermediate an Unsqueeze -> Squeeze pair may pass through.
      op.inputs[0] = prev.inputs[0];
      continue;
    }
    if (op.type == "batch_norm" && prev.type == "conv") {
      fold = FoldBatchNorm(&prev, op);
    } else if (op.type == "add" && prev.type == "linear" && !prev.has_bias && op.operand &&
               op.operand->size() == prev.weight.shape[0] &&
               g->shapes[op.output] == g->shapes[prev.output]) {
      // MatMul + Add of a bias vector, as exporters write nn.Linear on rank > 2 inputs.
      prev.bias = *op.operand;
      prev.bias.shape = {prev.weight.shape[0]};
      prev.has_bias = true;
      fold = true;
    }
    if (!fold) continue;
    // The folded op's result takes the name of the op it absorbed; nothing else read it.
    g->shapes.erase(prev.output);
    prev.output = op.output;
    producer[op.output] = p->second;
    dead[k] = true;
  }
  // Drop ops nobody reads, walking backwards so whole dead chains go.
  std::set<std::string> live(g->outputs.begin(), g->outputs.end());
  for (size_t k = g->ops.size(); k-- > 0;) {
    if (dead[k] || (drop_unused && !live.count(g->ops[k].output))) {
      dead[k] = true;
      continue;
    }
    for (const std::string& in : g->ops[k].inputs) live.insert(in);
  }
  std::vector<Op> kept;
  kept.reserve(g->ops.size());
  for (size_t k = 0; k < g->ops.size(); ++k) {
    if (!dead[k]) kept.push_back(std::move(g->ops[k]));
  }
  g->ops = std::move(kept);
}

bool IsIdentifier(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

void SanitizeNames(Graph* g) {
  std::set<std::string> taken;
  for (const auto& [name, shape] : g->shapes) {
    if (IsIdentifier(name)) taken.insert(name);
  }
  std::vector<std::string> bad;
  for (const auto& [name, shape] : g->shapes) {
    if (!IsIdentifier(name)) bad.push_back(name);
  }
  for (const std::string& name : bad) {
    std::string base;
    for (char c : name) base += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    if (base.empty() || std::isdigit(static_cast<unsigned char>(base[0]))) base = "v_" + base;
    std::string fresh = base;
    for (int k = 1; taken.count(fresh); ++k) fresh = base + "_" + std::to_string(k);
    taken.insert(fresh);
    RenameValue(g, name, fresh);
  }
}

}  // namespace ringo::convert
