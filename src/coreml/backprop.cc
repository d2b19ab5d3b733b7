// Back-propagation through the NeuralNetwork layers an update trains or passes, and the optimizers.
#include <algorithm>
#include <cmath>

#include "coreml/evaluate_nn.h"
#include "coreml/kernels.h"
#include "coreml/update_internal.h"

namespace ringo::coreml::internal {

namespace {

using L = spec::NeuralNetworkLayer;

// The part of each rank-5 blob's [Seq, Batch, C, H, W] that layers treat as one sample.
int64_t Rows(const Tensor& t) { return t.shape[0] * t.shape[1]; }

void InnerProductBackward(const std::vector<float>& w, const Tensor& x, const Tensor& dy,
                          int64_t c_in, int64_t c_out, std::vector<double>* dw,
                          std::vector<double>* db, Tensor* dx) {
  const int64_t rows = Rows(x);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data.data() + r * c_in;
    const float* g = dy.data.data() + r * c_out;
    for (int64_t o = 0; o < c_out; ++o) {
      if (dw != nullptr) {
        double* row = dw->data() + o * c_in;
        for (int64_t i = 0; i < c_in; ++i) row[i] += static_cast<double>(g[o]) * xr[i];
      }
      if (db != nullptr) (*db)[o] += g[o];
      if (dx != nullptr) {
        float* d = dx->data.data() + r * c_in;
        const float* wr = w.data() + o * c_in;
        for (int64_t i = 0; i < c_in; ++i) d[i] += wr[i] * g[o];
      }
    }
  }
}

// Direct loops: updatable convolutions are the small last layers of a personalised model.
void ConvolutionBackward(const std::vector<float>& w, const Tensor& x, const Tensor& dy,
                         const kernels::Window& win, std::vector<double>* dw,
                         std::vector<double>* db, Tensor* dx) {
  const int64_t c_in = x.shape[kC], h = x.shape[kH], wd = x.shape[kW];
  const int64_t c_out = dy.shape[kC], oh = dy.shape[kH], ow = dy.shape[kW];
  for (int64_t r = 0; r < Rows(x); ++r) {
    const float* xs = x.data.data() + r * c_in * h * wd;
    const float* gs = dy.data.data() + r * c_out * oh * ow;
    float* ds = dx != nullptr ? dx->data.data() + r * c_in * h * wd : nullptr;
    for (int64_t o = 0; o < c_out; ++o) {
      for (int64_t y = 0; y < oh; ++y) {
        for (int64_t z = 0; z < ow; ++z) {
          const float g = gs[(o * oh + y) * ow + z];
          if (db != nullptr) (*db)[o] += g;
          for (int64_t c = 0; c < c_in; ++c) {
            for (int64_t i = 0; i < win.kh; ++i) {
              const int64_t iy = y * win.sh - win.pad_top + i * win.dh;
              if (iy < 0 || iy >= h) continue;
              for (int64_t j = 0; j < win.kw; ++j) {
                const int64_t ix = z * win.sw - win.pad_left + j * win.dw;
                if (ix < 0 || ix >= wd) continue;
                const int64_t wi = ((o * c_in + c) * win.kh + i) * win.kw + j;
                const int64_t xi = (c * h + iy) * wd + ix;
                if (dw != nullptr) (*dw)[wi] += static_cast<double>(g) * xs[xi];
                if (ds != nullptr) ds[xi] += w[wi] * g;
              }
            }
          }
        }
      }
    }
  }
}

// The window of a convolution on input `x`, with the evaluator's padding rules.
kernels::Window ConvWindow(const spec::ConvolutionLayerParams& p, const Tensor& x) {
  kernels::Window win = ConvolutionWindow(p);
  const auto& amounts = p.valid().paddingamounts().borderamounts();
  if (p.has_same()) {
    const bool start = p.same().asymmetrymode() == spec::SamePadding::TOP_LEFT_HEAVY;
    const int64_t kh = (win.kh - 1) * win.dh + 1, kw = (win.kw - 1) * win.dw + 1;
    win.pad_top = kernels::SamePadding(x.shape[kH], kh, win.sh, start).first;
    win.pad_left = kernels::SamePadding(x.shape[kW], kw, win.sw, start).first;
  } else if (amounts.size() == 2) {
    win.pad_top = static_cast<int64_t>(amounts[0].startedgesize());
    win.pad_left = static_cast<int64_t>(amounts[1].startedgesize());
  }
  return win;
}

void ActivationBackward(const spec::ActivationParams& a, const Tensor& x, const Tensor& y,
                        const Tensor& dy, Tensor* dx) {
  for (size_t i = 0; i < dy.data.size(); ++i) {
    const float g = dy.data[i];
    float d = 0;
    if (a.has_relu()) {
      d = x.data[i] > 0 ? g : 0.0f;
    } else if (a.has_leakyrelu()) {
      d = x.data[i] > 0 ? g : g * a.leakyrelu().alpha();
    } else if (a.has_sigmoid()) {
      d = g * y.data[i] * (1.0f - y.data[i]);
    } else if (a.has_tanh()) {
      d = g * (1.0f - y.data[i] * y.data[i]);
    } else if (a.has_linear()) {
      d = g * a.linear().alpha();
    }
    dx->data[i] += d;
  }
}

// Softmax over C at each (Seq, Batch, H, W): dx = y * (dy - sum_c dy * y).
void SoftmaxBackward(const Tensor& y, const Tensor& dy, Tensor* dx) {
  const int64_t c = y.shape[kC], plane = y.shape[kH] * y.shape[kW];
  for (int64_t r = 0; r < Rows(y); ++r) {
    for (int64_t p = 0; p < plane; ++p) {
      const int64_t base = r * c * plane + p;
      double dot = 0;
      for (int64_t k = 0; k < c; ++k) dot += dy.data[base + k * plane] * y.data[base + k * plane];
      for (int64_t k = 0; k < c; ++k) {
        const int64_t at = base + k * plane;
        dx->data[at] += static_cast<float>(y.data[at] * (dy.data[at] - dot));
      }
    }
  }
}

}  // namespace

Backprop::Backprop(const Layers& layers, int first, bool cross_entropy, std::string loss_input)
    : layers_(layers),
      first_(first),
      cross_entropy_(cross_entropy),
      loss_input_(std::move(loss_input)) {
  for (int k = 0; k < layers_.size(); ++k) {
    for (const std::string& out : layers_[k].output()) producer_[out] = k;
  }
}

Status Backprop::Check() const {
  for (int k = first_; k < layers_.size(); ++k) {
    if (!Differentiable(layers_[k])) {
      return FailedPrecondition(LayerName(layers_[k]) +
                                " comes after an updatable layer, and the trainer cannot "
                                "back-propagate through its type");
    }
    if (layers_[k].input_size() != 1 || layers_[k].output_size() != 1) {
      return FailedPrecondition(LayerName(layers_[k]) + " has more than one input or output");
    }
  }
  auto it = producer_.find(loss_input_);
  if (it == producer_.end() || it->second < first_) {
    return FailedPrecondition("the loss input '" + loss_input_ +
                              "' is not computed after the updatable layers");
  }
  return Status::Ok();
}

Result<double> Backprop::Run(const std::map<std::string, Tensor>& blobs, const Tensor& targets,
                             int64_t n, int64_t i, double scale) {
  for (auto& [key, g] : grads_) std::fill(g.begin(), g.end(), 0.0);
  const Tensor& p = blobs.at(loss_input_);
  std::map<std::string, Tensor> grads;
  int skip = -1;
  double loss = 0;
  if (cross_entropy_) {
    const int64_t classes = p.size();
    const float t = targets.data[static_cast<size_t>(i)];
    const int64_t target = static_cast<int64_t>(t);
    if (t != static_cast<float>(target) || target < 0 || target >= classes) {
      return InvalidArgument("target " + std::to_string(t) + " of sample " + std::to_string(i) +
                             " is not a class index below " + std::to_string(classes));
    }
    loss = -std::log(std::max(static_cast<double>(p.data[target]), 1e-45));
    const int k = producer_.at(loss_input_);
    if (layers_[k].has_softmax() && k > first_) {
      // Through the softmax in one step: d(-log p_t)/dx = p - onehot(t), exact where p_t is
      // tiny (the chain through 1/p_t is not).
      Tensor g = p;
      g.data[target] -= 1.0f;
      for (float& v : g.data) v = static_cast<float>(v * scale);
      grads[layers_[k].input(0)] = std::move(g);
      skip = k;
    } else {
      Tensor g{p.shape, std::vector<float>(p.data.size(), 0.0f)};
      g.data[target] = static_cast<float>(-scale / std::max(p.data[target], 1e-30f));
      grads[loss_input_] = std::move(g);
    }
  } else {
    const int64_t per = p.size();
    if (targets.size() != n * per) {
      return InvalidArgument("the targets hold " + std::to_string(targets.size()) +
                             " values; " + std::to_string(n) + " samples of '" + loss_input_ +
                             "' need " + std::to_string(n * per));
    }
    Tensor g{p.shape, std::vector<float>(p.data.size())};
    for (int64_t j = 0; j < per; ++j) {
      const double d = p.data[j] - targets.data[i * per + j];
      loss += d * d / static_cast<double>(per);
      g.data[j] = static_cast<float>(2.0 * d / static_cast<double>(per) * scale);
    }
    grads[loss_input_] = std::move(g);
  }
  for (int k = layers_.size() - 1; k >= first_; --k) {
    auto it = grads.find(layers_[k].output(0));
    if (k == skip || it == grads.end()) continue;
    const std::string& in = layers_[k].input(0);
    auto from = producer_.find(in);
    const bool need_dx = from != producer_.end() && from->second >= first_;
    Tensor dx;
    if (need_dx) {
      const Tensor& x = blobs.at(in);
      dx = Tensor{x.shape, std::vector<float>(x.data.size(), 0.0f)};
    }
    RETURN_IF_ERROR(Layer(k, blobs, it->second, need_dx, need_dx ? &dx : nullptr));
    if (!need_dx) continue;
    auto [slot, fresh] = grads.try_emplace(in, std::move(dx));
    if (!fresh) {
      for (size_t j = 0; j < dx.data.size(); ++j) slot->second.data[j] += dx.data[j];
    }
  }
  return loss;
}

Status Backprop::Layer(int k, const std::map<std::string, Tensor>& blobs, const Tensor& dy,
                       bool need_dx, Tensor* dx) {
  const spec::NeuralNetworkLayer& l = layers_[k];
  const Tensor& x = blobs.at(l.input(0));
  const Tensor& y = blobs.at(l.output(0));
  auto grad_of = [&](const spec::WeightParams& w) -> std::vector<double>* {
    if (!l.isupdatable() || !w.isupdatable()) return nullptr;
    std::vector<double>& g = grads_[&w.floatvalue()];
    g.resize(static_cast<size_t>(w.floatvalue_size()), 0.0);
    return &g;
  };
  switch (l.layer_case()) {
    case L::kInnerProduct: {
      const auto& p = l.innerproduct();
      const auto c_in = static_cast<int64_t>(p.inputchannels());
      const auto c_out = static_cast<int64_t>(p.outputchannels());
      ASSIGN_OR_RETURN(std::vector<float> w, Weights(p.weights(), c_in * c_out, l, "weights"));
      InnerProductBackward(w, x, dy, c_in, c_out, grad_of(p.weights()),
                           p.hasbias() ? grad_of(p.bias()) : nullptr, need_dx ? dx : nullptr);
      return Status::Ok();
    }
    case L::kConvolution: {
      const auto& p = l.convolution();
      ASSIGN_OR_RETURN(std::vector<float> w, Weights(p.weights(), -1, l, "weights"));
      ConvolutionBackward(w, x, dy, ConvWindow(p, x), grad_of(p.weights()),
                          p.hasbias() ? grad_of(p.bias()) : nullptr, need_dx ? dx : nullptr);
      return Status::Ok();
    }
    default:
      break;
  }
  if (!need_dx) return Status::Ok();
  if (l.has_activation()) {
    ActivationBackward(l.activation(), x, y, dy, dx);
  } else if (l.has_softmax()) {
    SoftmaxBackward(y, dy, dx);
  } else if (l.has_flatten()) {
    if (l.flatten().mode() == spec::FlattenLayerParams::CHANNEL_LAST && x.shape[kH] *
        x.shape[kW] > 1) {
      return FailedPrecondition(LayerName(l) + ": channel-last flatten is not back-propagated");
    }
    // Channel-first flattening keeps the order of the values.
    for (size_t j = 0; j < dy.data.size(); ++j) dx->data[j] += dy.data[j];
  } else {
    return FailedPrecondition(LayerName(l) + " cannot be back-propagated through");
  }
  return Status::Ok();
}

const std::vector<double>& Backprop::Gradient(
    const google::protobuf::RepeatedField<float>* values) const {
  static const std::vector<double> kNone;
  auto it = grads_.find(values);
  return it == grads_.end() ? kNone : it->second;
}

void Step(bool adam, double lr, double momentum, double beta1, double beta2, double eps, int64_t t,
          std::vector<double>* grad, std::vector<double>* m, std::vector<double>* v,
          google::protobuf::RepeatedField<float>* values) {
  const double c1 = 1.0 - std::pow(beta1, static_cast<double>(t));
  const double c2 = 1.0 - std::pow(beta2, static_cast<double>(t));
  for (int j = 0; j < values->size(); ++j) {
    const double g = (*grad)[j];
    double w = values->Get(j);
    if (adam) {
      (*m)[j] = beta1 * (*m)[j] + (1 - beta1) * g;
      (*v)[j] = beta2 * (*v)[j] + (1 - beta2) * g * g;
      w -= lr * ((*m)[j] / c1) / (std::sqrt((*v)[j] / c2) + eps);
    } else if (momentum != 0) {
      (*m)[j] = momentum * (*m)[j] + g;
      w -= lr * (*m)[j];
    } else {
      w -= lr * g;
    }
    values->Set(j, static_cast<float>(w));
  }
}

}  // namespace ringo::coreml::internal

namespace ringo::coreml {

bool Differentiable(const spec::NeuralNetworkLayer& l) {
  using L = spec::NeuralNetworkLayer;
  switch (l.layer_case()) {
    case L::kInnerProduct:
    case L::kSoftmax:
    case L::kFlatten:
      return true;
    case L::kConvolution:
      return !l.convolution().isdeconvolution() && l.convolution().ngroups() <= 1;
    case L::kActivation: {
      const auto& a = l.activation();
      return a.has_relu() || a.has_leakyrelu() || a.has_sigmoid() || a.has_tanh() ||
             a.has_linear();
    }
    default:
      return false;
  }
}

}  // namespace ringo::coreml
