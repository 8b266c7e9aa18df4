#pragma once
// Elementwise kernels with NumPy broadcasting: map (unary), zip (binary), zip3 (ternary), each with an
// `_into` form that writes into an existing tensor (in-place and out= use), and the named math ops.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include <Eigen/Core>

#include "voxnn/backend/cpu/simd.hpp"
#include "voxnn/core/diagnostics.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn::ops {

namespace detail {
// Outputs at least this large, written by an op that does not read them, go out through non-temporal
// (streaming) stores: they cannot stay in cache anyway, and a streaming store skips reading each
// destination line before overwriting it, which is a quarter of a binary op's memory traffic.
inline constexpr std::size_t kStreamingStoreBytes = std::size_t{64} << 20;

// dst[i] = g(i) for i in [0, n), written one 64-byte cache line at a time: the line is computed into a
// local buffer (vectorised, kept in registers or L1) and streamed out with aligned non-temporal stores.
// A whole line per burst matters: larger blocks (2 KiB) measured no faster than plain stores.
template <class R, class G>
void streaming_run(R* dst, int64_t n, G g) {
#if defined(__AVX__) || defined(__SSE2__)
  if constexpr (64 % sizeof(R) == 0) {
    constexpr int64_t line = 64 / sizeof(R);
    int64_t i = 0;
    for (; i < n && reinterpret_cast<std::uintptr_t>(dst + i) % 64 != 0; ++i) dst[i] = g(i);
    for (; i + line <= n; i += line) {
      alignas(64) R buf[line];
      for (int64_t j = 0; j < line; ++j) buf[j] = g(i + j);
#if defined(__AVX__)
      auto* to = reinterpret_cast<__m256i*>(dst + i);
      const auto* from = reinterpret_cast<const __m256i*>(buf);
      for (int k = 0; k < 2; ++k) _mm256_stream_si256(to + k, _mm256_load_si256(from + k));
#else
      auto* to = reinterpret_cast<__m128i*>(dst + i);
      const auto* from = reinterpret_cast<const __m128i*>(buf);
      for (int k = 0; k < 4; ++k) _mm_stream_si128(to + k, _mm_load_si128(from + k));
#endif
    }
    for (; i < n; ++i) dst[i] = g(i);
    _mm_sfence();  // streaming stores are weakly ordered: drain them before another thread reads dst
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) dst[i] = g(i);
}

template <class R, class F, std::size_t... I, class... In>
void apply_into_impl(std::index_sequence<I...>, const Tensor<R>& out, F f, const char* op,
                     const Tensor<In>&... in) {
  const Shape& shape = out.shape();
  auto check = [&](const Shape& s) {
    VOXNN_CHECK(broadcast_shapes(shape, s, op) == shape, op, ": operand of shape ", s,
                " does not broadcast to the output shape ", shape);
  };
  (check(in.shape()), ...);
  constexpr std::size_t N = 1 + sizeof...(In);
  const std::array<Shape, N> strides{out.strides(), in.expand(shape).strides()...};
  R* const o = out.data();
  const std::tuple<const In*...> base{in.data()...};
  // Streaming stores only for a large output that no operand reads (not in place).
  const bool streaming = static_cast<std::size_t>(out.numel()) * sizeof(R) >= kStreamingStoreBytes &&
                         ((static_cast<const void*>(in.storage().data()) != out.storage().data()) && ...);
  voxnn::detail::for_each_run<N>(shape, strides, [&](const auto& off, int64_t n, const auto& st) {
    R* dst = o + off[0];
    const std::tuple<const In*...> src{(std::get<I>(base) + off[I + 1])...};
    if (st[0] == 1 && ((st[I + 1] == 1) && ...)) {
      if (streaming && n >= 4096)
        streaming_run(dst, n, [&](int64_t i) { return f(std::get<I>(src)[i]...); });
      else
        for (int64_t i = 0; i < n; ++i) dst[i] = f(std::get<I>(src)[i]...);
    } else {
      for (int64_t i = 0; i < n; ++i) dst[i * st[0]] = f(std::get<I>(src)[i * st[I + 1]]...);
    }
  });
}

// Runs f over out's elements, each operand broadcast to out's shape. Unit-stride runs get a plain
// loop the compiler vectorises; anything else goes through the strides.
template <class R, class F, class... In>
void apply_into(const Tensor<R>& out, F f, const char* op, const Tensor<In>&... in) {
  apply_into_impl(std::index_sequence_for<In...>{}, out, f, op, in...);
}
}  // namespace detail

template <class R, class T, class F>
void map_into(const Tensor<R>& out, const Tensor<T>& a, F f, const char* op = "map") {
  detail::apply_into(out, f, op, a);
}
template <class R, class T, class F>
Tensor<R> map(const Tensor<T>& a, F f, const char* op = "map") {
  Tensor<R> out(a.shape());
  detail::apply_into(out, f, op, a);
  return out;
}
template <class R, class A, class B, class F>
void zip_into(const Tensor<R>& out, const Tensor<A>& a, const Tensor<B>& b, F f, const char* op = "zip") {
  detail::apply_into(out, f, op, a, b);
}
template <class R, class A, class B, class F>
Tensor<R> zip(const Tensor<A>& a, const Tensor<B>& b, F f, const char* op = "zip") {
  Tensor<R> out(broadcast_shapes(a.shape(), b.shape(), op));
  detail::apply_into(out, f, op, a, b);
  return out;
}
template <class R, class A, class B, class C, class F>
Tensor<R> zip3(const Tensor<A>& a, const Tensor<B>& b, const Tensor<C>& c, F f, const char* op = "zip3") {
  Tensor<R> out(broadcast_shapes(broadcast_shapes(a.shape(), b.shape(), op), c.shape(), op));
  detail::apply_into(out, f, op, a, b, c);
  return out;
}

template <Element U, Element T>
Tensor<U> cast(const Tensor<T>& a) {
  if constexpr (std::is_same_v<U, T>) return a;
  else return map<U>(a, [](T v) { return static_cast<U>(v); }, "cast");
}

// ---- binary arithmetic ----------------------------------------------------------------------------
#define VOXNN_BINARY_OP(name, expr)                                                              \
  template <Element T>                                                                           \
  Tensor<T> name(const Tensor<T>& a, const Tensor<T>& b) {                                       \
    return zip<T>(a, b, [](T x, T y) { return expr; }, #name);                                   \
  }                                                                                              \
  template <Element T>                                                                           \
  Tensor<T> name(const Tensor<T>& a, T s) {                                                      \
    return map<T>(a, [s](T x) { const T y = s; return expr; }, #name);                           \
  }                                                                                              \
  template <Element T>                                                                           \
  Tensor<T> name(T s, const Tensor<T>& b) {                                                      \
    return map<T>(b, [s](T y) { const T x = s; return expr; }, #name);                           \
  }                                                                                              \
  /* in place: a op= b, b broadcast to a's shape */                                              \
  template <Element T>                                                                           \
  const Tensor<T>& name##_(const Tensor<T>& a, const Tensor<T>& b) {                             \
    zip_into<T>(a, a, b, [](T x, T y) { return expr; }, #name "_");                              \
    return a;                                                                                    \
  }                                                                                              \
  template <Element T>                                                                           \
  const Tensor<T>& name##_(const Tensor<T>& a, T s) {                                            \
    map_into<T>(a, a, [s](T x) { const T y = s; return expr; }, #name "_");                      \
    return a;                                                                                    \
  }                                                                                              \
  /* out= form: writes into an existing tensor of the broadcast shape */                         \
  template <Element T>                                                                           \
  const Tensor<T>& name##_out(const Tensor<T>& out, const Tensor<T>& a, const Tensor<T>& b) {   \
    zip_into<T>(out, a, b, [](T x, T y) { return expr; }, #name "_out");                         \
    return out;                                                                                  \
  }

VOXNN_BINARY_OP(add, x + y)
VOXNN_BINARY_OP(sub, x - y)
VOXNN_BINARY_OP(mul, x* y)
VOXNN_BINARY_OP(div, x / y)
VOXNN_BINARY_OP(maximum, (x != x || x > y) ? x : y)
VOXNN_BINARY_OP(minimum, (x != x || x < y) ? x : y)
#undef VOXNN_BINARY_OP

template <Real T>
Tensor<T> pow(const Tensor<T>& a, const Tensor<T>& b) {
  return zip<T>(a, b, [](T x, T y) { return std::pow(x, y); }, "pow");
}
template <Real T>
Tensor<T> pow(const Tensor<T>& a, T exponent) {
  if (exponent == T(2)) return map<T>(a, [](T x) { return x * x; }, "pow");
  return map<T>(a, [exponent](T x) { return std::pow(x, exponent); }, "pow");
}
template <Real T>
Tensor<T> pow(T base, const Tensor<T>& b) {
  return map<T>(b, [base](T y) { return std::pow(base, y); }, "pow");
}

// a += alpha * b (torch's add_ with alpha): the update every optimiser needs.
template <Real T>
const Tensor<T>& add_(const Tensor<T>& a, const Tensor<T>& b, T alpha) {
  zip_into<T>(a, a, b, [alpha](T x, T y) { return x + alpha * y; }, "add_");
  return a;
}
// c + value * a * b, as torch.addcmul; the in-place form updates c.
template <Real T>
Tensor<T> addcmul(const Tensor<T>& c, const Tensor<T>& a, const Tensor<T>& b, T value = 1) {
  return zip3<T>(c, a, b, [value](T z, T x, T y) { return z + value * x * y; }, "addcmul");
}
template <Real T>
const Tensor<T>& addcmul_(const Tensor<T>& c, const Tensor<T>& a, const Tensor<T>& b, T value = 1) {
  detail::apply_into(c, [value](T z, T x, T y) { return z + value * x * y; }, "addcmul_", c, a, b);
  return c;
}

// ---- unary math -----------------------------------------------------------------------------------
VOXNN_EIGEN_AVX512_WARNINGS_BEGIN
namespace detail {
// out = f(a) on contiguous data through Eigen's vectorised math (the scalar std:: functions do not
// vectorise under the default -fmath-errno): vf(y, x) assigns f(x) to the array map y; other layouts
// fall back to the strided loop of sf.
template <class T, class Vectorised, class Scalar>
void vector_math_into(const Tensor<T>& out, const Tensor<T>& a, Vectorised vf, Scalar sf, const char* op) {
  if (!(a.is_contiguous() && out.is_contiguous() && a.shape() == out.shape())) {
    map_into<T>(out, a, sf, op);
    return;
  }
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
  const T* in = a.data();
  T* dst = out.data();
  parallel_for(0, a.numel(), kParallelGrain / 4, [&](int64_t b, int64_t e) {
    vf(Eigen::Map<Array>(dst + b, e - b), Eigen::Map<const Array>(in + b, e - b));
  });
}

// Whether a lane of the double packet v is below f (NaN is not).
#if defined(__AVX512F__)
inline bool any_lane_below(__m512d v, __m512d f) { return _mm512_cmp_pd_mask(v, f, _CMP_LT_OQ) != 0; }
#endif
#if defined(__AVX__)
inline bool any_lane_below(__m256d v, __m256d f) { return _mm256_movemask_pd(_mm256_cmp_pd(v, f, _CMP_LT_OQ)) != 0; }
#endif
#if defined(__SSE2__)
inline bool any_lane_below(__m128d v, __m128d f) { return _mm_movemask_pd(_mm_cmplt_pd(v, f)) != 0; }
#else
template <class P>
bool any_lane_below(const P& v, const P& f) {
  return Eigen::internal::predux_any(Eigen::internal::pcmp_lt(v, f));
}
#endif
inline bool any_lane_below(double v, double f) { return v < f; }  // Eigen without vectorisation

// y[i] = exp(x[i]) for n contiguous values, vectorised with Eigen's exp; y may be x. Eigen's double
// exp clamps its argument at about -709.44 and so gives 5.6e-309 where std::exp gives a denormal or,
// below -745.13, 0 (exp(-inf) included): those packets take such entries from std::exp. The split is
// Eigen's own for an array assignment (std::exp up to y's first 64-byte boundary and after the last
// whole packet, packets between), so every other value is what Eigen's x.exp() gives.
// (Eigen's float exp is 0 at -inf; it flushes std::exp's denormal results, x in (-103.3, -88.7), to 0.)
template <class T>
void exp_contiguous(const T* x, T* y, Eigen::Index n) {
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
  if constexpr (std::is_same_v<T, double>) {
    namespace ei = Eigen::internal;
    using P = backend::cpu::Packet<double>;
    constexpr Eigen::Index lanes = backend::cpu::kLanes<double>;
    constexpr std::uintptr_t align = alignof(P);  // Eigen's aligned store of a packet
    const P normal_floor = ei::pset1<P>(-708.39641853226408);  // log(DBL_MIN): exp is denormal below
    const auto to_boundary = (align - reinterpret_cast<std::uintptr_t>(y) % align) % align / sizeof(double);
    const Eigen::Index start = std::min(n, static_cast<Eigen::Index>(to_boundary));
    const Eigen::Index end = start + (n - start) / lanes * lanes;
    for (Eigen::Index i = 0; i < start; ++i) y[i] = std::exp(x[i]);
    for (Eigen::Index i = start; i < end; i += lanes) {
      const P v = ei::ploadu<P>(x + i);
      ei::pstore(y + i, ei::pexp(v));
      if (!any_lane_below(v, normal_floor)) [[likely]] continue;
      alignas(64) double in[lanes];
      ei::pstore(in, v);  // x may be y
      for (Eigen::Index k = 0; k < lanes; ++k)
        if (in[k] < -708.39641853226408) y[i + k] = std::exp(in[k]);
    }
    for (Eigen::Index i = end; i < n; ++i) y[i] = std::exp(x[i]);
  } else {
    Eigen::Map<Array>(y, n) = Eigen::Map<const Array>(x, n).exp();
  }
}
}  // namespace detail

#define VOXNN_VECTOR_MATH_OP(name, expr, eigen_assign)                                          \
  template <Real T>                                                                           \
  Tensor<T> name(const Tensor<T>& a) {                                                        \
    Tensor<T> out(a.shape());                                                                 \
    detail::vector_math_into(out, a, [](auto&& y, const auto& v) { eigen_assign; },           \
                             [](T x) { return expr; }, #name);                                \
    return out;                                                                               \
  }                                                                                           \
  template <Real T>                                                                           \
  const Tensor<T>& name##_(const Tensor<T>& a) {                                              \
    detail::vector_math_into(a, a, [](auto&& y, const auto& v) { eigen_assign; },             \
                             [](T x) { return expr; }, #name "_");                            \
    return a;                                                                                 \
  }

VOXNN_VECTOR_MATH_OP(exp, std::exp(x), detail::exp_contiguous(v.data(), y.data(), v.size()))
VOXNN_VECTOR_MATH_OP(log, std::log(x), y = v.log())
VOXNN_VECTOR_MATH_OP(sqrt, std::sqrt(x), y = v.sqrt())
VOXNN_VECTOR_MATH_OP(rsqrt, T(1) / std::sqrt(x), y = v.rsqrt())
VOXNN_VECTOR_MATH_OP(tanh, std::tanh(x), y = v.tanh())
#undef VOXNN_VECTOR_MATH_OP
VOXNN_EIGEN_AVX512_WARNINGS_END

#define VOXNN_UNARY_OP(name, concept_, expr)                                  \
  template <concept_ T>                                                       \
  Tensor<T> name(const Tensor<T>& a) {                                        \
    return map<T>(a, [](T x) { return expr; }, #name);                        \
  }                                                                           \
  template <concept_ T>                                                       \
  const Tensor<T>& name##_(const Tensor<T>& a) {                              \
    map_into<T>(a, a, [](T x) { return expr; }, #name "_");                   \
    return a;                                                                 \
  }

VOXNN_UNARY_OP(neg, Element, static_cast<T>(-x))
VOXNN_UNARY_OP(abs, Element, x < 0 ? static_cast<T>(-x) : x)
VOXNN_UNARY_OP(sign, Element, static_cast<T>((T(0) < x) - (x < T(0))))
VOXNN_UNARY_OP(square, Element, x* x)
VOXNN_UNARY_OP(reciprocal, Real, T(1) / x)
VOXNN_UNARY_OP(sin, Real, std::sin(x))
VOXNN_UNARY_OP(cos, Real, std::cos(x))
VOXNN_UNARY_OP(sigmoid, Real, x >= 0 ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x)))
VOXNN_UNARY_OP(relu, Real, x > 0 ? x : (x != x ? x : T(0)))
VOXNN_UNARY_OP(log1p, Real, std::log1p(x))
VOXNN_UNARY_OP(expm1, Real, std::expm1(x))
VOXNN_UNARY_OP(erf, Real, std::erf(x))
VOXNN_UNARY_OP(floor, Real, std::floor(x))
#undef VOXNN_UNARY_OP

// Clamps to [lo, hi]; NaN stays NaN, as in PyTorch.
template <Real T>
Tensor<T> clamp(const Tensor<T>& a, T lo = -std::numeric_limits<T>::infinity(),
                T hi = std::numeric_limits<T>::infinity()) {
  return map<T>(a, [lo, hi](T x) { return x < lo ? lo : (x > hi ? hi : x); }, "clamp");
}
template <Real T>
const Tensor<T>& clamp_(const Tensor<T>& a, T lo, T hi) {
  map_into<T>(a, a, [lo, hi](T x) { return x < lo ? lo : (x > hi ? hi : x); }, "clamp_");
  return a;
}

// ---- comparisons and selection ------------------------------------------------------------------
#define VOXNN_COMPARE_OP(name, expr)                                          \
  template <Element T>                                                        \
  Tensor<bool> name(const Tensor<T>& a, const Tensor<T>& b) {                 \
    return zip<bool>(a, b, [](T x, T y) { return expr; }, #name);             \
  }                                                                           \
  template <Element T>                                                        \
  Tensor<bool> name(const Tensor<T>& a, T s) {                                \
    return map<bool>(a, [s](T x) { const T y = s; return expr; }, #name);     \
  }

VOXNN_COMPARE_OP(eq, x == y)
VOXNN_COMPARE_OP(ne, x != y)
VOXNN_COMPARE_OP(lt, x < y)
VOXNN_COMPARE_OP(le, x <= y)
VOXNN_COMPARE_OP(gt, x > y)
VOXNN_COMPARE_OP(ge, x >= y)
#undef VOXNN_COMPARE_OP

inline Tensor<bool> logical_not(const Tensor<bool>& a) {
  return map<bool>(a, [](bool x) { return !x; }, "logical_not");
}
inline Tensor<bool> logical_and(const Tensor<bool>& a, const Tensor<bool>& b) {
  return zip<bool>(a, b, [](bool x, bool y) { return x && y; }, "logical_and");
}
inline Tensor<bool> logical_or(const Tensor<bool>& a, const Tensor<bool>& b) {
  return zip<bool>(a, b, [](bool x, bool y) { return x || y; }, "logical_or");
}
template <Real T>
Tensor<bool> isnan(const Tensor<T>& a) {
  return map<bool>(a, [](T x) { return x != x; }, "isnan");
}

// cond ? a : b elementwise, all three broadcast together.
template <Element T>
Tensor<T> where(const Tensor<bool>& cond, const Tensor<T>& a, const Tensor<T>& b) {
  return zip3<T>(cond, a, b, [](bool c, T x, T y) { return c ? x : y; }, "where");
}
template <Element T>
Tensor<T> where(const Tensor<bool>& cond, const Tensor<T>& a, T b) {
  return zip<T>(cond, a, [b](bool c, T x) { return c ? x : b; }, "where");
}

}  // namespace voxnn::ops

namespace voxnn {
// Operators on tensors, found by argument-dependent lookup.
template <Element T> Tensor<T> operator+(const Tensor<T>& a, const Tensor<T>& b) { return ops::add(a, b); }
template <Element T> Tensor<T> operator-(const Tensor<T>& a, const Tensor<T>& b) { return ops::sub(a, b); }
template <Element T> Tensor<T> operator*(const Tensor<T>& a, const Tensor<T>& b) { return ops::mul(a, b); }
template <Element T> Tensor<T> operator/(const Tensor<T>& a, const Tensor<T>& b) { return ops::div(a, b); }
template <Element T> Tensor<T> operator+(const Tensor<T>& a, std::type_identity_t<T> s) { return ops::add(a, s); }
template <Element T> Tensor<T> operator-(const Tensor<T>& a, std::type_identity_t<T> s) { return ops::sub(a, s); }
template <Element T> Tensor<T> operator*(const Tensor<T>& a, std::type_identity_t<T> s) { return ops::mul(a, s); }
template <Element T> Tensor<T> operator/(const Tensor<T>& a, std::type_identity_t<T> s) { return ops::div(a, s); }
template <Element T> Tensor<T> operator+(std::type_identity_t<T> s, const Tensor<T>& a) { return ops::add(s, a); }
template <Element T> Tensor<T> operator-(std::type_identity_t<T> s, const Tensor<T>& a) { return ops::sub(s, a); }
template <Element T> Tensor<T> operator*(std::type_identity_t<T> s, const Tensor<T>& a) { return ops::mul(s, a); }
template <Element T> Tensor<T> operator/(std::type_identity_t<T> s, const Tensor<T>& a) { return ops::div(s, a); }
template <Element T> Tensor<T> operator-(const Tensor<T>& a) { return ops::neg(a); }
}  // namespace voxnn
