// The NeuralNetwork evaluator's layers: weights (plain, fp16, quantized) and each layer type
// the converter writes, on rank-5 blobs.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "coreml/evaluate_nn.h"
#include "coreml/kernels.h"

namespace ringo::coreml::internal {

namespace {

using google::protobuf::RepeatedPtrField;
using kernels::ShapeString;

// 8-bit quantized weights: q * scale + bias per channel (equal slices of rawValue), or lut[q].
Result<std::vector<float>> Dequantized(const spec::WeightParams& w,
                                       const spec::NeuralNetworkLayer& layer, const char* what) {
  const std::string& raw = w.rawvalue();
  const spec::QuantizationParams& q = w.quantization();
  std::vector<float> v(raw.size());
  if (q.has_linearquantization()) {
    const auto& scale = q.linearquantization().scale();
    const auto& bias = q.linearquantization().bias();
    const size_t channels = static_cast<size_t>(scale.size());
    if (channels == 0 || raw.size() % channels != 0 ||
        (bias.size() != 0 && static_cast<size_t>(bias.size()) != channels)) {
      return InvalidArgument(LayerName(layer) + ": " + what + " scale/bias do not fit " +
                             std::to_string(raw.size()) + " values");
    }
    const size_t per = raw.size() / channels;
    for (size_t i = 0; i < raw.size(); ++i) {
      const size_t c = i / per;
      v[i] = static_cast<uint8_t>(raw[i]) * scale[c] + (bias.empty() ? 0.0f : bias[c]);
    }
  } else if (q.has_lookuptablequantization()) {
    const auto& lut = q.lookuptablequantization().floatvalue();
    if (lut.size() != 256) {
      return InvalidArgument(LayerName(layer) + ": " + what + " lookup table needs 256 entries");
    }
    for (size_t i = 0; i < raw.size(); ++i) v[i] = lut[static_cast<uint8_t>(raw[i])];
  } else {
    return InvalidArgument(LayerName(layer) + ": " + what + " are quantized without parameters");
  }
  return v;
}

}  // namespace

Result<std::vector<float>> Weights(const spec::WeightParams& w, int64_t expected,
                                   const spec::NeuralNetworkLayer& layer, const char* what) {
  std::vector<float> v;
  if (!w.floatvalue().empty()) {
    v.assign(w.floatvalue().begin(), w.floatvalue().end());
  } else if (!w.float16value().empty()) {
    const std::string& bytes = w.float16value();
    if (bytes.size() % 2 != 0) {
      return InvalidArgument(LayerName(layer) + " has an odd number of float16 bytes in " + what);
    }
    v.resize(bytes.size() / 2);
    for (size_t i = 0; i < v.size(); ++i) {
      uint16_t h = static_cast<uint16_t>(static_cast<uint8_t>(bytes[2 * i]) |
                                         (static_cast<uint8_t>(bytes[2 * i + 1]) << 8));
      v[i] = HalfToFloat(h);
    }
  } else if (!w.rawvalue().empty() && w.quantization().numberofbits() == 8) {
    ASSIGN_OR_RETURN(v, Dequantized(w, layer, what));
  } else if (!w.rawvalue().empty() || !w.int8rawvalue().empty()) {
    return FailedPrecondition(LayerName(layer) + " uses quantized " + what +
                              " of a kind the evaluator does not implement (8-bit only)");
  }
  if (expected >= 0 && static_cast<int64_t>(v.size()) != expected) {
    return InvalidArgument(LayerName(layer) + " has " + std::to_string(v.size()) + " " + what +
                           " values; its shape needs " + std::to_string(expected));
  }
  return v;
}

namespace {

// [S, B, C, H, W] viewed as [S*B, C, H, W] for the spatial kernels (same data, no copy needed
// beyond the move).
Tensor As4D(Tensor t) {
  t.shape = {t.shape[0] * t.shape[1], t.shape[2], t.shape[3], t.shape[4]};
  return t;
}
Tensor As5D(Tensor t, int64_t s, int64_t b) {
  t.shape = {s, b, t.shape[1], t.shape[2], t.shape[3]};
  return t;
}

void Map(Tensor* t, const auto& f) {
  for (float& v : t->data) v = f(v);
}

// A per-channel or per-pixel parameter of scale/bias layers as a broadcastable rank-5 tensor:
// shape [1], [C], [1, H, W] or [C, H, W].
Result<Tensor> ChannelParam(const google::protobuf::RepeatedField<uint64_t>& declared_repeated,
                            std::vector<float> values, const spec::NeuralNetworkLayer& layer) {
  std::vector<int64_t> declared(declared_repeated.begin(), declared_repeated.end());
  Tensor t;
  if (declared.size() == 1) {
    t.shape = {1, 1, declared[0], 1, 1};
  } else if (declared.size() == 3) {
    t.shape = {1, 1, declared[0], declared[1], declared[2]};
  } else if (declared.empty() && values.size() == 1) {
    t.shape = {1, 1, 1, 1, 1};
  } else {
    return InvalidArgument(LayerName(layer) + " has a parameter shape " + ShapeString(declared) +
                           "; expected [1], [C], [1, H, W] or [C, H, W]");
  }
  if (t.size() != static_cast<int64_t>(values.size())) {
    return InvalidArgument(LayerName(layer) + " has " + std::to_string(values.size()) +
                           " parameter values for shape " + ShapeString(declared));
  }
  t.data = std::move(values);
  return t;
}

class NetworkRunner {
 public:
  explicit NetworkRunner(const spec::NeuralNetworkLayer& layer) : layer_(layer) {}

  Result<Tensor> Run(const std::vector<const Tensor*>& in) {
    using L = spec::NeuralNetworkLayer;
    switch (layer_.layer_case()) {
      case L::kConvolution:
        return Convolution(*in[0]);
      case L::kPooling:
        return Pooling(*in[0]);
      case L::kActivation:
        return Activation(*in[0]);
      case L::kInnerProduct:
        return InnerProduct(*in[0]);
      case L::kBatchnorm:
        return Batchnorm(*in[0]);
      case L::kSoftmax: {
        Tensor t = *in[0];
        kernels::Softmax(&t, kC);
        return t;
      }
      case L::kPadding:
        return Padding(*in[0]);
      case L::kUnary:
        return Unary(*in[0]);
      case L::kAdd:
        return Elementwise(in, layer_.add().alpha(), false);
      case L::kMultiply:
        return Elementwise(in, layer_.multiply().alpha(), true);
      case L::kScale:
        return Scale(*in[0]);
      case L::kBias:
        return Bias(*in[0]);
      case L::kReshape:
        return Reshape(*in[0]);
      case L::kFlatten:
        return Flatten(*in[0]);
      case L::kPermute:
        return Permute(*in[0]);
      case L::kConcat:
        return Concat(in);
      default:
        return FailedPrecondition(LayerName(layer_) +
                                  " has a layer type the evaluator does not implement (field " +
                                  std::to_string(static_cast<int>(layer_.layer_case())) + ")");
    }
  }

  // Whether the layer takes any number of inputs (else exactly one).
  bool Variadic() const {
    using L = spec::NeuralNetworkLayer;
    return layer_.layer_case() == L::kAdd || layer_.layer_case() == L::kMultiply ||
           layer_.layer_case() == L::kConcat;
  }

 private:
  Result<Tensor> Convolution(const Tensor& x) {
    const spec::ConvolutionLayerParams& p = layer_.convolution();
    if (p.isdeconvolution()) {
      return FailedPrecondition(LayerName(layer_) + ": deconvolution is not implemented");
    }
    const int64_t groups = p.ngroups() == 0 ? 1 : static_cast<int64_t>(p.ngroups());
    const int64_t c_out = static_cast<int64_t>(p.outputchannels());
    const int64_t kc = static_cast<int64_t>(p.kernelchannels());
    kernels::Window win = ConvolutionWindow(p);
    if (x.shape[kC] != kc * groups || c_out % groups != 0 || win.sh <= 0 || win.sw <= 0 ||
        win.dh <= 0 || win.dw <= 0) {
      return InvalidArgument(LayerName(layer_) + ": input has " + std::to_string(x.shape[kC]) +
                             " channels; kernelChannels " + std::to_string(kc) + " x groups " +
                             std::to_string(groups) + " (or a zero stride/dilation)");
    }
    ASSIGN_OR_RETURN(std::vector<float> w,
                     Weights(p.weights(), c_out * kc * win.kh * win.kw, layer_, "weights"));
    std::vector<float> bias;
    if (p.hasbias()) {
      ASSIGN_OR_RETURN(bias, Weights(p.bias(), c_out, layer_, "bias"));
    }
    RETURN_IF_ERROR(Geometry(x, p.has_same() ? &p.same() : nullptr,
                             p.has_valid() ? &p.valid() : nullptr, win.dh, win.dw, &win));
    Tensor out = kernels::Conv2D(As4D(x), w.data(), bias.empty() ? nullptr : bias.data(), c_out,
                                 groups, win);
    return As5D(std::move(out), x.shape[0], x.shape[1]);
  }

  // Padding and output size for convolution and pooling windows (win.kh/kw/sh/sw set).
  Status Geometry(const Tensor& x, const spec::SamePadding* same, const spec::ValidPadding* valid,
                  int64_t dh, int64_t dw, kernels::Window* win) {
    const int64_t h = x.shape[kH], w = x.shape[kW];
    const int64_t kh = (win->kh - 1) * dh + 1, kw = (win->kw - 1) * dw + 1;
    if (same != nullptr) {
      bool start = same->asymmetrymode() == spec::SamePadding::TOP_LEFT_HEAVY;
      std::tie(win->pad_top, win->pad_bottom) = kernels::SamePadding(h, kh, win->sh, start);
      std::tie(win->pad_left, win->pad_right) = kernels::SamePadding(w, kw, win->sw, start);
    } else if (valid != nullptr && valid->has_paddingamounts()) {
      const auto& amounts = valid->paddingamounts().borderamounts();
      if (amounts.size() != 2) {
        return InvalidArgument(LayerName(layer_) + ": padding amounts need 2 entries [H, W]");
      }
      win->pad_top = static_cast<int64_t>(amounts[0].startedgesize());
      win->pad_bottom = static_cast<int64_t>(amounts[0].endedgesize());
      win->pad_left = static_cast<int64_t>(amounts[1].startedgesize());
      win->pad_right = static_cast<int64_t>(amounts[1].endedgesize());
    }
    win->out_h = kernels::FloorOutSize(h, kh, win->sh, win->pad_top, win->pad_bottom);
    win->out_w = kernels::FloorOutSize(w, kw, win->sw, win->pad_left, win->pad_right);
    if (win->out_h <= 0 || win->out_w <= 0) {
      return InvalidArgument(LayerName(layer_) + ": the window does not fit the " +
                             std::to_string(h) + "x" + std::to_string(w) + " input");
    }
    return Status::Ok();
  }

  Result<Tensor> Pooling(const Tensor& x) {
    const spec::PoolingLayerParams& p = layer_.pooling();
    kernels::PoolType type;
    if (p.type() == spec::PoolingLayerParams::MAX) {
      type = kernels::PoolType::kMax;
    } else if (p.type() == spec::PoolingLayerParams::AVERAGE) {
      type = kernels::PoolType::kAverage;
    } else {
      return FailedPrecondition(LayerName(layer_) + ": L2 pooling is not implemented");
    }
    kernels::Window win;
    const int64_t h = x.shape[kH], w = x.shape[kW];
    if (p.globalpooling()) {
      win.kh = h;
      win.kw = w;
      win.out_h = win.out_w = 1;
    } else {
      win.kh = p.kernelsize_size() == 2 ? static_cast<int64_t>(p.kernelsize(0)) : 3;
      win.kw = p.kernelsize_size() == 2 ? static_cast<int64_t>(p.kernelsize(1)) : 3;
      if (p.stride_size() == 2) {
        win.sh = static_cast<int64_t>(p.stride(0));
        win.sw = static_cast<int64_t>(p.stride(1));
      }
      if (win.sh <= 0 || win.sw <= 0 || win.kh <= 0 || win.kw <= 0) {
        return InvalidArgument(LayerName(layer_) + " has a zero kernel size or stride");
      }
      if (p.has_includelastpixel()) {
        // Caffe's ceil mode with symmetric padding: a last window starting inside the end
        // padding is dropped, but only when there is padding.
        const auto& amounts = p.includelastpixel().paddingamounts();
        int64_t ph = amounts.size() == 2 ? static_cast<int64_t>(amounts[0]) : 0;
        int64_t pw = amounts.size() == 2 ? static_cast<int64_t>(amounts[1]) : 0;
        auto ceil_out = [](int64_t in, int64_t k, int64_t s, int64_t pad) {
          int64_t span = in + 2 * pad - k;
          if (span < 0) return int64_t{0};
          int64_t out = (span + s - 1) / s + 1;
          if (pad > 0 && (out - 1) * s >= in + pad) --out;
          return out;
        };
        win.pad_top = win.pad_bottom = ph;
        win.pad_left = win.pad_right = pw;
        win.out_h = ceil_out(h, win.kh, win.sh, ph);
        win.out_w = ceil_out(w, win.kw, win.sw, pw);
        if (win.out_h <= 0 || win.out_w <= 0) {
          return InvalidArgument(LayerName(layer_) + ": the window does not fit the input");
        }
      } else {
        RETURN_IF_ERROR(Geometry(x, p.has_same() ? &p.same() : nullptr,
                                 p.has_valid() ? &p.valid() : nullptr, 1, 1, &win));
      }
    }
    Tensor out = kernels::Pool2D(As4D(x), type, win, p.avgpoolexcludepadding());
    return As5D(std::move(out), x.shape[0], x.shape[1]);
  }

  Result<Tensor> Activation(Tensor x) {
    const spec::ActivationParams& a = layer_.activation();
    using A = spec::ActivationParams;
    switch (a.NonlinearityType_case()) {
      case A::kLinear: {
        float alpha = a.linear().alpha(), beta = a.linear().beta();
        Map(&x, [=](float v) { return alpha * v + beta; });
        break;
      }
      case A::kReLU:
        Map(&x, [](float v) { return v > 0 ? v : 0.0f; });
        break;
      case A::kLeakyReLU: {
        float alpha = a.leakyrelu().alpha();
        Map(&x, [=](float v) { return v < 0 ? alpha * v : v; });
        break;
      }
      case A::kThresholdedReLU: {
        float alpha = a.thresholdedrelu().alpha();
        Map(&x, [=](float v) { return v > alpha ? v : 0.0f; });
        break;
      }
      case A::kTanh:
        Map(&x, [](float v) { return std::tanh(v); });
        break;
      case A::kScaledTanh: {
        float alpha = a.scaledtanh().alpha(), beta = a.scaledtanh().beta();
        Map(&x, [=](float v) { return alpha * std::tanh(beta * v); });
        break;
      }
      case A::kSigmoid:
        Map(&x, [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
        break;
      case A::kSigmoidHard: {
        float alpha = a.sigmoidhard().alpha(), beta = a.sigmoidhard().beta();
        Map(&x, [=](float v) { return std::clamp(alpha * v + beta, 0.0f, 1.0f); });
        break;
      }
      case A::kELU: {
        float alpha = a.elu().alpha();
        Map(&x, [=](float v) { return v < 0 ? alpha * (std::exp(v) - 1.0f) : v; });
        break;
      }
      case A::kSoftsign:
        Map(&x, [](float v) { return v / (1.0f + std::fabs(v)); });
        break;
      case A::kSoftplus:
        // log(1 + e^x) without overflow for large x.
        Map(&x, [](float v) { return std::max(v, 0.0f) + std::log1p(std::exp(-std::fabs(v))); });
        break;
      default:
        return FailedPrecondition(LayerName(layer_) +
                                  " uses an activation the evaluator does not implement");
    }
    return x;
  }

  Result<Tensor> InnerProduct(const Tensor& x) {
    const spec::InnerProductLayerParams& p = layer_.innerproduct();
    const int64_t c_in = static_cast<int64_t>(p.inputchannels());
    const int64_t c_out = static_cast<int64_t>(p.outputchannels());
    // Rank-5 blobs: the layer flattens C, H, W into one feature vector per (Seq, Batch).
    const int64_t rows = x.shape[0] * x.shape[1];
    if (x.shape[kC] * x.shape[kH] * x.shape[kW] != c_in) {
      return InvalidArgument(LayerName(layer_) + ": input has " +
                             std::to_string(x.shape[kC] * x.shape[kH] * x.shape[kW]) +
                             " features per batch; inputChannels is " + std::to_string(c_in));
    }
    ASSIGN_OR_RETURN(std::vector<float> w, Weights(p.weights(), c_out * c_in, layer_, "weights"));
    Tensor out;
    out.shape = {x.shape[0], x.shape[1], c_out, 1, 1};
    out.data.resize(static_cast<size_t>(rows * c_out));
    kernels::Gemm(x.data.data(), w.data(), out.data.data(), rows, c_out, c_in, false, true);
    if (p.hasbias()) {
      ASSIGN_OR_RETURN(std::vector<float> b, Weights(p.bias(), c_out, layer_, "bias"));
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t o = 0; o < c_out; ++o) out.data[r * c_out + o] += b[o];
      }
    }
    return out;
  }

  Result<Tensor> Batchnorm(Tensor x) {
    const spec::BatchnormLayerParams& p = layer_.batchnorm();
    const int64_t c = x.shape[kC];
    if (static_cast<int64_t>(p.channels()) != c) {
      return InvalidArgument(LayerName(layer_) + ": channels is " + std::to_string(p.channels()) +
                             " but the input has " + std::to_string(c));
    }
    const float eps = p.epsilon() == 0 ? 1e-5f : p.epsilon();
    ASSIGN_OR_RETURN(std::vector<float> gamma, Weights(p.gamma(), c, layer_, "gamma"));
    ASSIGN_OR_RETURN(std::vector<float> beta, Weights(p.beta(), c, layer_, "beta"));
    const int64_t outer = x.shape[0] * x.shape[1], plane = x.shape[kH] * x.shape[kW];
    std::vector<float> mean(static_cast<size_t>(c * outer)), var(mean.size());
    if (p.computemeanvar()) {
      // Statistics of this input: per (batch, channel) for instance normalization, else per
      // channel over every batch.
      bool instance = p.instancenormalization();
      for (int64_t ch = 0; ch < c; ++ch) {
        for (int64_t o = 0; o < outer; ++o) {
          double sum = 0, sq = 0;
          int64_t count = 0;
          for (int64_t o2 = instance ? o : 0; o2 < (instance ? o + 1 : outer); ++o2) {
            const float* src = x.data.data() + (o2 * c + ch) * plane;
            for (int64_t i = 0; i < plane; ++i) {
              sum += src[i];
              sq += double(src[i]) * src[i];
            }
            count += plane;
          }
          double m = sum / double(count);
          mean[o * c + ch] = static_cast<float>(m);
          var[o * c + ch] = static_cast<float>(std::max(0.0, sq / double(count) - m * m));
        }
      }
    } else {
      ASSIGN_OR_RETURN(std::vector<float> m, Weights(p.mean(), c, layer_, "mean"));
      ASSIGN_OR_RETURN(std::vector<float> v, Weights(p.variance(), c, layer_, "variance"));
      for (int64_t o = 0; o < outer; ++o) {
        std::copy(m.begin(), m.end(), mean.begin() + o * c);
        std::copy(v.begin(), v.end(), var.begin() + o * c);
      }
    }
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t ch = 0; ch < c; ++ch) {
        float k = gamma[ch] / std::sqrt(var[o * c + ch] + eps);
        float b = beta[ch] - k * mean[o * c + ch];
        float* dst = x.data.data() + (o * c + ch) * plane;
        for (int64_t i = 0; i < plane; ++i) dst[i] = k * dst[i] + b;
      }
    }
    return x;
  }

  Result<Tensor> Padding(const Tensor& x) {
    const spec::PaddingLayerParams& p = layer_.padding();
    const auto& amounts = p.paddingamounts().borderamounts();
    std::vector<std::pair<int64_t, int64_t>> pads(5, {0, 0});
    if (amounts.size() == 2) {
      pads[kH] = {static_cast<int64_t>(amounts[0].startedgesize()),
                  static_cast<int64_t>(amounts[0].endedgesize())};
      pads[kW] = {static_cast<int64_t>(amounts[1].startedgesize()),
                  static_cast<int64_t>(amounts[1].endedgesize())};
    } else if (!amounts.empty()) {
      return InvalidArgument(LayerName(layer_) + ": padding amounts need 2 entries [H, W]");
    }
    kernels::PadMode mode = kernels::PadMode::kConstant;
    if (p.has_reflection()) mode = kernels::PadMode::kReflect;
    if (p.has_replication()) mode = kernels::PadMode::kReplicate;
    return kernels::Pad(x, pads, mode, p.constant().value());
  }

  Result<Tensor> Unary(Tensor x) {
    const spec::UnaryFunctionLayerParams& p = layer_.unary();
    // A scale of 0 would make the layer a constant; an unset scale means 1 (proto3 cannot tell
    // the two apart and Core ML's builders always mean the identity scale).
    const float scale = p.scale() == 0 ? 1.0f : p.scale(), shift = p.shift();
    const float eps = p.epsilon() == 0 ? 1e-6f : p.epsilon(), alpha = p.alpha();
    using U = spec::UnaryFunctionLayerParams;
    for (float& v : x.data) {
      float t = scale * v + shift;
      switch (p.type()) {
        case U::SQRT:
          v = std::sqrt(t);
          break;
        case U::RSQRT:
          v = 1.0f / std::sqrt(t + eps);
          break;
        case U::INVERSE:
          v = 1.0f / (t + eps);
          break;
        case U::POWER:
          v = std::pow(t, alpha);
          break;
        case U::EXP:
          v = std::exp(t);
          break;
        case U::LOG:
          v = std::log(t + eps);
          break;
        case U::ABS:
          v = std::fabs(t);
          break;
        case U::THRESHOLD:
          v = std::max(alpha, t);
          break;
        default:
          return FailedPrecondition(LayerName(layer_) + " uses unknown unary function " +
                                    std::to_string(static_cast<int>(p.type())));
      }
    }
    return x;
  }

  Result<Tensor> Elementwise(const std::vector<const Tensor*>& in, float alpha, bool product) {
    auto op = [product](float a, float b) { return product ? a * b : a + b; };
    if (in.size() == 1) {
      Tensor x = *in[0];
      Map(&x, [&](float v) { return op(v, alpha); });
      return x;
    }
    Tensor acc = *in[0];
    for (size_t i = 1; i < in.size(); ++i) {
      auto next = kernels::Binary(acc, *in[i], op);
      if (!next.ok()) return InvalidArgument(LayerName(layer_) + ": " + next.status().message());
      acc = std::move(next).value();
    }
    return acc;
  }

  Result<Tensor> Scale(const Tensor& x) {
    const spec::ScaleLayerParams& p = layer_.scale();
    ASSIGN_OR_RETURN(std::vector<float> sv, Weights(p.scale(), -1, layer_, "scale"));
    ASSIGN_OR_RETURN(Tensor s, ChannelParam(p.shapescale(), std::move(sv), layer_));
    auto out = kernels::Binary(x, s, [](float a, float b) { return a * b; });
    if (!out.ok()) return InvalidArgument(LayerName(layer_) + ": " + out.status().message());
    if (!p.hasbias()) return out;
    ASSIGN_OR_RETURN(std::vector<float> bv, Weights(p.bias(), -1, layer_, "bias"));
    ASSIGN_OR_RETURN(Tensor b, ChannelParam(p.shapebias(), std::move(bv), layer_));
    auto biased = kernels::Binary(*out, b, [](float a, float c) { return a + c; });
    if (!biased.ok()) return InvalidArgument(LayerName(layer_) + ": " + biased.status().message());
    return biased;
  }

  Result<Tensor> Bias(const Tensor& x) {
    const spec::BiasLayerParams& p = layer_.bias();
    ASSIGN_OR_RETURN(std::vector<float> bv, Weights(p.bias(), -1, layer_, "bias"));
    ASSIGN_OR_RETURN(Tensor b, ChannelParam(p.shape(), std::move(bv), layer_));
    auto out = kernels::Binary(x, b, [](float a, float c) { return a + c; });
    if (!out.ok()) return InvalidArgument(LayerName(layer_) + ": " + out.status().message());
    return out;
  }

  // CHW -> HWC of each (Seq, Batch) item, or back when `inverse`.
  static Tensor ChannelLast(const Tensor& x, bool inverse) {
    Tensor t = x;
    if (inverse) {
      t.shape = {x.shape[0], x.shape[1], x.shape[3], x.shape[4], x.shape[2]};
      return kernels::Transpose(t, {0, 1, 4, 2, 3});
    }
    return kernels::Transpose(t, {0, 1, 3, 4, 2});
  }

  Result<Tensor> Reshape(const Tensor& x) {
    const spec::ReshapeLayerParams& p = layer_.reshape();
    std::vector<int64_t> target(p.targetshape().begin(), p.targetshape().end());
    Tensor out;
    if (target.size() == 3) {
      out.shape = {x.shape[0], x.shape[1], target[0], target[1], target[2]};
    } else if (target.size() == 4) {
      out.shape = {target[0], x.shape[1], target[1], target[2], target[3]};
    } else {
      return InvalidArgument(LayerName(layer_) + ": targetShape needs 3 or 4 values");
    }
    if (out.size() != x.size()) {
      return InvalidArgument(LayerName(layer_) + " cannot reshape " + ShapeString(x.shape) +
                             " to " + ShapeString(out.shape));
    }
    if (p.mode() == spec::ReshapeLayerParams::CHANNEL_FIRST) {
      out.data = x.data;
      return out;
    }
    // CHANNEL_LAST: read in H, W, C order, write as [H', W', C'], then back to channel-first.
    Tensor hwc = ChannelLast(x, false);
    hwc.shape = {out.shape[0], out.shape[1], out.shape[kH], out.shape[kW], out.shape[kC]};
    return ChannelLast(hwc, true);
  }

  // axis[] indexes (Sequence, C, H, W); the blob is [Sequence, Batch, C, H, W].
  Result<Tensor> Permute(const Tensor& x) {
    const auto& axis = layer_.permute().axis();
    std::vector<int64_t> seen(4, 0);
    for (uint64_t a : axis) {
      if (a < 4) ++seen[a];
    }
    if (axis.size() != 4 || seen != std::vector<int64_t>(4, 1)) {
      return InvalidArgument(LayerName(layer_) + ": axis must be a permutation of 0, 1, 2, 3");
    }
    auto rank5 = [](uint64_t a) { return a == 0 ? int64_t{0} : static_cast<int64_t>(a) + 1; };
    return kernels::Transpose(
        x, {rank5(axis[0]), 1, rank5(axis[1]), rank5(axis[2]), rank5(axis[3])});
  }

  Result<Tensor> Flatten(const Tensor& x) {
    Tensor out = layer_.flatten().mode() == spec::FlattenLayerParams::CHANNEL_LAST
                     ? ChannelLast(x, false)
                     : x;
    out.shape = {x.shape[0], x.shape[1], x.shape[kC] * x.shape[kH] * x.shape[kW], 1, 1};
    return out;
  }

  Result<Tensor> Concat(const std::vector<const Tensor*>& in) {
    const int axis = layer_.concat().sequenceconcat() ? 0 : kC;
    for (const Tensor* t : in) {
      for (int d = 0; d < 5; ++d) {
        if (d != axis && t->shape[d] != in[0]->shape[d]) {
          return InvalidArgument(LayerName(layer_) + " cannot join " + ShapeString(in[0]->shape) +
                                 " and " + ShapeString(t->shape));
        }
      }
    }
    return kernels::Concat(in, axis);
  }

  const spec::NeuralNetworkLayer& layer_;
};

}  // namespace

std::string LayerName(const spec::NeuralNetworkLayer& layer) {
  return "layer '" + layer.name() + "'";
}

Result<Tensor> RunLayer(const spec::NeuralNetworkLayer& layer,
                        const std::vector<const Tensor*>& in) {
  return NetworkRunner(layer).Run(in);
}

bool IsVariadic(const spec::NeuralNetworkLayer& layer) {
  return NetworkRunner(layer).Variadic();
}

kernels::Window ConvolutionWindow(const spec::ConvolutionLayerParams& p) {
  kernels::Window win;
  win.kh = p.kernelsize_size() == 2 ? static_cast<int64_t>(p.kernelsize(0)) : 3;
  win.kw = p.kernelsize_size() == 2 ? static_cast<int64_t>(p.kernelsize(1)) : 3;
  if (p.stride_size() == 2) {
    win.sh = static_cast<int64_t>(p.stride(0));
    win.sw = static_cast<int64_t>(p.stride(1));
  }
  if (p.dilationfactor_size() == 2) {
    win.dh = static_cast<int64_t>(p.dilationfactor(0));
    win.dw = static_cast<int64_t>(p.dilationfactor(1));
  }
  return win;
}

}  // namespace ringo::coreml::internal
