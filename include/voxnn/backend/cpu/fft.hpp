#pragma once
// CPU complex FFT: a mixed-radix Stockham autosort FFT vectorised over a batch of independent lines.
//
// Data: interleaved complex values (re, im) in a contiguous array viewed as [outer][n][inner]; one
// "line" is the n values at fixed (outer, inner), stride `inner`. fft_axis transforms every line.
//
// Lines are processed kLanes at a time (one SIMD packet: 16 floats / 8 doubles with AVX-512): a
// block of lines is gathered into a scratch of n rows, row k holding the k-th value of each line of
// the block as [re x kLanes][im x kLanes]. Every butterfly then works on whole packets, so no
// shuffles are needed inside the transform and any length vectorises the same way. Along an axis
// with inner >= kLanes the block is kLanes neighbouring inner positions (each row a contiguous
// load); along the contiguous last axis it is kLanes consecutive lines (a small transpose).
//
// Transform: Stockham autosort (ping-pong between two scratch buffers, no bit reversal), stages of
// radix 8, 4, 2, 3, 5 and a generic odd radix for other primes up to kMaxGenericRadix. Stage s with
// radix R, after stages whose radices multiply to ns, reads x[j + r * n / R] for j = a * ns + b,
// twiddles input r by w^(b r) with w = exp(-+2 pi i / (ns R)), applies a radix-R DFT and writes
// y[a * ns * R + b + r * ns]. A length with a larger prime factor runs Bluestein's algorithm (the
// transform as a chirp-modulated circular convolution of a smooth length m >= 2n - 1).
//
// Plans (stage list, twiddles, Bluestein chirps) are built once per (length, direction, type) and
// cached for the life of the process. Twiddles are computed in double precision.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "voxnn/backend/cpu/simd.hpp"
#include "voxnn/core/device.hpp"
#include "voxnn/core/diagnostics.hpp"
#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"

VOXNN_EIGEN_AVX512_WARNINGS_BEGIN
namespace voxnn::backend::cpu {

namespace fft_detail {

inline constexpr int kMaxGenericRadix = 64;  // larger prime factors go to Bluestein
inline constexpr double kPi = 3.14159265358979323846;

struct Stage {
  int radix;
  int64_t ns;          // product of the radices of the earlier stages
  std::size_t tw;      // offset of this stage's twiddles: ns x (radix - 1) pairs (cos, sin)
  std::size_t trig;    // generic radix: offset of cos/sin of 2 pi k / radix, k < radix
};

template <class T>
struct Plan {
  int64_t n = 0;
  bool inverse = false;
  std::vector<Stage> stages;
  std::vector<T> tw, trig;
  // Bluestein: the transform of length n through circular convolutions of length m.
  int64_t m = 0;
  std::shared_ptr<const Plan> sub_forward, sub_inverse;
  std::vector<T> chirp;  // n pairs: exp(-+ i pi k^2 / n)
  std::vector<T> kernel; // m pairs: the forward FFT of the conjugate chirp, divided by m
  int64_t rows() const { return m > 0 ? m : n; }  // scratch rows a block needs
};

template <class T>
std::shared_ptr<const Plan<T>> get_plan(int64_t n, bool inverse);

// Prime factorisation into the stage radices; false when a prime factor exceeds kMaxGenericRadix.
inline bool factorize(int64_t n, std::vector<int>& radices) {
  radices.clear();
  int64_t twos = 0;
  while (n % 2 == 0) {
    n /= 2;
    ++twos;
  }
  while (twos >= 3) {
    radices.push_back(8);
    twos -= 3;
  }
  if (twos == 2) radices.push_back(4);
  if (twos == 1) radices.push_back(2);
  for (int p : {3, 5})
    while (n % p == 0) {
      radices.push_back(p);
      n /= p;
    }
  for (int64_t p = 7; p * p <= n || n > 1; p += 2) {
    if (p * p > n) p = n;  // n itself is prime
    while (n % p == 0) {
      if (p > kMaxGenericRadix) return false;
      radices.push_back(static_cast<int>(p));
      n /= p;
    }
    if (n == 1) break;
  }
  return true;
}

// The smallest 2^a 3^b 5^c >= n.
inline int64_t smooth_length(int64_t n) {
  int64_t best = 1;
  while (best < n) best *= 2;
  for (int64_t p5 = 1; p5 < best; p5 *= 5)
    for (int64_t p35 = p5; p35 < best; p35 *= 3) {
      int64_t v = p35;
      while (v < n) v *= 2;
      best = std::min(best, v);
    }
  return best;
}

// ---- butterflies on packets -----------------------------------------------------------------------
// Values are (re, im) packet pairs; Inv selects the sign of the exponent (+ for the inverse).

template <class T>
struct Ops {
  using P = Packet<T>;
  static P add(const P& a, const P& b) { return Eigen::internal::padd(a, b); }
  static P sub(const P& a, const P& b) { return Eigen::internal::psub(a, b); }
  static P mul(const P& a, const P& b) { return Eigen::internal::pmul(a, b); }
  static P fma(const P& a, const P& b, const P& c) { return Eigen::internal::pmadd(a, b, c); }
  static P set(T v) { return Eigen::internal::pset1<P>(v); }
  static P neg(const P& a) { return Eigen::internal::pnegate(a); }
};

// (r, i) *= (wr, wi), with nwi = -wi.
template <class T>
inline void cmul(Packet<T>& r, Packet<T>& i, const Packet<T>& wr, const Packet<T>& wi, const Packet<T>& nwi) {
  using O = Ops<T>;
  const Packet<T> nr = O::fma(r, wr, O::mul(i, nwi));
  i = O::fma(r, wi, O::mul(i, wr));
  r = nr;
}

// (r, i) times -i (forward) or +i (inverse).
template <class T, bool Inv>
inline void rot90(Packet<T>& r, Packet<T>& i) {
  using O = Ops<T>;
  const Packet<T> t = r;
  if constexpr (Inv) {
    r = O::neg(i);
    i = t;
  } else {
    r = i;
    i = O::neg(t);
  }
}

template <class T, bool Inv>
inline void bfly2(Packet<T>* r, Packet<T>* i) {
  using O = Ops<T>;
  const Packet<T> r0 = r[0], i0 = i[0];
  r[0] = O::add(r0, r[1]);
  i[0] = O::add(i0, i[1]);
  r[1] = O::sub(r0, r[1]);
  i[1] = O::sub(i0, i[1]);
}

template <class T, bool Inv>
inline void bfly4(Packet<T>* r, Packet<T>* i) {
  using O = Ops<T>;
  const Packet<T> t0r = O::add(r[0], r[2]), t0i = O::add(i[0], i[2]);
  const Packet<T> t1r = O::sub(r[0], r[2]), t1i = O::sub(i[0], i[2]);
  const Packet<T> t2r = O::add(r[1], r[3]), t2i = O::add(i[1], i[3]);
  Packet<T> t3r = O::sub(r[1], r[3]), t3i = O::sub(i[1], i[3]);
  rot90<T, Inv>(t3r, t3i);
  r[0] = O::add(t0r, t2r);
  i[0] = O::add(t0i, t2i);
  r[2] = O::sub(t0r, t2r);
  i[2] = O::sub(t0i, t2i);
  r[1] = O::add(t1r, t3r);
  i[1] = O::add(t1i, t3i);
  r[3] = O::sub(t1r, t3r);
  i[3] = O::sub(t1i, t3i);
}

template <class T, bool Inv>
inline void bfly8(Packet<T>* r, Packet<T>* i) {
  using O = Ops<T>;
  using P = Packet<T>;
  P er[4] = {r[0], r[2], r[4], r[6]}, ei[4] = {i[0], i[2], i[4], i[6]};
  P orr[4] = {r[1], r[3], r[5], r[7]}, oi[4] = {i[1], i[3], i[5], i[7]};
  bfly4<T, Inv>(er, ei);
  bfly4<T, Inv>(orr, oi);
  const P h = O::set(static_cast<T>(0.70710678118654752440));
  // odd part k times w8^k, w8 = exp(-+ i pi / 4)
  {  // k = 1: forward (a + b, b - a) / sqrt2; inverse (a - b, a + b) / sqrt2
    const P a = orr[1], b = oi[1];
    if constexpr (Inv) {
      orr[1] = O::mul(O::sub(a, b), h);
      oi[1] = O::mul(O::add(a, b), h);
    } else {
      orr[1] = O::mul(O::add(a, b), h);
      oi[1] = O::mul(O::sub(b, a), h);
    }
  }
  rot90<T, Inv>(orr[2], oi[2]);
  {  // k = 3: forward (b - a, -(a + b)) / sqrt2; inverse (-(a + b), a - b) / sqrt2
    const P a = orr[3], b = oi[3];
    if constexpr (Inv) {
      orr[3] = O::neg(O::mul(O::add(a, b), h));
      oi[3] = O::mul(O::sub(a, b), h);
    } else {
      orr[3] = O::mul(O::sub(b, a), h);
      oi[3] = O::neg(O::mul(O::add(a, b), h));
    }
  }
  for (int k = 0; k < 4; ++k) {
    r[k] = O::add(er[k], orr[k]);
    i[k] = O::add(ei[k], oi[k]);
    r[k + 4] = O::sub(er[k], orr[k]);
    i[k + 4] = O::sub(ei[k], oi[k]);
  }
}

template <class T, bool Inv>
inline void bfly3(Packet<T>* r, Packet<T>* i) {
  using O = Ops<T>;
  using P = Packet<T>;
  const P half = O::set(T(-0.5)), s = O::set(static_cast<T>(0.86602540378443864676));
  const P ar = O::add(r[1], r[2]), ai = O::add(i[1], i[2]);
  P br = O::mul(O::sub(r[1], r[2]), s), bi = O::mul(O::sub(i[1], i[2]), s);
  const P cr = O::fma(ar, half, r[0]), ci = O::fma(ai, half, i[0]);
  rot90<T, Inv>(br, bi);  // y1 = c -+ i s (v1 - v2), y2 = c +- i s (v1 - v2)
  r[0] = O::add(r[0], ar);
  i[0] = O::add(i[0], ai);
  r[1] = O::add(cr, br);
  i[1] = O::add(ci, bi);
  r[2] = O::sub(cr, br);
  i[2] = O::sub(ci, bi);
}

template <class T, bool Inv>
inline void bfly5(Packet<T>* r, Packet<T>* i) {
  using O = Ops<T>;
  using P = Packet<T>;
  const P c1 = O::set(static_cast<T>(0.30901699437494742410)), c2 = O::set(static_cast<T>(-0.80901699437494742410));
  const P s1 = O::set(static_cast<T>(0.95105651629515357212)), s2 = O::set(static_cast<T>(0.58778525229247312917));
  const P a1r = O::add(r[1], r[4]), a1i = O::add(i[1], i[4]), b1r = O::sub(r[1], r[4]), b1i = O::sub(i[1], i[4]);
  const P a2r = O::add(r[2], r[3]), a2i = O::add(i[2], i[3]), b2r = O::sub(r[2], r[3]), b2i = O::sub(i[2], i[3]);
  const P p1r = O::fma(a2r, c2, O::fma(a1r, c1, r[0])), p1i = O::fma(a2i, c2, O::fma(a1i, c1, i[0]));
  const P p2r = O::fma(a2r, c1, O::fma(a1r, c2, r[0])), p2i = O::fma(a2i, c1, O::fma(a1i, c2, i[0]));
  P q1r = O::fma(b2r, s2, O::mul(b1r, s1)), q1i = O::fma(b2i, s2, O::mul(b1i, s1));
  P q2r = O::sub(O::mul(b1r, s2), O::mul(b2r, s1)), q2i = O::sub(O::mul(b1i, s2), O::mul(b2i, s1));
  rot90<T, Inv>(q1r, q1i);
  rot90<T, Inv>(q2r, q2i);
  r[0] = O::add(r[0], O::add(a1r, a2r));
  i[0] = O::add(i[0], O::add(a1i, a2i));
  r[1] = O::add(p1r, q1r);
  i[1] = O::add(p1i, q1i);
  r[4] = O::sub(p1r, q1r);
  i[4] = O::sub(p1i, q1i);
  r[2] = O::add(p2r, q2r);
  i[2] = O::add(p2i, q2i);
  r[3] = O::sub(p2r, q2r);
  i[3] = O::sub(p2i, q2i);
}

// Odd radix p; trig holds cos and sin of 2 pi k / p for k < p as (cos, sin) pairs.
template <class T, bool Inv>
inline void bfly_generic(Packet<T>* r, Packet<T>* i, int p, const T* trig) {
  using O = Ops<T>;
  using P = Packet<T>;
  const int h = (p - 1) / 2;
  P ar[kMaxGenericRadix / 2], ai[kMaxGenericRadix / 2], br[kMaxGenericRadix / 2], bi[kMaxGenericRadix / 2];
  P sr = r[0], si = i[0];
  for (int k = 1; k <= h; ++k) {
    ar[k - 1] = O::add(r[k], r[p - k]);
    ai[k - 1] = O::add(i[k], i[p - k]);
    br[k - 1] = O::sub(r[k], r[p - k]);
    bi[k - 1] = O::sub(i[k], i[p - k]);
    sr = O::add(sr, ar[k - 1]);
    si = O::add(si, ai[k - 1]);
  }
  const P r0 = r[0], i0 = i[0];
  r[0] = sr;
  i[0] = si;
  for (int q = 1; q <= h; ++q) {
    P cr = r0, ci = i0, dr = O::set(T(0)), di = O::set(T(0));
    int idx = 0;
    for (int k = 1; k <= h; ++k) {
      idx += q;
      if (idx >= p) idx -= p;
      const P c = O::set(trig[2 * idx]), s = O::set(trig[2 * idx + 1]);
      cr = O::fma(ar[k - 1], c, cr);
      ci = O::fma(ai[k - 1], c, ci);
      dr = O::fma(br[k - 1], s, dr);
      di = O::fma(bi[k - 1], s, di);
    }
    rot90<T, Inv>(dr, di);  // y_q = c -+ i d, y_{p-q} = c +- i d
    r[q] = O::add(cr, dr);
    i[q] = O::add(ci, di);
    r[p - q] = O::sub(cr, dr);
    i[p - q] = O::sub(ci, di);
  }
}

// ---- stages -----------------------------------------------------------------------------------------
// Row k of a scratch buffer: 2 * kLanes values at buf + k * 2 * kLanes ([re lanes][im lanes]).

template <class T, bool Inv, int R>
void run_stage(const T* in, T* out, int64_t n, const Stage& st, const T* tw, const T* trig) {
  using P = Packet<T>;
  using O = Ops<T>;
  constexpr int L = kLanes<T>;
  constexpr int64_t W = 2 * L;
  const int radix = R > 0 ? R : st.radix;
  const int64_t ns = st.ns, m = n / radix, groups = m / ns;
  P vr[R > 0 ? R : kMaxGenericRadix], vi[R > 0 ? R : kMaxGenericRadix];
  P wr[R > 0 ? R : kMaxGenericRadix], wi[R > 0 ? R : kMaxGenericRadix], nwi[R > 0 ? R : kMaxGenericRadix];
  for (int64_t b = 0; b < ns; ++b) {
    const bool twiddle = b > 0;
    if (twiddle)
      for (int q = 1; q < radix; ++q) {
        wr[q] = O::set(tw[2 * (b * (radix - 1) + q - 1)]);
        wi[q] = O::set(tw[2 * (b * (radix - 1) + q - 1) + 1]);
        nwi[q] = O::neg(wi[q]);
      }
    for (int64_t a = 0; a < groups; ++a) {
      const int64_t j = a * ns + b;
      const T* src = in + j * W;
      for (int q = 0; q < radix; ++q) {
        vr[q] = Eigen::internal::ploadu<P>(src + q * m * W);
        vi[q] = Eigen::internal::ploadu<P>(src + q * m * W + L);
      }
      if (twiddle)
        for (int q = 1; q < radix; ++q) cmul<T>(vr[q], vi[q], wr[q], wi[q], nwi[q]);
      if constexpr (R == 2) bfly2<T, Inv>(vr, vi);
      else if constexpr (R == 3) bfly3<T, Inv>(vr, vi);
      else if constexpr (R == 4) bfly4<T, Inv>(vr, vi);
      else if constexpr (R == 5) bfly5<T, Inv>(vr, vi);
      else if constexpr (R == 8) bfly8<T, Inv>(vr, vi);
      else bfly_generic<T, Inv>(vr, vi, radix, trig);
      T* dst = out + (a * ns * radix + b) * W;
      for (int q = 0; q < radix; ++q) {
        Eigen::internal::pstoreu(dst + q * ns * W, vr[q]);
        Eigen::internal::pstoreu(dst + q * ns * W + L, vi[q]);
      }
    }
  }
}

// rows[k] *= (c[2k], c[2k + 1]) for k < count, in place or from src to dst.
template <class T>
void multiply_rows(const T* src, T* dst, const T* c, int64_t count) {
  using P = Packet<T>;
  using O = Ops<T>;
  constexpr int L = kLanes<T>;
  for (int64_t k = 0; k < count; ++k) {
    P r = Eigen::internal::ploadu<P>(src + k * 2 * L), i = Eigen::internal::ploadu<P>(src + k * 2 * L + L);
    const P wr = O::set(c[2 * k]), wi = O::set(c[2 * k + 1]);
    cmul<T>(r, i, wr, wi, O::neg(wi));
    Eigen::internal::pstoreu(dst + k * 2 * L, r);
    Eigen::internal::pstoreu(dst + k * 2 * L + L, i);
  }
}

// Transforms the block in x (plan.rows() rows; y is a second buffer of as many); returns the buffer
// holding the result (its first n rows).
template <class T, bool Inv>
T* execute(const Plan<T>& plan, T* x, T* y);

template <class T>
T* execute(const Plan<T>& plan, T* x, T* y) {
  return plan.inverse ? execute<T, true>(plan, x, y) : execute<T, false>(plan, x, y);
}

template <class T, bool Inv>
T* execute(const Plan<T>& plan, T* x, T* y) {
  constexpr int L = kLanes<T>;
  if (plan.m > 0) {  // Bluestein
    const int64_t n = plan.n, m = plan.m;
    multiply_rows(x, y, plan.chirp.data(), n);
    std::fill(y + n * 2 * L, y + m * 2 * L, T(0));
    T* a = execute(*plan.sub_forward, y, x);
    T* other = a == x ? y : x;
    multiply_rows(a, a, plan.kernel.data(), m);
    T* b = execute(*plan.sub_inverse, a, other);
    multiply_rows(b, b, plan.chirp.data(), n);
    return b;
  }
  const int64_t n = plan.n;
  for (const Stage& st : plan.stages) {
    const T* tw = plan.tw.data() + st.tw;
    const T* trig = plan.trig.data() + st.trig;
    switch (st.radix) {
      case 2: run_stage<T, Inv, 2>(x, y, n, st, tw, trig); break;
      case 3: run_stage<T, Inv, 3>(x, y, n, st, tw, trig); break;
      case 4: run_stage<T, Inv, 4>(x, y, n, st, tw, trig); break;
      case 5: run_stage<T, Inv, 5>(x, y, n, st, tw, trig); break;
      case 8: run_stage<T, Inv, 8>(x, y, n, st, tw, trig); break;
      default: run_stage<T, Inv, 0>(x, y, n, st, tw, trig); break;
    }
    std::swap(x, y);
  }
  return x;
}

// ---- moving blocks of lines in and out ---------------------------------------------------------------
// Gather and scatter convert between the tensor's interleaved (re, im) lines and the scratch rows. With
// GCC or clang they work on whole vectors (GCC vector extensions, whatever the target's width):
// deinterleaving two vectors of L interleaved values into re and im vectors, and, along the contiguous
// last axis, transposing L x L tiles (L lines by L values) in registers. Elsewhere, scalar loops; also
// under nvcc, whose host-code rewriting loses the pack expansions inside __builtin_shufflevector.

#if defined(__GNUC__) && !defined(__CUDACC__)
#define VOXNN_FFT_VECTOR_MOVES 1

template <class T>
struct Vec;
template <>
struct Vec<float> {
  typedef float type __attribute__((vector_size(sizeof(float) * kLanes<float>)));
};
template <>
struct Vec<double> {
  typedef double type __attribute__((vector_size(sizeof(double) * kLanes<double>)));
};

template <class V>
inline V load_vec(const void* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <class V>
inline void store_vec(void* p, const V& v) {
  std::memcpy(p, &v, sizeof(V));
}

// Lane indices of the two-vector shuffles (a lane index >= L picks from the second operand).
constexpr int even_lane(int t) { return 2 * t; }
constexpr int odd_lane(int t) { return 2 * t + 1; }
template <int L>
constexpr int zip_lo_lane(int t) { return t % 2 == 0 ? t / 2 : L + t / 2; }
template <int L>
constexpr int zip_hi_lane(int t) { return t % 2 == 0 ? L / 2 + t / 2 : L + L / 2 + t / 2; }
// One stage of the L x L transpose, for blocks of h lanes: a keeps the low h of each 2h-chunk from
// both rows, b the high h.
template <int L, int H>
constexpr int tr_lo_lane(int t) { return t % (2 * H) < H ? t - t % (2 * H) + t % (2 * H) : L + t - t % (2 * H) + t % (2 * H) - H; }
template <int L, int H>
constexpr int tr_hi_lane(int t) { return t % (2 * H) < H ? t - t % (2 * H) + H + t % (2 * H) : L + t - t % (2 * H) + t % (2 * H); }

template <class V, std::size_t... I>
inline void deinterleave(const V& a, const V& b, V& re, V& im, std::index_sequence<I...>) {
  re = __builtin_shufflevector(a, b, even_lane(static_cast<int>(I))...);
  im = __builtin_shufflevector(a, b, odd_lane(static_cast<int>(I))...);
}
template <class V, std::size_t... I>
inline void interleave(const V& re, const V& im, V& a, V& b, std::index_sequence<I...>) {
  constexpr int L = sizeof...(I);
  a = __builtin_shufflevector(re, im, zip_lo_lane<L>(static_cast<int>(I))...);
  b = __builtin_shufflevector(re, im, zip_hi_lane<L>(static_cast<int>(I))...);
}
template <int H, class V, std::size_t... I>
inline void transpose_stage(V* v, std::index_sequence<I...>) {
  constexpr int L = sizeof...(I);
  for (int i = 0; i < L; ++i)
    if ((i & H) == 0) {
      const V a = v[i], b = v[i + H];
      v[i] = __builtin_shufflevector(a, b, tr_lo_lane<L, H>(static_cast<int>(I))...);
      v[i + H] = __builtin_shufflevector(a, b, tr_hi_lane<L, H>(static_cast<int>(I))...);
    }
}
// v[i][j] <- v[j][i] for an L x L tile held in L vectors: stages for blocks of 1, 2, 4, ... lanes.
template <int H, class V, class Seq>
inline void transpose_from(V* v, Seq seq) {
  constexpr int L = static_cast<int>(Seq::size());
  transpose_stage<H>(v, seq);
  if constexpr (2 * H < L) transpose_from<2 * H>(v, seq);
}
template <class T>
inline void transpose(typename Vec<T>::type* v) {
  constexpr int L = kLanes<T>;
  if constexpr (L > 1) transpose_from<1>(v, std::make_index_sequence<L>());
}
#endif

// Gather of one block: row k of x <- value (k - shift) mod n of each lane's line, the line of lane l
// starting at complex offset base[l] of src with stride `inner`. Lanes past `lanes` are zeroed.
// `consecutive`: base[l] = base[0] + l (neighbouring inner positions).
template <class T>
void gather_rows_scalar(const T* src, T* x, const int64_t* base, int lanes, int64_t n, int64_t inner, int64_t shift,
                        int64_t k0, int64_t k1) {
  constexpr int L = kLanes<T>;
  for (int l = 0; l < lanes; ++l) {
    const T* p = src + 2 * base[l];
    for (int64_t k = k0; k < k1; ++k) {
      int64_t s = k - shift;
      if (s < 0) s += n;
      x[k * 2 * L + l] = p[2 * s * inner];
      x[k * 2 * L + L + l] = p[2 * s * inner + 1];
    }
  }
  for (int l = lanes; l < L; ++l)
    for (int64_t k = k0; k < k1; ++k) x[k * 2 * L + l] = x[k * 2 * L + L + l] = T(0);
}

template <class T>
void scatter_rows_scalar(const T* x, T* dst, const int64_t* base, int lanes, int64_t n, int64_t inner, int64_t shift,
                         T scale, int64_t k0, int64_t k1) {
  constexpr int L = kLanes<T>;
  for (int l = 0; l < lanes; ++l) {
    T* p = dst + 2 * base[l];
    for (int64_t k = k0; k < k1; ++k) {
      int64_t d = k + shift;
      if (d >= n) d -= n;
      p[2 * d * inner] = x[k * 2 * L + l] * scale;
      p[2 * d * inner + 1] = x[k * 2 * L + L + l] * scale;
    }
  }
}

template <class T>
void gather_block(const T* src, T* x, const int64_t* base, int lanes, bool consecutive, int64_t n, int64_t inner,
                  int64_t shift) {
#ifdef VOXNN_FFT_VECTOR_MOVES
  constexpr int L = kLanes<T>;
  using V = typename Vec<T>::type;
  constexpr auto seq = std::make_index_sequence<L>();
  if (lanes == L && consecutive) {
    for (int64_t k = 0; k < n; ++k) {
      int64_t s = k - shift;
      if (s < 0) s += n;
      const T* p = src + 2 * (base[0] + s * inner);
      if (inner >= 2 * L) {  // the next block's part of this row, into L2 while this block computes
        __builtin_prefetch(p + 2 * L, 0, 2);
        __builtin_prefetch(p + 3 * L, 0, 2);
      }
      V re, im;
      deinterleave(load_vec<V>(p), load_vec<V>(p + L), re, im, seq);
      store_vec(x + k * 2 * L, re);
      store_vec(x + k * 2 * L + L, im);
    }
    return;
  }
  if (lanes == L && inner == 1) {  // contiguous lines: L x L tiles through registers
    int64_t k = 0;
    for (; k + L <= n; k += L) {
      int64_t s = k - shift;
      if (s < 0) s += n;
      if (s + L > n) {  // the tile wraps around the line's end
        gather_rows_scalar(src, x, base, lanes, n, inner, shift, k, k + L);
        continue;
      }
      V re[L], im[L];
      for (int l = 0; l < L; ++l) {
        const T* p = src + 2 * (base[l] + s);
        deinterleave(load_vec<V>(p), load_vec<V>(p + L), re[l], im[l], seq);
      }
      transpose<T>(re);
      transpose<T>(im);
      for (int j = 0; j < L; ++j) {
        store_vec(x + (k + j) * 2 * L, re[j]);
        store_vec(x + (k + j) * 2 * L + L, im[j]);
      }
    }
    gather_rows_scalar(src, x, base, lanes, n, inner, shift, k, n);
    return;
  }
#endif
  (void)consecutive;
  gather_rows_scalar(src, x, base, lanes, n, inner, shift, 0, n);
}

// Scatter of one block: value (k + shift) mod n of each lane's line <- scale * row k of x.
template <class T>
void scatter_block(const T* x, T* dst, const int64_t* base, int lanes, bool consecutive, int64_t n, int64_t inner,
                   int64_t shift, T scale) {
#ifdef VOXNN_FFT_VECTOR_MOVES
  constexpr int L = kLanes<T>;
  using V = typename Vec<T>::type;
  constexpr auto seq = std::make_index_sequence<L>();
  if (lanes == L && consecutive) {
    for (int64_t k = 0; k < n; ++k) {
      int64_t d = k + shift;
      if (d >= n) d -= n;
      T* p = dst + 2 * (base[0] + d * inner);
      if (inner >= 2 * L) {
        __builtin_prefetch(p + 2 * L, 1, 2);
        __builtin_prefetch(p + 3 * L, 1, 2);
      }
      V a, b;
      interleave(load_vec<V>(x + k * 2 * L) * scale, load_vec<V>(x + k * 2 * L + L) * scale, a, b, seq);
      store_vec(p, a);
      store_vec(p + L, b);
    }
    return;
  }
  if (lanes == L && inner == 1) {
    int64_t k = 0;
    for (; k + L <= n; k += L) {
      int64_t d = k + shift;
      if (d >= n) d -= n;
      if (d + L > n) {
        scatter_rows_scalar(x, dst, base, lanes, n, inner, shift, scale, k, k + L);
        continue;
      }
      V re[L], im[L];
      for (int j = 0; j < L; ++j) {
        re[j] = load_vec<V>(x + (k + j) * 2 * L) * scale;
        im[j] = load_vec<V>(x + (k + j) * 2 * L + L) * scale;
      }
      transpose<T>(re);
      transpose<T>(im);
      for (int l = 0; l < L; ++l) {
        T* p = dst + 2 * (base[l] + d);
        V a, b;
        interleave(re[l], im[l], a, b, seq);
        store_vec(p, a);
        store_vec(p + L, b);
      }
    }
    scatter_rows_scalar(x, dst, base, lanes, n, inner, shift, scale, k, n);
    return;
  }
#endif
  (void)consecutive;
  scatter_rows_scalar(x, dst, base, lanes, n, inner, shift, scale, 0, n);
}

// ---- plans ------------------------------------------------------------------------------------------

template <class T>
std::shared_ptr<const Plan<T>> make_plan(int64_t n, bool inverse) {
  auto plan = std::make_shared<Plan<T>>();
  plan->n = n;
  plan->inverse = inverse;
  const double sign = inverse ? 1.0 : -1.0;
  std::vector<int> radices;
  if (factorize(n, radices)) {
    int64_t ns = 1;
    for (int radix : radices) {
      Stage st{radix, ns, plan->tw.size(), plan->trig.size()};
      for (int64_t b = 0; b < ns; ++b)
        for (int q = 1; q < radix; ++q) {
          // exp(sign * 2 pi i * b q / (ns radix)), the angle reduced exactly in integers
          const int64_t num = (b * q) % (ns * radix);
          const double ang = sign * 2.0 * kPi * static_cast<double>(num) / static_cast<double>(ns * radix);
          plan->tw.push_back(static_cast<T>(std::cos(ang)));
          plan->tw.push_back(static_cast<T>(std::sin(ang)));
        }
      if (radix != 2 && radix != 3 && radix != 4 && radix != 5 && radix != 8)
        for (int k = 0; k < radix; ++k) {
          const double ang = 2.0 * kPi * k / radix;
          plan->trig.push_back(static_cast<T>(std::cos(ang)));
          plan->trig.push_back(static_cast<T>(std::sin(ang)));
        }
      plan->stages.push_back(st);
      ns *= radix;
    }
    if (plan->tw.empty()) plan->tw.push_back(T(0));
    if (plan->trig.empty()) plan->trig.push_back(T(0));
    return plan;
  }
  // Bluestein: X[k] = c[k] sum_j (x[j] c[j]) conj(c[k - j]) with c[j] = exp(sign i pi j^2 / n).
  const int64_t m = smooth_length(2 * n - 1);
  plan->m = m;
  plan->sub_forward = get_plan<T>(m, false);
  plan->sub_inverse = get_plan<T>(m, true);
  std::vector<double> cr(static_cast<std::size_t>(n)), ci(static_cast<std::size_t>(n));
  for (int64_t j = 0, jj = 0; j < n; ++j) {  // jj = j^2 mod 2n, updated by (j + 1)^2 = j^2 + 2j + 1
    if (j > 0) {
      jj += 2 * j - 1;
      while (jj >= 2 * n) jj -= 2 * n;
    }
    const double ang = sign * kPi * static_cast<double>(jj) / static_cast<double>(n);
    cr[static_cast<std::size_t>(j)] = std::cos(ang);
    ci[static_cast<std::size_t>(j)] = std::sin(ang);
    plan->chirp.push_back(static_cast<T>(cr[static_cast<std::size_t>(j)]));
    plan->chirp.push_back(static_cast<T>(ci[static_cast<std::size_t>(j)]));
  }
  // The kernel conj(c) laid out circularly over m, transformed in double in lane 0 of a block.
  constexpr int LD = kLanes<double>;
  std::vector<double> a(static_cast<std::size_t>(m * 2 * LD), 0.0), b(a.size(), 0.0);
  auto put = [&](int64_t row, double re, double im) {
    a[static_cast<std::size_t>(row * 2 * LD)] = re;
    a[static_cast<std::size_t>(row * 2 * LD + LD)] = im;
  };
  for (int64_t j = 0; j < n; ++j) {
    put(j, cr[static_cast<std::size_t>(j)], -ci[static_cast<std::size_t>(j)]);
    if (j > 0) put(m - j, cr[static_cast<std::size_t>(j)], -ci[static_cast<std::size_t>(j)]);
  }
  const double* k = execute(*get_plan<double>(m, false), a.data(), b.data());
  for (int64_t r = 0; r < m; ++r) {
    plan->kernel.push_back(static_cast<T>(k[r * 2 * LD] / static_cast<double>(m)));
    plan->kernel.push_back(static_cast<T>(k[r * 2 * LD + LD] / static_cast<double>(m)));
  }
  return plan;
}

template <class T>
std::shared_ptr<const Plan<T>> get_plan(int64_t n, bool inverse) {
  static std::mutex mutex;
  static std::map<std::pair<int64_t, bool>, std::shared_ptr<const Plan<T>>> cache;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache.find({n, inverse});
    if (it != cache.end()) return it->second;
  }
  std::shared_ptr<const Plan<T>> plan = make_plan<T>(n, inverse);  // outside the lock: may recurse
  std::lock_guard<std::mutex> lock(mutex);
  return cache.emplace(std::make_pair(n, inverse), std::move(plan)).first->second;
}

}  // namespace fft_detail

// Transforms every line of src, viewed as [outer][n][inner] interleaved complex values, into dst
// (which may be src): dst line = scale * DFT(line rolled by in_shift), rolled by out_shift, i.e.
//   y[k] = scale * sum_j x[(j - in_shift) mod n] exp(-+ 2 pi i j k / n),  dst[(k + out_shift) mod n] = y[k]
// with the + sign when inverse (no 1/n: scale carries any normalisation). Shifts are in [0, n).
template <Real T>
void fft_axis(const T* src, T* dst, int64_t outer, int64_t n, int64_t inner, bool inverse, T scale, int64_t in_shift,
              int64_t out_shift) {
  using namespace fft_detail;
  constexpr int L = kLanes<T>;
  constexpr int64_t W = 2 * L;
  if (outer == 0 || inner == 0 || n == 0) return;
  const std::shared_ptr<const Plan<T>> plan = get_plan<T>(n, inverse);
  const int64_t rows = plan->rows();
  const bool wide = inner >= L;  // blocks of neighbouring inner positions, else of consecutive lines
  const int64_t per_outer = (inner + L - 1) / L;
  const int64_t blocks = wide ? outer * per_outer : (outer * inner + L - 1) / L;
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / (n * L));
  parallel_for(0, blocks, grain, [&](int64_t b0, int64_t b1) {
    std::vector<T> buf(static_cast<std::size_t>(2 * rows * W));
    T* x = buf.data();
    T* y = x + rows * W;
    int64_t base[L];  // complex offset of each lane's line
    for (int64_t blk = b0; blk < b1; ++blk) {
      int lanes = L;
      if (wide) {
        const int64_t o = blk / per_outer, i0 = (blk % per_outer) * L;
        lanes = static_cast<int>(std::min<int64_t>(L, inner - i0));
        for (int l = 0; l < lanes; ++l) base[l] = o * n * inner + i0 + l;
      } else {
        const int64_t l0 = blk * L;
        lanes = static_cast<int>(std::min<int64_t>(L, outer * inner - l0));
        for (int l = 0; l < lanes; ++l) {
          const int64_t line = l0 + l;
          base[l] = (line / inner) * n * inner + line % inner;
        }
      }
      gather_block(src, x, base, lanes, wide, n, inner, in_shift);
      const T* res = execute(*plan, x, y);
      scatter_block(res, dst, base, lanes, wide, n, inner, out_shift, scale);
    }
  });
}

}  // namespace voxnn::backend::cpu
VOXNN_EIGEN_AVX512_WARNINGS_END
