#include "core/matmul.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>
#include <cblas.h>
#include "core/error.h"
#include "core/flop_counter.h"
#include "core/f32_coded.h"
#include "core/gemm.h"
#include "core/kernels.h"
#include "core/quant.h"
#include "core/repack.h"
#include "core/thread_pool.h"
#include "core/threads.h"

namespace flops {
namespace {

// Below this many multiply-adds a product runs on the calling thread: handing chunks to the
// pool's workers costs ~1 us while they spin (core/thread_pool.h), much more once they sleep.
constexpr int64_t kParallelMinMacs = 1 << 16;
// The packed decode kernels of matmul_rows8 are faster per multiply-add, so the hand-off to the
// pool pays only for larger products: on S (288 wide) tg128 at 2 threads, 1 << 18 gave 1,766
// tok/s against 1,268 with 1 << 16 (a loaded machine; FLOPS_PACKED_MIN_MACS overrides, to
// measure it again on a quiet one).
int64_t packed_min_macs() {
  static const int64_t v = std::getenv("FLOPS_PACKED_MIN_MACS") ? std::atoll(std::getenv("FLOPS_PACKED_MIN_MACS")) : (1 << 18);
  return v;
}
// Float matrices of at least kStreamBytes, with rows of at least kStreamCols elements, get the
// row dots that prefetch ahead (kern::Table::fdot_stream, F16 and BF16, where the CPU's prefetch
// plan gives them a level of their own: core/prefetch_plan.cpp). On a Zen 4 VM the
// prefetch into L2 took M F16 tg128 (rows of 768 and 2048) on one thread from 83-89 to 93-100
// tok/s; S F16 fell from 530-780 to 355-434 with it, and to 380-395 with it on the output
// matrix alone (32000 rows of 288): short rows lose more than the prefetch brings, for a
// reason not found. With both limits S is as without it (600-690 against 650-700).
constexpr int64_t kStreamBytes = 1 << 20, kStreamCols = 512;
// A decode step's products go in few, large chunks: each chunk is a new sequential stream for
// the hardware prefetcher to pick up (and, on Zen 5, the row dots' software prefetch runs 8 KB
// past a chunk's end into rows another thread reads), so short chunks spend a large part of
// their time ramping up. Even chunks, M tg128 at 2 threads (Zen 4 VM, 3 alternations): Q4_0
// 312-370 tok/s with 8 per thread, 374-442 with 2; Q6_K 218-240 and 221-269; on the Zen 5 VM,
// M F16 tg64 alternating 10 times, 131-179 (median 145) with 8 against 139-205 (182) with 2.
// Guided chunks do better still: the first takes half of the rows (a thread's share), the next
// half of the rest divided among the threads, and so on down to kDecodeMinChunkBytes, so the
// thread that finishes first takes the small ones at the end instead of waiting, and a
// thread's consecutive claims are mostly neighbours that continue its stream. Against 2 even
// chunks per thread, tg8 alternated within one process 60-150 times (Zen 5 VM, 2 threads),
// median tok/s: M Q4_0 756 -> 792 (with `yes` on one core 417 -> 441), Q4_K_M 529 -> 558, Q6_K
// 390 -> 408, F16 167 -> 170, F32 108 -> 102 (means 101 -> 102), S F16 1,791 -> 1,911.
constexpr int64_t kDecodeMinChunkBytes = 32 << 10;
// The dequantize-then-sgemm path keeps OpenMP (OpenBLAS's own threads) and its old threshold:
// a passive OpenMP region costs tens of microseconds.
constexpr int64_t kParallelMinElems = 1 << 22;

int threads_for(int64_t rows, int64_t cols) {
  if (rows * cols < kParallelMinElems) return 1;
  return (int)std::max<int64_t>(1, std::min<int64_t>(get_threads(), rows));
}

// Chunks of about 1/kChunksPerThread of a thread's share (by default), claimed dynamically: the
// cores are shared with other processes, and a thread that loses its core would otherwise hold
// up the whole product with its fixed half. Each row is still computed whole by one thread, so
// results do not depend on the schedule.
constexpr int kChunksPerThread = 8;
int64_t rows_per_chunk(int64_t rows, int nt) {
  return std::max<int64_t>(4, rows / ((int64_t)nt * kChunksPerThread));
}

// body(r0, r1) over the rows [0, rows), on the shared pool when the product is large enough;
// chunks are a multiple of `align` rows (the packed GEMM takes groups in pairs). A prompt's
// products (unit_bytes 0) go in about kChunksPerThread even chunks per thread, a decode step's
// (unit_bytes: the weight bytes of one of the rows) in guided chunks of at least
// kDecodeMinChunkBytes.
template <typename F>
void for_rows(int64_t rows, int64_t macs, F&& body, int64_t min_macs = kParallelMinMacs, int64_t align = 1,
              int64_t unit_bytes = 0) {
  ThreadPool& pool = shared_pool();
  const int nt = std::min<int>(pool.size(), get_threads());
  if (nt <= 1 || macs < min_macs || rows < 2) {
    body(0, rows);
    return;
  }
  if (unit_bytes > 0) {
    const int64_t min_rows = (kDecodeMinChunkBytes + unit_bytes - 1) / unit_bytes;
    pool.parallel_for_guided(rows, (min_rows + align - 1) / align * align, align, nt, body);
    return;
  }
  pool.parallel_for(rows, (rows_per_chunk(rows, nt) + align - 1) / align * align, body);
}

void check_args(const char* fn, DType t, int64_t rows, int64_t cols, int64_t T) {
  if (!dtype_known((uint32_t)t)) fail("{}: unsupported tensor type {}", fn, dtype_name_of((uint32_t)t));
  if (rows < 0 || cols < 0 || T < 0) fail("{}: negative size rows={} cols={} T={}", fn, rows, cols, T);
  if (cols % dtype_block_elems(t) != 0)
    fail("{}: {} columns is not a multiple of the {} block size {}", fn, cols, dtype_name(t), dtype_block_elems(t));
}

// The T rows of X quantized for the integer products of weight type t: 32-element blocks with
// their sums, or 256-element blocks with the sums of each 16 (core/kernels.h), into buffers that
// live as long as the calling thread (no allocation per product). `macs`, the product's size,
// sends the quantization of a prompt-sized T to the pool (each row whole by one thread: the same
// bytes for any split); 0 keeps it on the calling thread.
const kern::QAct* quantize_acts(const kern::Table& k, DType t, const float* X, int64_t T, int64_t cols,
                                int64_t macs = 0) {
  thread_local std::vector<int8_t> q;
  thread_local std::vector<float> d, s;
  thread_local std::vector<int16_t> bsums;
  thread_local std::vector<kern::QAct> views;
  const bool super = dtype_super_block(t);
  const int64_t nb = cols / (super ? QK_K : QK);
  q.resize((size_t)(T * cols));
  d.resize((size_t)(T * nb));
  if (super) bsums.resize((size_t)(T * cols / 16));
  else s.resize((size_t)(T * nb));
  views.resize((size_t)T);
  // Plain pointers into this thread's buffers: inside the chunks, which may run on the pool's
  // workers, the names of the thread_local vectors would mean the workers' own.
  int8_t* qp = q.data();
  float *dp = d.data(), *sp = s.data();
  int16_t* bp = bsums.data();
  kern::QAct* vp = views.data();
  for_rows(T, macs, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      int8_t* qi = qp + i * cols;
      float* di = dp + i * nb;
      if (super) {
        int16_t* bi = bp + i * cols / 16;
        k.quant_act256(X + i * cols, cols, qi, di, nullptr, bi);
        vp[i] = {qi, di, nullptr, bi};
      } else {
        float* si = sp + i * nb;
        k.quant_act32(X + i * cols, cols, qi, di, si, nullptr);
        vp[i] = {qi, di, si, nullptr};
      }
    }
  });
  return views.data();
}

// Activation rows per tile of matmul_rows8: about 256 KB of int8 rows, so that a tile stays in
// L2 while it passes over a chunk of weight groups.
int64_t gemm_tile_rows(int64_t cols) {
  return std::max<int64_t>(kern::kDotRows, (int64_t)(256 << 10) / std::max<int64_t>(1, cols) / kern::kDotRows * kern::kDotRows);
}

// Y[i*rows + r] = dot(W[r,:], X[i*cols:]) for i < T, without FLOP accounting or argument
// checks; shared by matvec (T = 1) and small-T matmul. Each weight row is loaded once for all
// T vectors; block types decode each block once for up to kern::kDotRows activation rows
// (dot_rows), and a row's value does not depend on T, so a sequence decoded in a batch gets
// the products it would get alone.
void matvec_impl(DType t, const void* W, int64_t rows, int64_t cols, const float* X, int64_t T, float* Y) {
  const size_t stride = dtype_row_bytes(t, cols);
  const char* base = (const char*)W;
  const int64_t macs = rows * cols * T;
  const kern::Table& k = kern::active();
  if (dtype_is_float(t)) {
    const bool streams = cols >= kStreamCols && rows * stride >= kStreamBytes && k.fdot_stream[(uint32_t)t];
    const kern::FloatDotFn dot = streams ? k.fdot_stream[(uint32_t)t] : k.fdot[(uint32_t)t];
    for_rows(rows, macs, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; r++)
        for (int64_t i = 0; i < T; i++) Y[i * rows + r] = dot(base + r * stride, X + i * cols, cols);
    }, kParallelMinMacs, 1, (int64_t)stride);
    return;
  }
  const kern::QAct* xv = quantize_acts(k, t, X, T, cols);
  if (const kern::DotRowsFn rows_fn = k.dot_rows[(uint32_t)t]) {
    for_rows(rows, macs, [&](int64_t r0, int64_t r1) {
      float out[kern::kDotRows];
      for (int64_t r = r0; r < r1; r++)
        for (int64_t i0 = 0; i0 < T; i0 += kern::kDotRows) {
          const int nx = (int)std::min<int64_t>(kern::kDotRows, T - i0);
          rows_fn(base + r * stride, xv + i0, nx, cols, out);
          for (int j = 0; j < nx; j++) Y[(i0 + j) * rows + r] = out[j];
        }
    });
    return;
  }
  const kern::DotFn dot = k.dot[(uint32_t)t];
  for_rows(rows, macs, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++)
      for (int64_t i = 0; i < T; i++) Y[i * rows + r] = dot(base + r * stride, xv[i], cols);
  });
}

// Rows per dequantized tile: ~4 MB of floats, a multiple of 16 rows, so the tile stays in L2/L3
// while sgemm runs over all T rows of X.
int64_t tile_rows(int64_t rows, int64_t cols) {
  int64_t r = (int64_t)(4 << 20) / std::max<int64_t>(1, cols * 4);
  r = std::max<int64_t>(16, r / 16 * 16);
  return std::min(rows, r);
}

// Y = X W^T through sgemm on tiles of exactly dequantized rows; deq(r, out) writes row r of W.
template <typename Deq>
void dequantized_sgemm(int64_t rows, int64_t cols, const float* X, int64_t T, float* Y, Deq&& deq) {
  const int64_t tr = tile_rows(rows, cols);
  std::vector<float> tile((size_t)(tr * cols));
  for (int64_t r0 = 0; r0 < rows; r0 += tr) {
    const int64_t nr = std::min(tr, rows - r0);
    const int nt = threads_for(nr, cols);
    const int64_t chunk = rows_per_chunk(nr, nt);
#pragma omp parallel for schedule(dynamic, chunk) num_threads(nt) if (nt > 1)
    for (int64_t r = 0; r < nr; r++) deq(r0 + r, tile.data() + r * cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)nr, (int)cols, 1.0f, X, (int)cols, tile.data(),
                (int)cols, 0.0f, Y + r0, (int)rows);
  }
}

}  // namespace

void matvec(DType t, const void* W, int64_t rows, int64_t cols, const float* x, float* y) {
  check_args("matvec", t, rows, cols, 1);
  matvec_impl(t, W, rows, cols, x, 1, y);
  counter::add_matmul(2 * (uint64_t)rows * (uint64_t)cols);
}

void matmul(DType t, const void* W, int64_t rows, int64_t cols, const float* X, int64_t T, float* Y) {
  check_args("matmul", t, rows, cols, T);
  counter::add_matmul(2 * (uint64_t)rows * (uint64_t)cols * (uint64_t)T);
  if (rows == 0 || T == 0) return;
  if (cols == 0) {
    std::fill(Y, Y + rows * T, 0.0f);
    return;
  }
  if (T <= kMatmulMatvecMaxT) {
    matvec_impl(t, W, rows, cols, X, T, Y);
    return;
  }
  if (gemm_available()) {
    gemm_nt(t, W, WeightLayout::RowMajor, rows, cols, X, T, Y);
    return;
  }
  if (t == DType::F32) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)rows, (int)cols, 1.0f, X, (int)cols,
                (const float*)W, (int)cols, 0.0f, Y, (int)rows);
    return;
  }
  const size_t stride = dtype_row_bytes(t, cols);
  dequantized_sgemm(rows, cols, X, T, Y, [&](int64_t r, float* out) { dequantize_row(t, (const char*)W + r * stride, out, cols); });
}

bool f32_coded_available() {
  static const bool off = std::getenv("FLOPS_NO_F32_CODED") != nullptr;  // an A/B switch, read once
  return !off && kern::active().fdot_f32_coded != nullptr;
}

void matmul_f32_coded(const void* W, int64_t rows, int64_t cols, const float* X, int64_t T, float* Y) {
  check_args("matmul_f32_coded", DType::F32, rows, cols, T);
  if (cols % kF32CodedBlock != 0) fail("matmul_f32_coded: {} columns is not a multiple of {}", cols, kF32CodedBlock);
  counter::add_matmul(2 * (uint64_t)rows * (uint64_t)cols * (uint64_t)T);
  if (rows == 0 || T == 0) return;
  if (T > kMatmulMatvecMaxT) {
    if (gemm_available()) return gemm_nt(DType::F32, W, WeightLayout::F32Coded, rows, cols, X, T, Y);
    return dequantized_sgemm(rows, cols, X, T, Y, [&](int64_t r, float* out) { f32_coded_row(W, rows, r, cols, out); });
  }
  const F32CodedView v = f32_coded_view(W, rows, cols);
  const kern::Table& k = kern::active();
  const kern::F32CodedDotFn coded = k.fdot_f32_coded;
  const kern::FloatDotFn dot = k.fdot[(uint32_t)DType::F32];
  for_rows(rows, rows * cols * T, [&](int64_t r0, int64_t r1) {
    // Without the coded kernel (another variant chosen since the load): decode, then fdot.
    thread_local std::vector<float> decoded;
    if (!coded) decoded.resize((size_t)cols);
    for (int64_t r = r0; r < r1; r++) {
      const uint32_t e0 = v.esc_start[r], ne = v.esc_start[r + 1] - e0;
      const uint8_t* row = v.rows + (size_t)r * v.row_bytes;
      if (!coded) f32_coded_row(W, rows, r, cols, decoded.data());
      for (int64_t i = 0; i < T; i++)
        Y[i * rows + r] = coded ? coded(row, v.table, v.esc_col + e0, v.esc_byte + e0, ne, X + i * cols, cols)
                                : dot(decoded.data(), X + i * cols, cols);
    }
  }, kParallelMinMacs, 1, (int64_t)v.row_bytes);
}

namespace {

// Groups [g0, g1) of 8 rows of one packed matrix against the T quantized rows xv (the work of
// matmul_rows8 on one thread): Y's columns g0 * 8 .. g1 * 8 of every row.
void rows8_groups(DType t, const void* W, int64_t rows, int64_t cols, const kern::QAct* xv, int64_t T, float* Y,
                  int64_t g0, int64_t g1) {
  const size_t stride = dtype_row_bytes(t, cols);
  constexpr int G = kern::kPackRows;
  const kern::Table& k = kern::active();
  const char* base = (const char*)W;
  const kern::DotRows8Fn fn = k.dot_rows8[(uint32_t)t];
  const kern::DotRowsFn rows_fn = k.dot_rows[(uint32_t)t];
  // Decoding steps keep dot_rows8 (one pass over each block, which streams from memory) where
  // the GEMM kernel makes two passes, which pay once a block serves many rows; a variant whose
  // GEMM kernels are one pass (gemm_rows8_any_t) uses them for every T. All give the same bits.
  static const bool no_gemm8 = std::getenv("FLOPS_NO_GEMM8") != nullptr;  // an A/B switch, read once
  const kern::Gemm8Fn gemm = (T > kMatmulMatvecMaxT || k.gemm_rows8_any_t) && !no_gemm8 ? k.gemm_rows8[(uint32_t)t] : nullptr;
  const int64_t tile = gemm_tile_rows(cols);
  // Within a chunk of groups, each tile of X is run against every group of the chunk: the group
  // stays in L1 while the kernel's steps of a few rows of X pass over it, and the tile stays in
  // L2 for the next group.
  const int64_t ng = rows / G;
  // The GEMM kernels start at a pair (kern::packed_group); a chunk that starts or ends inside a
  // pair runs that group by itself, with the same bits.
  int64_t p0 = g0, p1 = g1;
  if (gemm) {
    if (p0 & 1) p0++;
    if ((p1 & 1) && p1 < ng) p1--;
    p1 = std::max(p0, p1);
  }
  float out[kern::kDotRows * G];
  thread_local std::vector<uint8_t> unpacked;
  const auto one_group = [&](int64_t g, int64_t t0, int64_t t1) {
    const kern::PackedGroup pg = kern::packed_group(t, base, g, ng, G * stride);
    if (!fn) {  // a variant without the packed kernel: back to row-major rows
      unpacked.resize(stride * G);
      for (int r = 0; r < G; r++) unpack_row8(t, W, rows, g * G + r, cols, unpacked.data() + r * stride);
    }
    for (int64_t i0 = t0; i0 < t1; i0 += kern::kDotRows) {
      const int nx = (int)std::min<int64_t>(kern::kDotRows, t1 - i0);
      if (fn) {
        fn(pg.at, pg.step, xv + i0, nx, cols, out);
      } else {
        for (int r = 0; r < G; r++) {
          float o[kern::kDotRows];
          rows_fn(unpacked.data() + r * stride, xv + i0, nx, cols, o);
          for (int j = 0; j < nx; j++) out[j * G + r] = o[j];
        }
      }
      for (int j = 0; j < nx; j++) std::memcpy(Y + (i0 + j) * rows + g * G, out + j * G, G * sizeof(float));
    }
  };
  for (int64_t t0 = 0; t0 < T; t0 += tile) {
    const int64_t t1 = std::min(T, t0 + tile);
    if (gemm && p1 > p0) gemm(base + p0 * G * stride, p1 - p0, G * stride, xv + t0, t1 - t0, cols, Y + t0 * rows + p0 * G, rows);
    for (int64_t g = g0; g < g1; g++)
      if (!gemm || g < p0 || g >= p1) one_group(g, t0, t1);
  }
}

// The products ps[i] for which take(i) holds, with X quantized once (they quantize it alike) and
// one pool job over all their groups, end to end: a chunk that crosses from one matrix into the
// next runs its two parts.
template <typename Take>
void rows8_together(const Rows8Product* ps, int n, int64_t cols, const float* X, int64_t T, Take take) {
  constexpr int G = kern::kPackRows;
  int first = -1;
  int64_t groups = 0;
  for (int i = 0; i < n; i++)
    if (take(i)) {
      if (first < 0) first = i;
      groups += ps[i].rows / G;
    }
  if (first < 0 || T == 0) return;
  const int64_t macs = groups * G * cols * T;
  const kern::QAct* xv = quantize_acts(kern::active(), ps[first].t, X, T, cols, T > kMatmulMatvecMaxT ? macs : 0);
  for_rows(groups, macs, [&](int64_t g0, int64_t g1) {
    int64_t at = 0;
    for (int i = 0; i < n && at < g1; i++) {
      if (!take(i)) continue;
      const int64_t count = ps[i].rows / G, b = std::max(g0, at), e = std::min(g1, at + count);
      if (b < e) rows8_groups(ps[i].t, ps[i].W, ps[i].rows, cols, xv, T, ps[i].Y, b - at, e - at);
      at += count;
    }
  }, T > kMatmulMatvecMaxT ? kParallelMinMacs : packed_min_macs(), 2, T > kMatmulMatvecMaxT ? 0 : (int64_t)(G * dtype_row_bytes(ps[first].t, cols)));
}

}  // namespace

void matmul_rows8(DType t, const void* W, int64_t rows, int64_t cols, const float* X, int64_t T, float* Y) {
  const Rows8Product p{t, W, rows, Y};
  matmul_rows8_many(&p, 1, cols, X, T);
}

void matmul_rows8_many(const Rows8Product* ps, int n, int64_t cols, const float* X, int64_t T) {
  const kern::Table& k = kern::active();
  for (int i = 0; i < n; i++) {
    check_args("matmul_rows8", ps[i].t, ps[i].rows, cols, T);
    if (!rows8_packable(ps[i].t, ps[i].rows, cols))
      fail("matmul_rows8: a {} x {} {} matrix has no packed form", ps[i].rows, cols, dtype_name(ps[i].t));
  }
  for (int i = 0; i < n; i++) counter::add_matmul(2 * (uint64_t)ps[i].rows * (uint64_t)cols * (uint64_t)T);
  // A prompt against a packed type without an int8 GEMM: its exact dequantized rows through the
  // F32 GEMM, alone.
  const auto via_f32 = [&](int i) { return T > kMatmulMatvecMaxT && !k.gemm_rows8[(uint32_t)ps[i].t] && gemm_available(); };
  for (int i = 0; i < n; i++)
    if (via_f32(i)) gemm_nt(ps[i].t, ps[i].W, WeightLayout::Rows8, ps[i].rows, cols, X, T, ps[i].Y);
  // The others by how they quantize X: 32-element blocks, or 256-element super-blocks.
  for (const bool super : {false, true})
    rows8_together(ps, n, cols, X, T, [&](int i) { return !via_f32(i) && dtype_super_block(ps[i].t) == super; });
}

float dot_row_exact(DType t, const void* row, const float* x, int64_t n) {
  check_args("dot_row_exact", t, 1, n, 1);
  const kern::Table& k = kern::active();
  if (dtype_is_float(t)) return k.fdot[(uint32_t)t](row, x, n);
  // Block types: dequantize a few blocks at a time into a stack buffer.
  constexpr int64_t kChunk = 2 * QK_K;
  float buf[kChunk];
  const int64_t be = dtype_block_elems(t);
  const size_t bytes_per_block = dtype_block_bytes(t);
  float s = 0.0f;
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t m = std::min(kChunk, n - i);
    k.dequant[(uint32_t)t]((const char*)row + (i / be) * bytes_per_block, buf, m);
    s += k.fdot[(uint32_t)DType::F32](buf, x + i, m);
  }
  return s;
}

}  // namespace flops
