// ONNX Einsum of one or two operands (attention's forms: batched matmuls with any axis order,
// transposes, sums) as reduce_sum, transpose, reshape and one batched matmul.
#include <algorithm>

#include "convert/importer.h"

namespace ringo::convert {

namespace {

constexpr DType kF = DType::kFloat;

bool Has(const std::string& s, char c) { return s.find(c) != std::string::npos; }

}  // namespace

// `x` (labelled `from`) summed over the labels not in `keep`, then with its axes in the order of
// `to` (every label of `to` must remain); the result's shape in *shape.
std::string Importer::EinsumArrange(const onnx::NodeProto& node, const std::string& x,
                                    const std::string& from, const std::string& keep,
                                    const std::string& to, Shape* shape) {
  Shape xs = ShapeOf(x);
  std::string cur = x, labels;
  std::vector<int64_t> axes;
  Shape kept;
  for (size_t k = 0; k < from.size(); ++k) {
    if (Has(keep, from[k])) {
      labels += from[k];
      kept.push_back(xs[k]);
    } else {
      axes.push_back(static_cast<int64_t>(k));
    }
  }
  if (!axes.empty()) {
    cur = Step(node, "reduce_sum", {cur}, {"x"},
               {{"axes", Param::Ints(axes)}, {"keep_dims", Param::Bool(false)}}, kept, kF);
  }
  std::vector<int64_t> perm;
  Shape moved;
  for (char c : to) {
    perm.push_back(static_cast<int64_t>(labels.find(c)));
    moved.push_back(kept[labels.find(c)]);
  }
  bool identity = true;
  for (size_t k = 0; k < perm.size(); ++k) identity = identity && perm[k] == int64_t(k);
  if (!identity) {
    cur = Step(node, "transpose", {cur}, {"x"}, {{"perm", Param::Ints(perm)}}, moved, kF);
  }
  *shape = moved;
  return cur;
}

Status Importer::LowerEinsum(const onnx::NodeProto& node, Op& op) {
  std::string eq;
  for (char c : AttrString(node, "equation", "")) {
    if (c != ' ') eq += c;
  }
  const size_t arrow = eq.find("->");
  std::string lhs = eq.substr(0, arrow), out;
  std::vector<std::string> terms;
  for (size_t start = 0;;) {
    size_t comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (arrow != std::string::npos) {
    out = eq.substr(arrow + 2);
  } else {  // implicit output: the labels seen once, in alphabetical order
    for (char c = 'A'; c <= 'z'; ++c) {
      if (std::count(lhs.begin(), lhs.end(), c) == 1) out += c;
    }
  }
  if (terms.size() != static_cast<size_t>(node.input_size()) || terms.size() > 2) {
    return Fail(node, "only one or two operands are supported");
  }
  for (size_t k = 0; k < terms.size(); ++k) {
    const std::string& t = terms[k];
    if (t.find('.') != std::string::npos) return Fail(node, "ellipsis is not supported");
    if (TypeOf(In(node, static_cast<int>(k))) != kF) return Fail(node, "operands must be float");
    if (ShapeOf(In(node, static_cast<int>(k))).size() != t.size()) {
      return Fail(node, "'" + t + "' does not match its operand's rank");
    }
    for (char c : t) {
      if (std::count(t.begin(), t.end(), c) != 1) return Fail(node, "diagonals are not supported");
    }
  }
  for (char c : out) {
    if (!Has(lhs, c)) return Fail(node, std::string("output label '") + c + "' is not an input's");
  }
  Shape shape;
  if (terms.size() == 1) {
    std::string v = EinsumArrange(node, In(node, 0), terms[0], out, out, &shape);
    return EmitGeneric(node, std::move(op), "identity", {v}, {"x"}, shape, kF);
  }
  const std::string &a = terms[0], &b = terms[1];
  std::string batch, free_a, free_b, sum;
  for (char c : a) {
    if (Has(b, c)) {
      (Has(out, c) ? batch : sum) += c;
    } else if (Has(out, c)) {
      free_a += c;
    }
  }
  for (char c : b) {
    if (!Has(a, c) && Has(out, c)) free_b += c;
  }
  Shape as, bs;
  const std::string order_a = batch + free_a + sum, order_b = batch + sum + free_b;
  std::string va = EinsumArrange(node, In(node, 0), a, order_a, order_a, &as);
  std::string vb = EinsumArrange(node, In(node, 1), b, order_b, order_b, &bs);
  auto size = [](const Shape& s, size_t from, size_t n) {
    return NumElements(Shape(s.begin() + from, s.begin() + from + n));
  };
  const size_t nb = batch.size(), nfa = free_a.size(), ns = sum.size(), nfb = free_b.size();
  if (Shape(as.begin(), as.begin() + nb) != Shape(bs.begin(), bs.begin() + nb) ||
      Shape(as.begin() + nb + nfa, as.end()) != Shape(bs.begin() + nb, bs.begin() + nb + ns)) {
    return Fail(node, "operand sizes differ for a shared label (broadcasting is not supported)");
  }
  const int64_t batches = size(as, 0, nb), m = size(as, nb, nfa), k = size(as, nb + nfa, ns),
                n = size(bs, nb + ns, nfb);
  const Shape a3 = {batches, m, k}, b3 = {batches, k, n}, c3 = {batches, m, n};
  va = Step(node, "reshape", {va}, {"x"}, {{"shape", Param::Ints(a3)}}, a3, kF);
  vb = Step(node, "reshape", {vb}, {"x"}, {{"shape", Param::Ints(b3)}}, b3, kF);
  std::string c = Step(node, "matmul", {va, vb}, {"x", "y"},
                       {{"transpose_x", Param::Bool(false)}, {"transpose_y", Param::Bool(false)}},
                       c3, kF);
  Shape full(as.begin(), as.begin() + nb + nfa);
  full.insert(full.end(), bs.begin() + nb + ns, bs.end());
  c = Step(node, "reshape", {c}, {"x"}, {{"shape", Param::Ints(full)}}, full, kF);
  graph_.shapes[c] = full;
  std::string v = EinsumArrange(node, c, batch + free_a + free_b, out, out, &shape);
  return EmitGeneric(node, std::move(op), "identity", {v}, {"x"}, shape, kF);
}

}  // namespace ringo::convert
