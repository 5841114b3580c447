#include "core/gemm.h"

#include <algorithm>
#include <vector>

#include "core/f32_coded.h"
#include "core/kernels.h"
#include "core/quant.h"
#include "core/repack.h"
#include "core/thread_pool.h"
#include "core/threads.h"

namespace flops {
namespace {

constexpr int kNR = 32;      // columns of a tile = rows of W in a panel
constexpr int kMR = 12;      // rows of X in a tile
constexpr int64_t kKC = 256; // k values per packed panel: 32 KB of floats

// Rows of W per unit of work: at most 128 (four panels, whose packing is reused by every row of
// X), fewer when that leaves a thread without work (S's 288-row matrices on two threads).
int64_t group_rows(int64_t rows, int nt) {
  const int64_t want = (rows + 4 * nt - 1) / (4 * nt);
  return std::clamp<int64_t>((want + kNR - 1) / kNR * kNR, kNR, 128);
}

}  // namespace

bool gemm_available() { return kern::active().gemm_f32_tile != nullptr; }

void gemm_nt(DType t, const void* W, WeightLayout layout, int64_t rows, int64_t cols, const float* X, int64_t T,
             float* Y) {
  const kern::GemmTileFn tile = kern::active().gemm_f32_tile;
  const auto pack = kern::active().gemm_f32_pack;
  ThreadPool& pool = shared_pool();
  const int nt = std::max(1, std::min<int>(pool.size(), get_threads()));
  const int64_t G = group_rows(rows, nt), groups = (rows + G - 1) / G;
  const bool direct = t == DType::F32 && layout == WeightLayout::RowMajor;
  const size_t stride = dtype_row_bytes(t, cols);
  auto run = [&](int64_t g0, int64_t g1) {
    thread_local std::vector<float> dequantized, panels;
    for (int64_t g = g0; g < g1; g++) {
      const int64_t r0 = g * G, nr = std::min(G, rows - r0), np = (nr + kNR - 1) / kNR;
      if (!direct) {
        dequantized.resize((size_t)(nr * cols));
        for (int64_t r = 0; r < nr; r++) {
          float* out = dequantized.data() + r * cols;
          if (layout == WeightLayout::Rows8)
            dequantize_row8(t, W, rows, r0 + r, cols, out);
          else if (layout == WeightLayout::F32Coded)
            f32_coded_row(W, rows, r0 + r, cols, out);
          else
            dequantize_row(t, (const char*)W + (r0 + r) * stride, out, cols);
        }
      }
      const float* src = direct ? (const float*)W + r0 * cols : dequantized.data();
      for (int64_t k0 = 0; k0 < cols; k0 += kKC) {
        const int64_t kc = std::min(kKC, cols - k0);
        // Rows past nr in the last panel stay zero; a full last panel needs no clearing.
        if (nr % kNR) panels.assign((size_t)(np * kc * kNR), 0.0f);
        else panels.resize((size_t)(np * kc * kNR));
        pack(src + k0, cols, nr, kc, panels.data());
        for (int64_t i0 = 0; i0 < T; i0 += kMR) {
          const int mr = (int)std::min<int64_t>(kMR, T - i0);
          for (int64_t p = 0; p < np; p++)
            tile(X + i0 * cols + k0, cols, mr, panels.data() + p * kc * kNR, kc, Y + i0 * rows + r0 + p * kNR, rows,
                 (int)std::min<int64_t>(kNR, nr - p * kNR), k0 > 0);
        }
      }
    }
  };
  if (nt <= 1 || groups < 2)
    run(0, groups);
  else
    pool.parallel_for(groups, 1, run);
}

}  // namespace flops
