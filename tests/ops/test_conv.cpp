// Convolutions against torch.nn.functional: conv1d/2d/3d and conv_transpose1d/2d/3d forward values
// and input, weight and bias gradients in float and double; gradcheck and gradgradcheck in double on
// the same cases; nn modules (every padding_mode, state_dict names, default init bounds); errors.
// Fixtures: tests/fixtures/gen_ops_conv.py.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/gradients.hpp"
#include "voxnn/autograd/functions/conv.hpp"
#include "voxnn/autograd/gradcheck.hpp"
#include "voxnn/nn/conv.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;

namespace {

const char* const kFile = "ops_conv.safetensors";

template <int N>
ConvPadding<N> padding_of(const test::FixtureCase& c) {
  if (!c.has("padding")) return 0;
  const auto& v = c.param("padding");
  if (v.is_string()) return v.string();
  if (v.is_integer()) return v.integer();
  return ExpandingArray<N>(test::json_ints(v));
}
template <int N>
ExpandingArray<N> sizes_of(const test::FixtureCase& c, const char* key, int64_t fallback) {
  if (!c.has(key)) return fallback;
  const auto& v = c.param(key);
  if (v.is_integer()) return v.integer();
  return ExpandingArray<N>(test::json_ints(v));
}

template <int N>
ConvFuncOptions<N> conv_options(const test::FixtureCase& c) {
  return {.stride = sizes_of<N>(c, "stride", 1), .padding = padding_of<N>(c), .dilation = sizes_of<N>(c, "dilation", 1),
          .groups = c.has("groups") ? c.integer("groups") : 1};
}
template <int N>
ConvTransposeFuncOptions<N> transpose_options(const test::FixtureCase& c) {
  return {.stride = sizes_of<N>(c, "stride", 1), .padding = sizes_of<N>(c, "padding", 0),
          .output_padding = sizes_of<N>(c, "output_padding", 0), .groups = c.has("groups") ? c.integer("groups") : 1,
          .dilation = sizes_of<N>(c, "dilation", 1)};
}

// The case's op on the given (already viewed) inputs: x, w and, with a bias, b.
template <int N, class T>
Var<T> run(const test::FixtureCase& c, const std::vector<Var<T>>& in) {
  const Var<T> b = c.flag("bias") ? in[2] : Var<T>();
  if (c.op().starts_with("conv_transpose")) return conv_transpose<N>(in[0], in[1], b, transpose_options<N>(c));
  return conv<N>(in[0], in[1], b, conv_options<N>(c));
}

template <int N, class T>
void check_case(const test::FixtureCase& c) {
  INFO("case " << c.name());
  const int n = c.num_inputs() - 1;  // the last input is grad_output
  std::vector<Var<T>> in;
  for (int i = 0; i < n; ++i) in.emplace_back(c.input<T>(i), true);
  const Var<T> y = run<N, T>(c, in);
  c.check<T>(y.value(), 0);
  const auto grads = grad<T, Cpu>({y}, in, {c.input<T>(n)});
  for (int i = 0; i < n; ++i) {
    INFO("gradient of input " << i);
    c.check<T>(grads[static_cast<std::size_t>(i)].value(), i + 1);
  }
}

template <int N>
void check_finite_differences(const test::FixtureCase& c) {
  INFO("case " << c.name());
  const int n = c.num_inputs() - 1;
  std::vector<Var<double>> in;
  for (int i = 0; i < n; ++i) in.emplace_back(c.input<double>(i).contiguous(), true);
  const GradcheckFn f = [&](const std::vector<Var<double>>& xs) { return run<N, double>(c, xs); };
  test::check_gradients(f, in);
}

template <class Fn>
int for_each_case(Fn&& fn) {
  int count = 0;
  for (const char* op : {"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"})
    for (const auto& c : test::fixture_cases(kFile, op)) {
      const char dims = std::string(op).back() == 'd' ? std::string(op)[std::string(op).size() - 2] : '0';
      if (dims == '1') fn.template operator()<1>(c);
      else if (dims == '2') fn.template operator()<2>(c);
      else fn.template operator()<3>(c);
      ++count;
    }
  return count;
}

}  // namespace

TEMPLATE_TEST_CASE("conv and conv_transpose match torch.nn.functional, gradients included", "[ops][conv]", float,
                   double) {
  const int count = for_each_case([]<int N>(const test::FixtureCase& c) { check_case<N, TestType>(c); });
  CHECK(count == 36);
}

TEST_CASE("conv and conv_transpose pass gradcheck and gradgradcheck", "[ops][conv][gradcheck]") {
  for_each_case([]<int N>(const test::FixtureCase& c) { check_finite_differences<N>(c); });
}

TEST_CASE("conv reports bad shapes naming the op and the shapes", "[ops][conv]") {
  const Var<float> x(zeros<float>({1, 3, 4, 4, 4})), w(zeros<float>({2, 4, 3, 3, 3}));
  CHECK_THROWS_WITH(conv3d(x, w), Contains("conv3d") && Contains("[1, 3, 4, 4, 4]") && Contains("[2, 4, 3, 3, 3]"));
  CHECK_THROWS_WITH(conv3d(Var<float>(zeros<float>({3, 4, 4})), w), Contains("conv3d: input has 3 dims"));
  const Var<float> w3(zeros<float>({2, 3, 5, 5, 5}));
  CHECK_THROWS_WITH(conv3d(x, w3), Contains("smaller than the dilated kernel"));
  CHECK_THROWS_WITH(conv3d(x, Var<float>(zeros<float>({2, 3, 3, 3, 3})), Var<float>(zeros<float>({3}))),
                    Contains("bias [3]"));
  CHECK_THROWS_WITH(conv3d(x, Var<float>(zeros<float>({2, 3, 3, 3, 3})), {}, {.stride = 2, .padding = "same"}),
                    Contains("'same' is not supported for strided"));
  CHECK_THROWS_WITH(conv3d(x, Var<float>(zeros<float>({3, 1, 3, 3, 3})), {}, {.groups = 2}),
                    Contains("not divisible by groups = 2"));
  CHECK_THROWS_WITH(conv_transpose3d(x, Var<float>(zeros<float>({3, 2, 2, 2, 2})), {}, {.stride = 2, .output_padding = 2}),
                    Contains("output_padding 2 must be smaller"));
}

TEMPLATE_TEST_CASE("Conv2d and Conv3d modules match torch.nn with every padding_mode", "[ops][conv][nn]", float, double) {
  using T = TestType;
  int count = 0;
  auto check = [&]<int N>(const test::FixtureCase& c) {
    INFO("case " << c.name());
    nn::ConvNd<N, T> m({.in_channels = 2, .out_channels = 3, .kernel_size = 3, .stride = sizes_of<N>(c, "stride", 1),
                        .padding = padding_of<N>(c), .dilation = sizes_of<N>(c, "dilation", 1),
                        .padding_mode = c.string("padding_mode")});
    nn::StateDict<T> sd;
    sd.insert("weight", c.input<T>(1));
    sd.insert("bias", c.input<T>(2));
    m.load_state_dict(sd);
    const Var<T> x(c.input<T>(0), true);
    const Var<T> y = m(x);
    c.check<T>(y.value(), 0);
    const auto grads = grad<T, Cpu>({y}, {x, m.weight, m.bias}, {c.input<T>(3)});
    for (int i = 0; i < 3; ++i) c.check<T>(grads[static_cast<std::size_t>(i)].value(), i + 1);
    ++count;
  };
  for (const auto& c : test::fixture_cases(kFile, "Conv2d")) check.template operator()<2>(c);
  for (const auto& c : test::fixture_cases(kFile, "Conv3d")) check.template operator()<3>(c);
  CHECK(count == 8);
}

TEST_CASE("conv modules: PyTorch parameter names, shapes and default init", "[ops][conv][nn]") {
  struct Net : nn::Module<float> {
    nn::Conv3d<float> enc{this, "enc", {.in_channels = 4, .out_channels = 8, .kernel_size = 3, .padding = 1}};
    nn::ConvTranspose3d<float> up{this, "up", {.in_channels = 8, .out_channels = 6, .kernel_size = 2, .stride = 2,
                                               .groups = 2, .bias = false}};
    nn::Conv1d<float> head{this, "head", {.in_channels = 6, .out_channels = 1, .kernel_size = {5}, .padding = "same"}};
  } net;
  const auto named = net.named_parameters();
  REQUIRE(named.size() == 5);
  CHECK(named[0].first == "enc.weight");
  CHECK(named[0].second.shape() == Shape{8, 4, 3, 3, 3});
  CHECK(named[1].first == "enc.bias");
  CHECK(named[2].first == "up.weight");
  CHECK(named[2].second.shape() == Shape{8, 3, 2, 2, 2});
  CHECK(named[3].first == "head.weight");
  CHECK(named[4].first == "head.bias");
  // kaiming_uniform(a = sqrt(5)) gives the bound 1 / sqrt(fan_in); the bias shares it
  const double bound = 1.0 / std::sqrt(4.0 * 27.0);
  for (const auto& v : net.enc.weight.value().to_vector()) REQUIRE(std::abs(v) <= bound);
  for (const auto& v : net.enc.bias.value().to_vector()) REQUIRE(std::abs(v) <= bound);
  const Var<float> x(randn<float>({2, 4, 3, 4, 5}));
  CHECK(net.up(net.enc(x)).shape() == Shape{2, 6, 6, 8, 10});
  CHECK(net.up.forward(net.enc(x), {7, 9, 11}).shape() == Shape{2, 6, 7, 9, 11});
  CHECK_THROWS_WITH(net.up.forward(net.enc(x), {8, 8, 10}), Contains("outside the range [6, 7]"));
  // unbatched input, also through a padding mode that needs the batch dim
  nn::Conv2d<float> circular({.in_channels = 4, .out_channels = 2, .kernel_size = 3, .padding = 1,
                              .padding_mode = "circular"});
  const Var<float> image(randn<float>({4, 5, 6}));
  CHECK(test::compare(circular(image).value(), squeeze(circular(unsqueeze(image, 0)), 0).value(), 0.0).ok);
  CHECK_THROWS_WITH(nn::Conv2d<float>({.in_channels = 3, .out_channels = 4, .kernel_size = 3, .groups = 2}),
                    Contains("Conv2d: in_channels 3 and out_channels 4 must both be divisible by groups = 2"));
  CHECK_THROWS_WITH(nn::Conv2d<float>({.in_channels = 2, .out_channels = 2, .padding_mode = "mirror"}),
                    Contains("padding_mode must be"));
}

namespace {

// Direct loops over the definition, for volumes large enough to take every tiling path of the
// kernel (several tiles and items per plane, partial tiles, channel blocks with a remainder).
Tensor<double> naive_conv3d(const Tensor<double>& x, const Tensor<double>& w, const ops::ConvParams<3>& p,
                            const Shape& out_shape) {
  Tensor<double> y = zeros<double>(out_shape);
  const int64_t cin_g = w.size(1), cout_g = w.size(0) / p.groups;
  for (int64_t n = 0; n < y.size(0); ++n)
    for (int64_t co = 0; co < y.size(1); ++co)
      for (int64_t od = 0; od < y.size(2); ++od)
        for (int64_t oh = 0; oh < y.size(3); ++oh)
          for (int64_t ow = 0; ow < y.size(4); ++ow) {
            double acc = 0;
            for (int64_t ci = 0; ci < cin_g; ++ci)
              for (int64_t kd = 0; kd < w.size(2); ++kd)
                for (int64_t kh = 0; kh < w.size(3); ++kh)
                  for (int64_t kw = 0; kw < w.size(4); ++kw) {
                    const int64_t d = od * p.stride[0] - p.pad_left[0] + kd * p.dilation[0];
                    const int64_t h = oh * p.stride[1] - p.pad_left[1] + kh * p.dilation[1];
                    const int64_t ww = ow * p.stride[2] - p.pad_left[2] + kw * p.dilation[2];
                    if (d < 0 || h < 0 || ww < 0 || d >= x.size(2) || h >= x.size(3) || ww >= x.size(4)) continue;
                    acc += w.at({co, ci, kd, kh, kw}) * x.at({n, (co / cout_g) * cin_g + ci, d, h, ww});
                  }
            y.at({n, co, od, oh, ow}) = acc;
          }
  return y;
}

double dot(const Tensor<double>& a, const Tensor<double>& b) { return ops::sum(ops::mul(a, b)).item(); }

}  // namespace

TEST_CASE("conv3d's weight gradient does not depend on the thread count or the thread that ran a chunk",
          "[ops][conv]") {
  // Large enough to run in parallel over several chunks of positions: each slot of chunks sums on
  // its own, so 1, 2 and 3 threads (and two runs on 2) give the same bits.
  manual_seed(3);
  const Tensor<float> x = randn<float>({2, 4, 24, 24, 24}), w = randn<float>({8, 4, 3, 3, 3});
  const ops::ConvParams<3> p{.stride = {1, 1, 1}, .pad_left = {1, 1, 1}, .pad_right = {1, 1, 1}, .dilation = {1, 1, 1}};
  const Tensor<float> g = randn<float>(ops::conv_forward<3>(x, w, Tensor<float>(), p).shape());
  const int saved = num_threads();
  set_num_threads(1);
  const std::vector<float> one = ops::conv_weight_grad<3>(x, g, w.shape(), p).to_vector();
  for (const int threads : {2, 3, 2}) {
    INFO("threads " << threads);
    set_num_threads(threads);
    CHECK(ops::conv_weight_grad<3>(x, g, w.shape(), p).to_vector() == one);
  }
  set_num_threads(saved);
}

TEST_CASE("conv3d on volumes with many tiles matches direct loops, and its adjoints are adjoint",
          "[ops][conv]") {
  struct Case {
    Shape x, w;
    std::array<int64_t, 3> stride, pad, dilation;
    int64_t groups;
  };
  const Case cases[] = {
      {{2, 5, 9, 21, 23}, {7, 5, 3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, 1},
      {{1, 6, 10, 19, 26}, {10, 3, 3, 2, 3}, {2, 1, 3}, {1, 0, 2}, {1, 2, 1}, 2},
      {{1, 4, 7, 33, 40}, {5, 4, 1, 3, 5}, {1, 2, 1}, {0, 2, 2}, {1, 1, 2}, 1},
  };
  for (const int threads : {1, 2}) {
    const int saved = num_threads();
    set_num_threads(threads);
    for (const auto& c : cases) {
      INFO("input " << c.x << ", weight " << c.w << ", threads " << threads);
      manual_seed(7);
      const Tensor<double> x = randn<double>(c.x), w = randn<double>(c.w);
      ops::ConvParams<3> p{.stride = c.stride, .pad_left = c.pad, .pad_right = c.pad, .dilation = c.dilation,
                           .groups = c.groups};
      const Tensor<double> y = ops::conv_forward<3>(x, w, Tensor<double>(), p);
      test::require_close(y, naive_conv3d(x, w, p, y.shape()), 1e-10, "forward");
      // <C(x, w), g> = <x, C^T(g, w)> = <w, W(x, g)>
      const Tensor<double> g = randn<double>(y.shape());
      const double lhs = dot(y, g);
      CHECK(std::abs(lhs - dot(x, ops::conv_input_grad<3>(g, w, x.shape(), p))) < 1e-8 * std::abs(lhs) + 1e-8);
      CHECK(std::abs(lhs - dot(w, ops::conv_weight_grad<3>(x, g, w.shape(), p))) < 1e-8 * std::abs(lhs) + 1e-8);
      // float takes the same paths with twice the lanes
      const Tensor<float> yf = ops::conv_forward<3>(ops::cast<float>(x), ops::cast<float>(w), Tensor<float>(), p);
      test::require_close(yf, y, 1e-3, "float forward");
    }
    set_num_threads(saved);
  }
}
