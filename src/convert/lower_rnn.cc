// ONNX LSTM, GRU and RNN (forward, reverse, bidirectional) unrolled over their static sequence
// length into ML Program matmuls and activations, with ONNX's gate equations and default
// activations.
#include "convert/importer.h"

namespace ringo::convert {

namespace {

constexpr DType kF = DType::kFloat;

// Gates per cell and their order in ONNX's weights.
int GateCount(const std::string& t) { return t == "LSTM" ? 4 : t == "GRU" ? 3 : 1; }

}  // namespace

// W[dir, first : first + rows, :] as a [rows, cols] value.
std::string Importer::RnnPart(const onnx::NodeProto& node, const std::string& w, int64_t dir,
                              int64_t first, int64_t rows) {
  const Shape& ws = ShapeOf(w);
  const int64_t cols = ws.size() == 3 ? ws[2] : 1;
  if (const Constant* c = ConstOf(w)) {
    std::vector<float> part(static_cast<size_t>(rows * cols));
    const int64_t base = (dir * ws[1] + first) * cols;
    for (int64_t k = 0; k < rows * cols; ++k) part[k] = static_cast<float>(c->at(base + k));
    Shape shape = ws.size() == 3 ? Shape{rows, cols} : Shape{rows};
    return AddConst(node, "part", Constant::Floats(shape, part));
  }
  std::vector<int64_t> begin = {dir, first, 0}, end = {dir + 1, first + rows, cols};
  begin.resize(ws.size());
  end.resize(ws.size());
  Shape sliced = ws;
  sliced[0] = 1;
  sliced[1] = rows;
  std::string s = Step(node, "slice_by_index", {w}, {"x"},
                       {{"begin", Param::Ints(begin)}, {"end", Param::Ints(end)}}, sliced, kF);
  Shape flat = ws.size() == 3 ? Shape{rows, cols} : Shape{rows};
  return Step(node, "reshape", {s}, {"x"}, {{"shape", Param::Ints(flat)}}, flat, kF);
}

Status Importer::LowerRnn(const onnx::NodeProto& node, Op& op) {
  const std::string& t = node.op_type();
  const std::string x = In(node, 0), w = In(node, 1), r = In(node, 2), b = In(node, 3);
  for (const std::string& v : {x, w, r}) {
    if (v.empty() || !graph_.shapes.count(v) || TypeOf(v) != kF) {
      return Fail(node, "X, W and R must be float tensors");
    }
  }
  if (!In(node, 4).empty()) return Fail(node, "sequence_lens is not supported");
  if (t == "LSTM" && !In(node, 7).empty()) return Fail(node, "peepholes are not supported");
  if (FindAttr(node, "activations") || FindAttr(node, "clip") ||
      AttrInt(node, "input_forget", 0) != 0) {
    return Fail(node, "custom activations, clip and input_forget are not supported");
  }
  const bool batch_first = AttrInt(node, "layout", 0) != 0;
  Shape xs = ShapeOf(x);
  if (xs.size() != 3) return Fail(node, "X must be [seq, batch, input]");
  std::string seq_x = x;
  if (batch_first) {
    xs = {xs[1], xs[0], xs[2]};
    seq_x = Step(node, "transpose", {x}, {"x"}, {{"perm", Param::Ints({1, 0, 2})}}, xs, kF);
  }
  const int64_t seq = xs[0], batch = xs[1], input = xs[2];
  const int64_t hidden = AttrInt(node, "hidden_size", ShapeOf(r).back());
  const std::string direction = AttrString(node, "direction", "forward");
  const int64_t dirs = direction == "bidirectional" ? 2 : 1;
  const int gates = GateCount(t);
  if (ShapeOf(w) != Shape{dirs, gates * hidden, input} ||
      ShapeOf(r) != Shape{dirs, gates * hidden, hidden}) {
    return Fail(node, "W or R does not fit X, hidden_size and direction");
  }
  const bool lbr = AttrInt(node, "linear_before_reset", 0) != 0;
  const Shape hs = {batch, hidden};
  std::vector<std::vector<std::string>> outputs(dirs, std::vector<std::string>(seq));
  std::vector<std::string> last_h(dirs), last_c(dirs);
  for (int64_t d = 0; d < dirs; ++d) {
    const bool reverse = direction == "reverse" || d == 1;
    std::vector<std::string> wg(gates), rg(gates), wb(gates), rb(gates);
    for (int g = 0; g < gates; ++g) {
      wg[g] = RnnPart(node, w, d, g * hidden, hidden);
      rg[g] = RnnPart(node, r, d, g * hidden, hidden);
      if (!b.empty()) {
        wb[g] = RnnPart(node, b, d, g * hidden, hidden);
        rb[g] = RnnPart(node, b, d, (gates + g) * hidden, hidden);
      }
    }
    auto initial = [&](int input_index) {
      std::string v = In(node, input_index);
      if (v.empty()) {
        return AddConst(node, "zeros", Constant::Floats(hs, std::vector<float>(batch * hidden)));
      }
      return RnnPart(node, v, d, 0, batch);
    };
    std::string h = initial(5), c = t == "LSTM" ? initial(6) : "";
    for (int64_t step = 0; step < seq; ++step) {
      const int64_t at = reverse ? seq - 1 - step : step;
      std::string xt = Step(node, "slice_by_index", {seq_x}, {"x"},
                            {{"begin", Param::Ints({at, 0, 0})},
                             {"end", Param::Ints({at + 1, batch, input})}},
                            {1, batch, input}, kF);
      xt = Step(node, "reshape", {xt}, {"x"}, {{"shape", Param::Ints({batch, input})}},
                {batch, input}, kF);
      auto mm = [&](const std::string& a, const std::string& m) {
        return Step(node, "matmul", {a, m}, {"x", "y"},
                    {{"transpose_x", Param::Bool(false)}, {"transpose_y", Param::Bool(true)}},
                    hs, kF);
      };
      auto add = [&](const std::string& a, const std::string& c2) {
        return c2.empty() ? a : Step(node, "add", {a, c2}, {"x", "y"}, {}, hs, kF);
      };
      auto act = [&](const char* f, const std::string& a) {
        return Step(node, f, {a}, {"x"}, {}, hs, kF);
      };
      auto mul = [&](const std::string& a, const std::string& c2) {
        return Step(node, "mul", {a, c2}, {"x", "y"}, {}, hs, kF);
      };
      // The pre-activation of gate g: x W^T + Wb (+ h R^T + Rb unless `own` replaces that part).
      auto gate_in = [&](int g) { return add(mm(xt, wg[g]), wb[g]); };
      auto gate = [&](int g) { return add(add(gate_in(g), mm(h, rg[g])), rb[g]); };
      if (t == "LSTM") {
        std::string i = act("sigmoid", gate(0)), o = act("sigmoid", gate(1));
        std::string f = act("sigmoid", gate(2)), g = act("tanh", gate(3));
        c = Step(node, "add", {mul(f, c), mul(i, g)}, {"x", "y"}, {}, hs, kF);
        h = mul(o, act("tanh", c));
      } else if (t == "GRU") {
        std::string z = act("sigmoid", gate(0)), rr = act("sigmoid", gate(1));
        std::string cand = lbr ? add(gate_in(2), mul(rr, add(mm(h, rg[2]), rb[2])))
                               : add(add(gate_in(2), mm(mul(rr, h), rg[2])), rb[2]);
        cand = act("tanh", cand);
        // h = (1 - z) * cand + z * h = cand + z * (h - cand)
        std::string diff = Step(node, "sub", {h, cand}, {"x", "y"}, {}, hs, kF);
        h = add(cand, mul(z, diff));
      } else {
        h = act("tanh", gate(0));
      }
      outputs[d][at] = h;
    }
    last_h[d] = h;
    last_c[d] = c;
  }
  // Y [seq, dirs, batch, hidden] (batch first: [batch, seq, dirs, hidden]); Y_h and Y_c
  // [dirs, batch, hidden] (batch first: [batch, dirs, hidden]).
  const Shape one = {1, 1, batch, hidden};
  std::vector<std::string> steps;
  for (int64_t s = 0; s < seq; ++s) {
    std::vector<std::string> per_dir;
    for (int64_t d = 0; d < dirs; ++d) {
      per_dir.push_back(Step(node, "reshape", {outputs[d][s]}, {"x"},
                             {{"shape", Param::Ints(one)}}, one, kF));
    }
    std::vector<std::string> params(per_dir.size(), "values");
    steps.push_back(dirs == 1 ? per_dir[0]
                              : Step(node, "concat", per_dir, params,
                                     {{"axis", Param::Int(1)}, {"interleave", Param::Bool(false)}},
                                     {1, dirs, batch, hidden}, kF));
  }
  const Shape ys = {seq, dirs, batch, hidden};
  auto finish = [&](const std::vector<std::string>& parts, int64_t axis, const Shape& shape,
                    const std::string& out, const std::vector<int64_t>& perm) {
    std::vector<std::string> params(parts.size(), "values");
    std::string v = parts.size() == 1
                        ? parts[0]
                        : Step(node, "concat", parts, params,
                               {{"axis", Param::Int(axis)}, {"interleave", Param::Bool(false)}},
                               shape, kF);
    if (!perm.empty()) {
      Shape moved(perm.size());
      for (size_t k = 0; k < perm.size(); ++k) moved[k] = shape[perm[k]];
      v = Step(node, "transpose", {v}, {"x"}, {{"perm", Param::Ints(perm)}}, moved, kF);
    }
    Step(node, "identity", {v}, {"x"}, {}, ShapeOf(v), kF, out);
  };
  if (node.output_size() > 0 && !node.output(0).empty()) {
    finish(steps, 0, ys, node.output(0),
           batch_first ? std::vector<int64_t>{2, 0, 1, 3} : std::vector<int64_t>{});
  }
  const Shape last = {dirs, batch, hidden};
  for (int k = 1; k <= 2 && k < node.output_size(); ++k) {
    if (node.output(k).empty() || (k == 2 && t != "LSTM")) continue;
    std::vector<std::string> parts;
    for (int64_t d = 0; d < dirs; ++d) {
      const Shape one3 = {1, batch, hidden};
      parts.push_back(Step(node, "reshape", {k == 1 ? last_h[d] : last_c[d]}, {"x"},
                           {{"shape", Param::Ints(one3)}}, one3, kF));
    }
    finish(parts, 0, last, node.output(k),
           batch_first ? std::vector<int64_t>{1, 0, 2} : std::vector<int64_t>{});
  }
  (void)op;
  return Status::Ok();
}

}  // namespace ringo::convert
