#pragma once
// The direct convolution kernel every CPU convolution runs on (forward, input gradient, transposed).
//
// Problem ("tap convolution"): an input of `in_channels` buffers, each a flattened volume, and a list
// of taps, each an element offset into that volume. For every output channel co and output position q
//     y(co, q) = bias(co) + sum_{ci, t} w(co, ci, t) * x[ci * x_channel_stride + q + offset[t]]
// A stride-1 convolution over a zero-padded volume is exactly this with one tap per kernel element:
// positions q run over the padded volume's grid, so a row of output is a contiguous run of q and the
// input of every tap is a contiguous, shifted run as well. Strided convolutions become stride-1 ones
// over a phase-split input (ops/conv.hpp), and a transposed convolution is one such problem per output
// phase, so this one kernel covers them all.
//
// The output grid is `planes` planes of `rows` x `cols` valid positions; plane p, row r, column c sits
// at q = p * plane_stride + r * row_stride + c. Positions with c >= cols inside a row's stride are
// computed and thrown away (a few percent: row_stride - cols is the padding). The micro-kernel keeps
// an MR-channel x NR-vector block of outputs in registers for the whole reduction over in_channels x
// taps (weights broadcast, inputs loaded as unaligned vectors), so each input vector feeds MR FMAs and
// each weight NR of them.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include <Eigen/Core>

#include "voxnn/backend/cpu/simd.hpp"
#include "voxnn/core/diagnostics.hpp"
#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"

VOXNN_EIGEN_AVX512_WARNINGS_BEGIN
namespace voxnn::backend::cpu {

template <class T>
struct TapConvProblem {
  // input: x[ci * x_channel_stride + q + offsets[t]]; readable up to tap_conv_read_extent() elements
  const T* x = nullptr;
  int64_t x_channel_stride = 0;
  int64_t in_channels = 0;
  std::vector<int64_t> offsets;  // one per tap, >= 0

  // weight(co, ci, t) = weight[co * w_out_stride + ci * w_in_stride + w_tap_index[t]]
  const T* weight = nullptr;
  int64_t w_out_stride = 0, w_in_stride = 0;
  std::vector<int64_t> w_tap_index;
  const T* bias = nullptr;  // out_channels values, or none
  int64_t out_channels = 0;

  // output grid (see the header comment) and where each valid position goes:
  //   y[co * y_channel_stride + y_offset + p * y_plane + r * y_row + c * y_col]
  int64_t planes = 0, plane_stride = 0, rows = 0, row_stride = 0, cols = 0;
  T* y = nullptr;
  int64_t y_channel_stride = 0, y_offset = 0, y_plane = 0, y_row = 0, y_col = 0;
};

namespace tap_conv_detail {

// Register blocking: MR output channels x NR vectors of positions, chosen so accumulators, the NR
// input vectors and one broadcast weight fit the register file (16 or 32 vector registers).
inline constexpr int kMR = 4;
inline constexpr int kNR = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32 ? 4 : 3;

template <class T>
inline constexpr int64_t kTile = int64_t{kNR} * kLanes<T>;  // positions per micro-tile

// acc[m][j] = sum over (ci, t) of w * x, for kMR channels and kTile positions starting at x.
// wp holds the block's weights as [ci][t][kMR]. Stores the block to tile[kMR][kTile].
template <class T>
inline void micro_kernel(const T* x, int64_t x_channel_stride, int64_t in_channels, const int64_t* offsets,
                         int64_t taps, const T* wp, T* tile) {
  using P = Packet<T>;
  constexpr int L = kLanes<T>;
  P acc[kMR][kNR];
VOXNN_UNROLL(4)
  for (int m = 0; m < kMR; ++m)
VOXNN_UNROLL(4)
    for (int j = 0; j < kNR; ++j) acc[m][j] = Eigen::internal::pset1<P>(T(0));
  for (int64_t ci = 0; ci < in_channels; ++ci) {
    const T* xc = x + ci * x_channel_stride;
    for (int64_t t = 0; t < taps; ++t, wp += kMR) {
      const T* xs = xc + offsets[t];
      P xv[kNR];
VOXNN_UNROLL(4)
      for (int j = 0; j < kNR; ++j) xv[j] = Eigen::internal::ploadu<P>(xs + j * L);
VOXNN_UNROLL(4)
      for (int m = 0; m < kMR; ++m) {
        const P w = Eigen::internal::pset1<P>(wp[m]);
VOXNN_UNROLL(4)
        for (int j = 0; j < kNR; ++j) acc[m][j] = Eigen::internal::pmadd(w, xv[j], acc[m][j]);
      }
    }
  }
VOXNN_UNROLL(4)
  for (int m = 0; m < kMR; ++m)
VOXNN_UNROLL(4)
    for (int j = 0; j < kNR; ++j) Eigen::internal::pstoreu(tile + m * kTile<T> + j * L, acc[m][j]);
}

// Weights of output channels [co0, co0 + kMR) as [ci][t][kMR]; channels past out_channels are zero.
template <class T>
void pack_block(const TapConvProblem<T>& p, int64_t co0, T* out) {
  const auto taps = static_cast<int64_t>(p.offsets.size());
  for (int64_t ci = 0; ci < p.in_channels; ++ci)
    for (int64_t t = 0; t < taps; ++t)
      for (int m = 0; m < kMR; ++m) {
        const int64_t co = co0 + m;
        *out++ = co < p.out_channels
                     ? p.weight[co * p.w_out_stride + ci * p.w_in_stride + p.w_tap_index[static_cast<std::size_t>(t)]]
                     : T(0);
      }
}

inline int64_t run_length(int64_t rows, int64_t row_stride, int64_t cols) {
  return rows > 0 && cols > 0 ? (rows - 1) * row_stride + cols : 0;
}

}  // namespace tap_conv_detail

// How many elements of x (from x itself) the kernel may read: the buffer must hold that many, with
// finite values (zeros) wherever it holds no data. Reads past a row's valid columns only feed
// positions that are thrown away.
template <class T>
int64_t tap_conv_read_extent(int64_t in_channels, int64_t x_channel_stride, int64_t max_offset, int64_t planes,
                             int64_t plane_stride, int64_t rows, int64_t row_stride, int64_t cols) {
  using namespace tap_conv_detail;
  const int64_t run = run_length(rows, row_stride, cols);
  if (run == 0 || planes == 0 || in_channels == 0) return 0;
  const int64_t tiles = (run + kTile<T> - 1) / kTile<T>;
  return (in_channels - 1) * x_channel_stride + (planes - 1) * plane_stride + tiles * kTile<T> + max_offset;
}

template <class T>
void tap_conv(const TapConvProblem<T>& p) {
  using namespace tap_conv_detail;
  constexpr int64_t tile_len = kTile<T>;
  const auto taps = static_cast<int64_t>(p.offsets.size());
  VOXNN_CHECK(static_cast<int64_t>(p.w_tap_index.size()) == taps, "tap_conv: ", taps, " offsets but ",
              p.w_tap_index.size(), " weight taps");
  const int64_t run = run_length(p.rows, p.row_stride, p.cols);
  if (run == 0 || p.planes == 0 || p.out_channels == 0) return;

  const int64_t blocks = (p.out_channels + kMR - 1) / kMR;
  const int64_t block_size = p.in_channels * taps * kMR;
  std::vector<T> packed(static_cast<std::size_t>(blocks * block_size));
  for (int64_t b = 0; b < blocks; ++b) pack_block(p, b * kMR, packed.data() + b * block_size);

  // Work items: a few micro-tiles of one plane, over which every channel block is run, so that the
  // block's weights stay in L1 across them and the tiles' inputs in L2 across blocks.
  constexpr int64_t kTilesPerItem = 4;
  const int64_t tiles = (run + tile_len - 1) / tile_len;
  const int64_t items_per_plane = (tiles + kTilesPerItem - 1) / kTilesPerItem;
  const int64_t items = p.planes * items_per_plane;
  const int64_t flops_per_item = 2 * kTilesPerItem * tile_len * p.out_channels * p.in_channels * taps;
  auto run_items = [&](int64_t begin, int64_t end) {
    alignas(64) T tile[kMR * tile_len];
    for (int64_t item = begin; item < end; ++item) {
      const int64_t plane = item / items_per_plane;
      const int64_t first = (item % items_per_plane) * kTilesPerItem;
      const int64_t last = std::min(tiles, first + kTilesPerItem);
      const T* x_plane = p.x + plane * p.plane_stride;
      for (int64_t b = 0; b < blocks; ++b) {
        const T* wp = packed.data() + b * block_size;
        const int64_t co0 = b * kMR;
        const int mr = static_cast<int>(std::min<int64_t>(kMR, p.out_channels - co0));
        for (int64_t tix = first; tix < last; ++tix) {
          const int64_t q0 = tix * tile_len;
          micro_kernel(x_plane + q0, p.x_channel_stride, p.in_channels, p.offsets.data(), taps, wp, tile);
          // Scatter the valid positions of the tile to y.
          const int64_t n = std::min(tile_len, run - q0);
          for (int m = 0; m < mr; ++m) {
            const int64_t co = co0 + m;
            const T bias = p.bias ? p.bias[co] : T(0);
            T* y = p.y + co * p.y_channel_stride + p.y_offset + plane * p.y_plane;
            int64_t r = q0 / p.row_stride, c = q0 % p.row_stride;
            const T* src = tile + m * tile_len;
            for (int64_t j = 0; j < n;) {
              // the rest of this row inside the tile: valid columns first, then the padding
              const int64_t valid = std::min(p.cols - c, n - j);
              if (valid > 0) {
                T* dst = y + r * p.y_row + c * p.y_col;
                if (p.y_col == 1)
                  for (int64_t k = 0; k < valid; ++k) dst[k] = src[j + k] + bias;
                else
                  for (int64_t k = 0; k < valid; ++k) dst[k * p.y_col] = src[j + k] + bias;
              }
              const int64_t step = std::min(p.row_stride - c, n - j);
              j += step;
              c += step;
              if (c == p.row_stride) {
                c = 0;
                ++r;
              }
            }
          }
        }
      }
    }
  };
  if (items * flops_per_item < (int64_t{1} << 21)) run_items(0, items);  // too small to fork
  else parallel_for_each_dynamic(0, items, [&](int64_t item) { run_items(item, item + 1); });
}

// ---- weight gradient ----------------------------------------------------------------------------------
// The adjoint in the weights of the same problem: for every tap t, output channel co, input channel ci
//     c[(t * a_rows + co) * x_rows + ci] += sum_{q < len} a[co * lda + q] * x[ci * ldx + offsets[t] + q]
// (a: the output gradient on the position grid, zeros where the grid has padding). Blocks of kWR x kWC
// (co, ci) pairs keep one vector accumulator each over the positions, so each loaded vector of a feeds
// kWC FMAs and each one of x feeds kWR.
namespace tap_conv_detail {

inline constexpr int kWR = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32 ? 4 : 3;
inline constexpr int kWC = kWR;

template <class P>
inline void keep_in_register(P& v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm("" : "+v"(v));
#else
  (void)v;
#endif
}

template <class T, int R, int C>
void weight_block(const T* a, int64_t lda, const T* x, int64_t ldx, int64_t len, T* c, int64_t ldc) {
  using P = Packet<T>;
  constexpr int L = kLanes<T>;
  P acc[R][C];
VOXNN_UNROLL(4)
  for (int r = 0; r < R; ++r)
VOXNN_UNROLL(4)
    for (int k = 0; k < C; ++k) acc[r][k] = Eigen::internal::pset1<P>(T(0));
  int64_t q = 0;
  for (; q + L <= len; q += L) {
    P xv[C];
VOXNN_UNROLL(4)
    for (int k = 0; k < C; ++k) {
      xv[k] = Eigen::internal::ploadu<P>(x + k * ldx + q);
      // Keep loaded vectors in registers: GCC otherwise folds a load into each FMA that uses it,
      // four times the loads (mostly cache-line splits), and the loop becomes load-bound.
      keep_in_register(xv[k]);
    }
VOXNN_UNROLL(4)
    for (int r = 0; r < R; ++r) {
      P av = Eigen::internal::ploadu<P>(a + r * lda + q);
      keep_in_register(av);
VOXNN_UNROLL(4)
      for (int k = 0; k < C; ++k) acc[r][k] = Eigen::internal::pmadd(av, xv[k], acc[r][k]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int k = 0; k < C; ++k) {
      T sum = Eigen::internal::predux(acc[r][k]);
      for (int64_t i = q; i < len; ++i) sum += a[r * lda + i] * x[k * ldx + i];
      c[r * ldc + k] += sum;
    }
}

template <class T, int R, int C>
void weight_block_dispatch(int r, int c, const T* a, int64_t lda, const T* x, int64_t ldx, int64_t len, T* out,
                           int64_t ldc) {
  if constexpr (R > 1) {
    if (r < R) return weight_block_dispatch<T, R - 1, C>(r, c, a, lda, x, ldx, len, out, ldc);
  }
  if constexpr (C > 1) {
    if (c < C) return weight_block_dispatch<T, R, C - 1>(r, c, a, lda, x, ldx, len, out, ldc);
  }
  weight_block<T, R, C>(a, lda, x, ldx, len, out, ldc);
}

}  // namespace tap_conv_detail

template <class T>
void tap_conv_weight_grad(const T* a, int64_t lda, int64_t a_rows, const T* x, int64_t ldx, int64_t x_rows,
                          const std::vector<int64_t>& offsets, int64_t len, T* c) {
  using namespace tap_conv_detail;
  const auto taps = static_cast<int64_t>(offsets.size());
  // taps innermost: a block's rows of a stay in L1 and its x channels' windows in L2 across all taps
  for (int64_t r0 = 0; r0 < a_rows; r0 += kWR)
    for (int64_t c0 = 0; c0 < x_rows; c0 += kWC) {
      const int r = static_cast<int>(std::min<int64_t>(kWR, a_rows - r0));
      const int cc = static_cast<int>(std::min<int64_t>(kWC, x_rows - c0));
      for (int64_t t = 0; t < taps; ++t)
        weight_block_dispatch<T, kWR, kWC>(r, cc, a + r0 * lda, lda, x + c0 * ldx + offsets[static_cast<std::size_t>(t)],
                                           ldx, len, c + (t * a_rows + r0) * x_rows + c0, x_rows);
    }
}

}  // namespace voxnn::backend::cpu
VOXNN_EIGEN_AVX512_WARNINGS_END
