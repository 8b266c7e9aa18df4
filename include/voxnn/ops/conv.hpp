#pragma once
// Convolution kernels on Tensors (no autograd), for N = 1, 2, 3 spatial dimensions, PyTorch layouts:
//   conv_forward      y  = conv(x, w) + b                x [B, Cin, in...], w [Cout, Cin/groups, k...]
//   conv_input_grad   gx = the adjoint of conv in x      (also the transposed convolution's forward)
//   conv_weight_grad  gw = the adjoint of conv in w
// All three run on backend/cpu/tap_conv.hpp. A strided convolution is a stride-1 one over a
// "phase-split" input: with stride s, padded input position o*s + k*d lives in phase (k*d) mod s at
// index o + (k*d) div s, so after splitting the padded input into its s^N phases every tap is a fixed
// offset. The input gradient is split the other way: each output phase r of gx is a stride-1
// convolution of gy with the taps whose k*d = r (mod s).
//
// Scratch memory per call: one padded, phase-split copy of one sample's input (for the weight
// gradient also one of the output gradient) plus packed weights and, for the weight gradient, one
// weight-sized set of partial sums per thread; never input size x kernel volume.
#include <array>
#include <vector>

#include "voxnn/backend/cpu/tap_conv.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/ops/reduce.hpp"
#include "voxnn/ops/window.hpp"

namespace voxnn::ops {

// Resolved geometry of an N-d convolution: padding may differ left and right ("same" with an even
// kernel), so both sides are kept.
template <int N>
struct ConvParams {
  std::array<int64_t, N> stride{}, pad_left{}, pad_right{}, dilation{};
  int64_t groups = 1;
};

namespace conv_detail {

inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// The geometry lifted to three dimensions (leading dimensions of size 1 for 1-D and 2-D).
struct Geometry {
  std::array<int64_t, 3> in{1, 1, 1}, out{1, 1, 1}, kernel{1, 1, 1}, stride{1, 1, 1}, pad{0, 0, 0},
      pad_right{0, 0, 0}, dilation{1, 1, 1};
  int64_t batch = 0, in_channels = 0, out_channels = 0, groups = 1;
  int64_t kernel_volume() const { return kernel[0] * kernel[1] * kernel[2]; }
  int64_t in_volume() const { return in[0] * in[1] * in[2]; }
  int64_t out_volume() const { return out[0] * out[1] * out[2]; }
};

template <int N>
Geometry lift(const ConvParams<N>& p, const Shape& x, const Shape& w, const Shape& y) {
  Geometry g;
  g.batch = x[0];
  g.in_channels = x[1];
  g.out_channels = w[0];
  g.groups = p.groups;
  for (int i = 0; i < N; ++i) {
    const int j = 3 - N + i;
    g.in[j] = x[2 + i];
    g.out[j] = y[2 + i];
    g.kernel[j] = w[2 + i];
    g.stride[j] = p.stride[i];
    g.pad[j] = p.pad_left[i];
    g.pad_right[j] = p.pad_right[i];
    g.dilation[j] = p.dilation[i];
  }
  return g;
}

// A volume split into phases: dst[c][phase (rd, rh, rw)][a][b][e] = src[c][a*sd + rd - pd][...] with
// zero outside src; `dims` is each phase's size. dst is filled completely, each channel taking
// `channel_stride` elements and each phase `phase_stride` (>= its volume); the gaps between them, and
// everything from channels * channel_stride to `extent`, are zeroed.
template <class T>
void phase_split(const T* src, int64_t channels, const std::array<int64_t, 3>& src_dims,
                 const std::array<int64_t, 3>& pad, const std::array<int64_t, 3>& stride,
                 const std::array<int64_t, 3>& dims, T* dst, int64_t phase_stride, int64_t channel_stride,
                 int64_t extent) {
  const int64_t sw = stride[2];
  const int64_t phase_volume = dims[0] * dims[1] * dims[2];
  const int64_t phases = stride[0] * stride[1] * stride[2];
  // One task per source row position (c, rd, rh, a, b); it writes that row's sw phases in turn, so
  // the source row is read from memory once.
  const int64_t rows = channels * stride[0] * stride[1] * dims[0] * dims[1];
  const int64_t src_volume = src_dims[0] * src_dims[1] * src_dims[2];
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(dims[2] * sw, 1)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t row = begin; row < end; ++row) {
                   int64_t rest = row;
                   const int64_t b = rest % dims[1];
                   rest /= dims[1];
                   const int64_t a = rest % dims[0];
                   rest /= dims[0];
                   const int64_t rh = rest % stride[1];
                   rest /= stride[1];
                   const int64_t rd = rest % stride[0];
                   const int64_t c = rest / stride[0];
                   const int64_t sd = a * stride[0] + rd - pad[0], sh = b * stride[1] + rh - pad[1];
                   const bool inside = sd >= 0 && sd < src_dims[0] && sh >= 0 && sh < src_dims[1];
                   const T* in = inside ? src + c * src_volume + (sd * src_dims[1] + sh) * src_dims[2] : nullptr;
                   for (int64_t rw = 0; rw < sw; ++rw) {
                     const int64_t phase = (rd * stride[1] + rh) * sw + rw;
                     T* out = dst + c * channel_stride + phase * phase_stride + (a * dims[1] + b) * dims[2];
                     if (!inside) {
                       std::fill(out, out + dims[2], T(0));
                       continue;
                     }
                     // columns e with 0 <= e*sw + rw - pw < W
                     const int64_t off = rw - pad[2];
                     const int64_t e0 = std::clamp<int64_t>(floor_div(-off + sw - 1, sw), 0, dims[2]);
                     const int64_t e1 = std::clamp<int64_t>(floor_div(src_dims[2] - 1 - off, sw) + 1, e0, dims[2]);
                     std::fill(out, out + e0, T(0));
                     if (sw == 1) std::copy(in + e0 + off, in + e1 + off, out + e0);
                     else if (sw == 2)  // a constant stride the compiler vectorises (the common case)
                       for (int64_t e = e0; e < e1; ++e) out[e] = in[2 * e + off];
                     else
                       for (int64_t e = e0; e < e1; ++e) out[e] = in[e * sw + off];
                     std::fill(out + e1, out + dims[2], T(0));
                   }
                 }
               });
  for (int64_t c = 0; c < channels; ++c) {
    T* channel = dst + c * channel_stride;
    for (int64_t phase = 0; phase < phases; ++phase)
      std::fill(channel + phase * phase_stride + phase_volume, channel + (phase + 1) * phase_stride, T(0));
    std::fill(channel + phases * phase_stride, channel + channel_stride, T(0));
  }
  std::fill(dst + channels * channel_stride, dst + extent, T(0));
}

// A buffer stride of at least n, a multiple of 16 elements (rows stay 64-byte aligned) but not of a
// large power of two: the kernels read many channels or phases at once, and streams a power of two
// apart would share cache sets.
inline int64_t skewed_stride(int64_t n) {
  const int64_t aligned = (n + 15) / 16 * 16;
  return aligned % 1024 == 0 ? aligned + 16 : aligned;
}

// The forward problem's layout: phase-split padded input and one offset per kernel tap.
struct ForwardLayout {
  std::array<int64_t, 3> phase_dims{};  // each phase's size
  int64_t phase_stride = 0;             // a phase's volume, skewed
  int64_t channel_stride = 0;           // phases * phase_stride, skewed
  std::vector<int64_t> offsets;         // per tap, in kernel order
  int64_t max_offset = 0;
};

inline ForwardLayout forward_layout(const Geometry& g) {
  ForwardLayout L;
  for (int i = 0; i < 3; ++i) {
    const int64_t padded = g.in[i] + g.pad[i] + g.pad_right[i];
    L.phase_dims[i] = std::max<int64_t>((padded + g.stride[i] - 1) / g.stride[i], 1);
  }
  const int64_t phase_volume = L.phase_dims[0] * L.phase_dims[1] * L.phase_dims[2];
  L.phase_stride = skewed_stride(phase_volume);
  L.channel_stride = skewed_stride(g.stride[0] * g.stride[1] * g.stride[2] * L.phase_stride);
  for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
    for (int64_t kh = 0; kh < g.kernel[1]; ++kh)
      for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
        const std::array<int64_t, 3> k{kd, kh, kw};
        int64_t phase = 0, shift = 0;
        for (int i = 0; i < 3; ++i) {
          const int64_t at = k[static_cast<std::size_t>(i)] * g.dilation[i];
          phase = phase * g.stride[i] + at % g.stride[i];
          shift = shift * L.phase_dims[i] + at / g.stride[i];
        }
        L.offsets.push_back(phase * L.phase_stride + shift);
        L.max_offset = std::max(L.max_offset, L.offsets.back());
      }
  return L;
}

template <class T>
int64_t forward_read_extent(const Geometry& g, const ForwardLayout& L) {
  const int64_t cin_g = g.in_channels / g.groups;
  const int64_t plane = L.phase_dims[1] * L.phase_dims[2];
  const int64_t per_group = backend::cpu::tap_conv_read_extent<T>(cin_g, L.channel_stride, L.max_offset, g.out[0],
                                                                  plane, g.out[1], L.phase_dims[2], g.out[2]);
  // the weight gradient reads whole planes of every tap's shifted input
  const int64_t whole = (cin_g - 1) * L.channel_stride + g.out[0] * plane + L.max_offset;
  return std::max(g.in_channels * L.channel_stride, (g.groups - 1) * cin_g * L.channel_stride + std::max(per_group, whole));
}

template <int N>
void check_weight(const char* op, const Shape& x, const Shape& w, int64_t groups) {
  VOXNN_CHECK(x.size() == N + 2, op, ": input has ", x.size(), " dims ", x, "; expected ", N + 2);
  VOXNN_CHECK(w.size() == N + 2, op, ": weight has ", w.size(), " dims ", w, "; expected ", N + 2,
              " (Cout, Cin/groups, k...)");
  VOXNN_CHECK(groups >= 1, op, ": groups must be positive, got ", groups);
  for (int i = 2; i < N + 2; ++i) VOXNN_CHECK(w[i] > 0, op, ": weight ", w, " has an empty kernel");
  VOXNN_CHECK(w[0] % groups == 0, op, ": weight ", w, " has ", w[0], " output channels, not divisible by groups = ", groups);
  VOXNN_CHECK(x[1] == w[1] * groups, op, ": input ", x, " has ", x[1], " channels; weight ", w, " with groups = ",
              groups, " expects ", w[1] * groups);
}

template <int N>
void check_params(const char* op, const ConvParams<N>& p) {
  for (int i = 0; i < N; ++i) {
    VOXNN_CHECK(p.stride[i] >= 1, op, ": stride must be positive, got ", p.stride[i]);
    VOXNN_CHECK(p.dilation[i] >= 1, op, ": dilation must be positive, got ", p.dilation[i]);
    // pad_right may be negative: a transposed convolution with output_padding > padding is the adjoint
    // of a convolution that ignores the input's last output_padding - padding elements.
    VOXNN_CHECK(p.pad_left[i] >= 0, op, ": padding must be non-negative, got ", p.pad_left[i]);
  }
}

}  // namespace conv_detail

// Output shape of conv_forward.
template <int N>
Shape conv_output_shape(const Shape& x, const Shape& w, const ConvParams<N>& p, const char* op = "conv") {
  conv_detail::check_params<N>(op, p);
  conv_detail::check_weight<N>(op, x, w, p.groups);
  Shape y = x;
  y[1] = w[0];
  for (int i = 0; i < N; ++i) {
    const int64_t span = x[2 + i] + p.pad_left[i] + p.pad_right[i] - p.dilation[i] * (w[2 + i] - 1) - 1;
    VOXNN_CHECK(span >= 0, op, ": input ", x, " padded by ", p.pad_left[i], "+", p.pad_right[i],
                " is smaller than the dilated kernel of weight ", w, " in spatial dim ", i);
    y[2 + i] = span / p.stride[i] + 1;
  }
  return y;
}

// y = conv(x, w) + bias; x [B, Cin, in...], w [Cout, Cin/groups, k...], bias [Cout] or undefined.
template <int N, Real T>
Tensor<T> conv_forward(const Tensor<T>& input, const Tensor<T>& weight, const Tensor<T>& bias, const ConvParams<N>& p,
                       const char* op = "conv") {
  using namespace conv_detail;
  const Shape out_shape = conv_output_shape<N>(input.shape(), weight.shape(), p, op);
  VOXNN_CHECK(!bias.defined() || (bias.dim() == 1 && bias.numel() == weight.size(0)), op, ": bias ",
              bias.defined() ? bias.shape() : Shape{}, " does not match the ", weight.size(0), " output channels");
  Tensor<T> y = empty<T>(out_shape);
  if (y.numel() == 0) return y;
  const Tensor<T> x = input.contiguous(), w = weight.contiguous();
  const Tensor<T> b = bias.defined() ? bias.contiguous() : bias;
  const Geometry g = lift<N>(p, x.shape(), w.shape(), y.shape());
  const ForwardLayout L = forward_layout(g);
  const int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const int64_t K = g.kernel_volume();
  const int64_t extent = forward_read_extent<T>(g, L);
  // scratch from the caching allocator, left uninitialised: phase_split writes every element
  const Tensor<T> buffer = empty<T>(Shape{extent});

  backend::cpu::TapConvProblem<T> prob;
  prob.x_channel_stride = L.channel_stride;
  prob.in_channels = cin_g;
  prob.offsets = L.offsets;
  prob.w_out_stride = cin_g * K;
  prob.w_in_stride = K;
  for (int64_t t = 0; t < K; ++t) prob.w_tap_index.push_back(t);
  prob.out_channels = cout_g;
  prob.planes = g.out[0];
  prob.plane_stride = L.phase_dims[1] * L.phase_dims[2];
  prob.rows = g.out[1];
  prob.row_stride = L.phase_dims[2];
  prob.cols = g.out[2];
  prob.y_channel_stride = g.out_volume();
  prob.y_plane = g.out[1] * g.out[2];
  prob.y_row = g.out[2];
  prob.y_col = 1;
  for (int64_t n = 0; n < g.batch; ++n) {
    phase_split(x.data() + n * g.in_channels * g.in_volume(), g.in_channels, g.in, g.pad, g.stride, L.phase_dims,
                buffer.data(), L.phase_stride, L.channel_stride, extent);
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      prob.x = buffer.data() + grp * cin_g * L.channel_stride;
      prob.weight = w.data() + grp * cout_g * cin_g * K;
      prob.bias = b.defined() ? b.data() + grp * cout_g : nullptr;
      prob.y = y.data() + (n * g.out_channels + grp * cout_g) * g.out_volume();
      backend::cpu::tap_conv(prob);
    }
  }
  return y;
}

// The adjoint of conv_forward in x (no bias): gx of shape input_shape from gy. With a bias, this is
// the transposed convolution's forward (bias per gx channel, [Cin]).
template <int N, Real T>
Tensor<T> conv_input_grad(const Tensor<T>& grad_output, const Tensor<T>& weight, const Shape& input_shape,
                          const ConvParams<N>& p, const Tensor<T>& bias = {}, const char* op = "conv_input_grad") {
  using namespace conv_detail;
  check_params<N>(op, p);
  check_weight<N>(op, input_shape, weight.shape(), p.groups);
  const Shape expected = conv_output_shape<N>(input_shape, weight.shape(), p, op);
  VOXNN_CHECK(grad_output.shape() == expected, op, ": input ", grad_output.shape(), " does not match the ", expected,
              " that a convolution of ", input_shape, " with weight ", weight.shape(), " produces");
  VOXNN_CHECK(!bias.defined() || (bias.dim() == 1 && bias.numel() == input_shape[1]), op, ": bias ",
              bias.defined() ? bias.shape() : Shape{}, " does not match the ", input_shape[1], " output channels");
  Tensor<T> gx = empty<T>(input_shape);
  if (gx.numel() == 0) return gx;
  const Tensor<T> gy = grad_output.contiguous(), w = weight.contiguous();
  const Tensor<T> b = bias.defined() ? bias.contiguous() : bias;
  const Geometry g = lift<N>(p, input_shape, w.shape(), gy.shape());
  const int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const int64_t K = g.kernel_volume();

  // gy padded on the left by J = max tap shift, long enough for every phase's reads.
  std::array<int64_t, 3> J{}, padded{};
  for (int i = 0; i < 3; ++i) {
    J[i] = (g.kernel[i] - 1) * g.dilation[i] / g.stride[i];
    const int64_t m_max = floor_div(g.in[i] - 1 + g.pad[i], g.stride[i]);
    padded[i] = J[i] + std::max(g.out[i], m_max + 1);
  }
  const int64_t gy_volume = padded[0] * padded[1] * padded[2];
  const int64_t gy_stride = skewed_stride(gy_volume);

  // One tap-conv problem per output phase (rd, rh, rw).
  struct Phase {
    std::array<int64_t, 3> first{}, count{}, origin{};
    std::vector<int64_t> offsets, taps;
  };
  std::vector<Phase> phases;
  int64_t extent = g.out_channels * gy_stride;
  for (int64_t rd = 0; rd < g.stride[0]; ++rd)
    for (int64_t rh = 0; rh < g.stride[1]; ++rh)
      for (int64_t rw = 0; rw < g.stride[2]; ++rw) {
        const std::array<int64_t, 3> r{rd, rh, rw};
        Phase ph;
        std::array<std::vector<int64_t>, 3> ks, shift;
        bool empty_phase = false;
        for (int i = 0; i < 3; ++i) {
          ph.first[i] = floor_div(g.pad[i] - r[i] + g.stride[i] - 1, g.stride[i]);
          const int64_t last = floor_div(g.in[i] - 1 + g.pad[i] - r[i], g.stride[i]);
          ph.count[i] = std::max<int64_t>(0, last - ph.first[i] + 1);
          ph.origin[i] = g.stride[i] * ph.first[i] + r[i] - g.pad[i];
          empty_phase = empty_phase || ph.count[i] == 0;
          for (int64_t k = 0; k < g.kernel[i]; ++k)
            if ((k * g.dilation[i]) % g.stride[i] == r[i]) {
              ks[i].push_back(k);
              shift[i].push_back(ph.first[i] + J[i] - (k * g.dilation[i] - r[i]) / g.stride[i]);
            }
        }
        if (empty_phase) continue;
        int64_t max_offset = 0;
        for (std::size_t a = 0; a < ks[0].size(); ++a)
          for (std::size_t b2 = 0; b2 < ks[1].size(); ++b2)
            for (std::size_t c = 0; c < ks[2].size(); ++c) {
              ph.offsets.push_back((shift[0][a] * padded[1] + shift[1][b2]) * padded[2] + shift[2][c]);
              ph.taps.push_back((ks[0][a] * g.kernel[1] + ks[1][b2]) * g.kernel[2] + ks[2][c]);
              max_offset = std::max(max_offset, ph.offsets.back());
            }
        extent = std::max(extent, (g.groups - 1) * cout_g * gy_stride +
                                      backend::cpu::tap_conv_read_extent<T>(cout_g, gy_stride, max_offset, ph.count[0],
                                                                            padded[1] * padded[2], ph.count[1],
                                                                            padded[2], ph.count[2]));
        phases.push_back(std::move(ph));
      }

  // scratch from the caching allocator, left uninitialised: phase_split writes every element
  const Tensor<T> buffer = empty<T>(Shape{extent});
  backend::cpu::TapConvProblem<T> prob;
  prob.x_channel_stride = gy_stride;
  prob.in_channels = cout_g;
  prob.w_out_stride = K;
  prob.w_in_stride = cin_g * K;
  prob.out_channels = cin_g;
  prob.plane_stride = padded[1] * padded[2];
  prob.row_stride = padded[2];
  prob.y_channel_stride = g.in_volume();
  const std::array<int64_t, 3> one{1, 1, 1};
  for (int64_t n = 0; n < g.batch; ++n) {
    phase_split(gy.data() + n * g.out_channels * g.out_volume(), g.out_channels, g.out, J, one, padded,
                buffer.data(), gy_volume, gy_stride, extent);
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      prob.x = buffer.data() + grp * cout_g * gy_stride;
      prob.weight = w.data() + grp * cout_g * cin_g * K;
      prob.bias = b.defined() ? b.data() + grp * cin_g : nullptr;
      T* gx_group = gx.data() + (n * g.in_channels + grp * cin_g) * g.in_volume();
      for (const Phase& ph : phases) {
        prob.offsets = ph.offsets;
        prob.w_tap_index = ph.taps;
        prob.planes = ph.count[0];
        prob.rows = ph.count[1];
        prob.cols = ph.count[2];
        prob.y = gx_group;
        // phase position m sits at gx index s * (first + m) + r - pad in each dimension
        prob.y_offset = ((ph.origin[0] * g.in[1]) + ph.origin[1]) * g.in[2] + ph.origin[2];
        prob.y_plane = g.stride[0] * g.in[1] * g.in[2];
        prob.y_row = g.stride[1] * g.in[2];
        prob.y_col = g.stride[2];
        backend::cpu::tap_conv(prob);
      }
    }
  }
  return gx;
}

// The adjoint of conv_forward in w: gw [Cout, Cin/groups, k...] = sum over batch and positions of
// gy(co, o) * x(ci, o*s + k*d - pad). Per tap this is a product over all positions, C_t[co][ci] +=
// gy[co][q] * X[ci][q + offset_t], of the forward's phase-split input X and gy spread onto the same
// position grid (zeros where the grid has padding); backend/cpu/tap_conv.hpp runs it.
template <int N, Real T>
Tensor<T> conv_weight_grad(const Tensor<T>& input, const Tensor<T>& grad_output, const Shape& weight_shape,
                           const ConvParams<N>& p, const char* op = "conv_weight_grad") {
  using namespace conv_detail;
  const Shape expected = conv_output_shape<N>(input.shape(), weight_shape, p, op);
  VOXNN_CHECK(grad_output.shape() == expected, op, ": grad_output ", grad_output.shape(), " does not match the ",
              expected, " that a convolution of ", input.shape(), " with weight ", weight_shape, " produces");
  Tensor<T> gw = zeros<T>(weight_shape);
  if (gw.numel() == 0 || grad_output.numel() == 0) return gw;
  const Tensor<T> x = input.contiguous(), gy = grad_output.contiguous();
  const Geometry g = lift<N>(p, x.shape(), weight_shape, gy.shape());
  const ForwardLayout L = forward_layout(g);
  const int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const int64_t K = g.kernel_volume();
  const int64_t taps = static_cast<int64_t>(L.offsets.size());
  const int64_t extent = forward_read_extent<T>(g, L);
  const Tensor<T> xbuf = empty<T>(Shape{extent});  // both filled completely by phase_split
  // gy on the forward's position grid: planes of phase_dims[1] x phase_dims[2], zeros past the valid part
  const std::array<int64_t, 3> grid{g.out[0], L.phase_dims[1], L.phase_dims[2]};
  const int64_t positions = grid[0] * grid[1] * grid[2];
  const int64_t gy_stride = skewed_stride(positions);
  const Tensor<T> gybuf = empty<T>(Shape{g.out_channels * gy_stride});
  const std::array<int64_t, 3> zero{0, 0, 0}, one{1, 1, 1};

  // Sums per group as [t][co][ci] (co within the group), one set per slot of consecutive chunks, added
  // up at the end in slot order. Slots, not threads, own the sums, so that the result does not depend
  // on which thread ran which chunk: training is reproducible (up to 8 threads, bit for bit).
  const int64_t group_block = taps * cout_g * cin_g;
  const auto partial_size = static_cast<std::size_t>(g.groups * group_block);
  constexpr int64_t kChunk = 2048;  // positions per task: long enough to hide the final horizontal sums
  const int64_t chunks = (positions + kChunk - 1) / kChunk;
  const int64_t slots = std::min<int64_t>(chunks, std::max(8, num_threads()));
  std::vector<T> partials(partial_size * static_cast<std::size_t>(slots), T(0));
  for (int64_t n = 0; n < g.batch; ++n) {
    phase_split(x.data() + n * g.in_channels * g.in_volume(), g.in_channels, g.in, g.pad, g.stride, L.phase_dims,
                xbuf.data(), L.phase_stride, L.channel_stride, extent);
    phase_split(gy.data() + n * g.out_channels * g.out_volume(), g.out_channels, g.out, zero, one, grid, gybuf.data(),
                positions, gy_stride, g.out_channels * gy_stride);
    auto slot = [&](int64_t sl) {
      T* part = partials.data() + static_cast<std::size_t>(sl) * partial_size;
      for (int64_t c = chunks * sl / slots; c < chunks * (sl + 1) / slots; ++c) {
        const int64_t q0 = c * kChunk, len = std::min(kChunk, positions - q0);
        for (int64_t grp = 0; grp < g.groups; ++grp)
          backend::cpu::tap_conv_weight_grad<T>(gybuf.data() + grp * cout_g * gy_stride + q0, gy_stride, cout_g,
                                                xbuf.data() + grp * cin_g * L.channel_stride + q0, L.channel_stride,
                                                cin_g, L.offsets, len, part + grp * group_block);
      }
    };
    if (2 * positions * cout_g * cin_g * taps * g.groups < (int64_t{1} << 21))
      for (int64_t sl = 0; sl < slots; ++sl) slot(sl);
    else
      parallel_for_each_dynamic(0, slots, slot);
  }
  std::vector<T> total(partial_size, T(0));
  for (std::size_t k = 0; k < partials.size(); ++k) total[k % partial_size] += partials[k];
  T* out = gw.data();
  for (int64_t co = 0; co < g.out_channels; ++co) {
    const T* group = total.data() + (co / cout_g) * group_block;
    for (int64_t ci = 0; ci < cin_g; ++ci)
      for (int64_t t = 0; t < taps; ++t) out[(co * cin_g + ci) * K + t] = group[(t * cout_g + co % cout_g) * cin_g + ci];
  }
  return gw;
}

}  // namespace voxnn::ops
