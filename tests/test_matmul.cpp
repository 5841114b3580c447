#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/flop_counter.h"
#include "core/gemm.h"
#include "core/kernels.h"
#include "core/matmul.h"
#include "core/prefetch_plan.h"
#include "core/quant.h"
#include "core/repack.h"
#include "core/thread_pool.h"
#include "core/threads.h"
#include "test_quant_util.h"

using namespace flops;

namespace {

// Every supported type; block types get random blocks (every code and scale pattern, see
// random_blocks) so that the kernels are tested independently of the quantizers.
const auto& kAll = kAllDTypes;

using test::for_each_variant;

struct Weights {
  DType t;
  int64_t rows, cols;
  std::vector<uint8_t> bytes;
  std::vector<float> deq;  // what the stored weights mean, row-major
};

Weights make_weights(DType t, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.5f);
  Weights w{t, rows, cols, {}, {}};
  const size_t stride = dtype_row_bytes(t, cols);
  w.bytes.resize(stride * rows);
  w.deq.resize((size_t)(rows * cols));
  if (dtype_is_float(t)) {
    std::vector<float> row((size_t)cols);
    for (int64_t r = 0; r < rows; r++) {
      for (auto& v : row) v = nd(rng);
      quantize_row(t, row.data(), w.bytes.data() + r * stride, cols);
    }
  } else {
    // Scales of ~0.01-0.1 (a super-block's codes times its sub-scales are ~8x larger).
    const float k = dtype_super_block(t) ? 8.0f : 1.0f;
    test::randomize_blocks(t, w.bytes, rng, 0.01f / k, 0.1f / k);
  }
  for (int64_t r = 0; r < rows; r++) dequantize_row(t, w.bytes.data() + r * stride, w.deq.data() + r * cols, cols);
  return w;
}

std::vector<float> random_x(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> ud(-2.0f, 2.0f);
  std::vector<float> x((size_t)n);
  for (auto& v : x) v = ud(rng);
  return x;
}

// Allowed |y - ref| for one output: fp32 accumulation error, plus for the int8 path of the
// block types the activation rounding: at most dx/2 per element with dx = max|x_blk|/127.
double tolerance(const Weights& w, int64_t r, const float* x, bool int8_path) {
  double abs_dot = 0.0, act = 0.0;
  for (int64_t c = 0; c < w.cols; c++) abs_dot += std::fabs((double)w.deq[r * w.cols + c] * x[c]);
  if (int8_path) {
    const int ab = dtype_super_block(w.t) ? QK_K : QK;  // activation block
    for (int64_t b = 0; b < w.cols / ab; b++) {
      double amax = 0.0, wsum = 0.0;
      for (int j = 0; j < ab; j++) {
        amax = std::max(amax, (double)std::fabs(x[b * ab + j]));
        wsum += std::fabs(w.deq[r * w.cols + b * ab + j]);
      }
      act += wsum * amax / 127.0 / 2.0;
    }
  }
  return act * 1.001 + 2e-6 * abs_dot + 1e-6;
}

bool is_block(DType t) { return !dtype_is_float(t); }

void check_matvec(DType t, int64_t rows, int64_t cols, uint32_t seed) {
  auto w = make_weights(t, rows, cols, seed);
  auto x = random_x(cols, seed + 1);
  std::vector<float> y((size_t)rows, -1.0f);
  matvec(t, w.bytes.data(), rows, cols, x.data(), y.data());
  for (int64_t r = 0; r < rows; r++) {
    double ref = 0.0;
    for (int64_t c = 0; c < cols; c++) ref += (double)w.deq[r * cols + c] * x[c];
    ASSERT_NEAR(y[r], ref, tolerance(w, r, x.data(), is_block(t)))
        << dtype_name(t) << " rows=" << rows << " cols=" << cols << " r=" << r;
  }
}

void check_matmul(DType t, int64_t rows, int64_t cols, int64_t T, uint32_t seed) {
  auto w = make_weights(t, rows, cols, seed);
  auto X = random_x(T * cols, seed + 1);
  std::vector<float> Y((size_t)(T * rows), -1.0f);
  counter::Scope scope;
  matmul(t, w.bytes.data(), rows, cols, X.data(), T, Y.data());
  EXPECT_EQ(scope.elapsed().matmul, (uint64_t)(2 * rows * cols * T));
  EXPECT_EQ(scope.elapsed().total(), (uint64_t)(2 * rows * cols * T));
  const bool int8_path = is_block(t) && T <= kMatmulMatvecMaxT;
  for (int64_t i = 0; i < T; i++) {
    for (int64_t r = 0; r < rows; r++) {
      double ref = 0.0;
      for (int64_t c = 0; c < cols; c++) ref += (double)w.deq[r * cols + c] * X[i * cols + c];
      ASSERT_NEAR(Y[i * rows + r], ref, tolerance(w, r, X.data() + i * cols, int8_path))
          << dtype_name(t) << " rows=" << rows << " cols=" << cols << " T=" << T << " t=" << i << " r=" << r;
    }
  }
}

}  // namespace

// Columns for a test shape: c rounded up to the type's block.
int64_t C(DType t, int64_t c) {
  const int64_t b = dtype_block_elems(t);
  return (c + b - 1) / b * b;
}

TEST(Matvec, AllTypesVsNaive) {
  for_each_variant([](KernelVariant) {
    for (DType t : kAll) {
      check_matvec(t, 37, C(t, 96), 1);
      check_matvec(t, 1, C(t, 32), 2);
      check_matvec(t, 64, 4096, 3);  // large enough to run on several threads
      check_matvec(t, 300, C(t, 160), 4);
      check_matvec(t, 3, C(t, 32 * 9 + 256 * 3), 5);  // block counts that leave tails after groups of 8
    }
  });
}

// The integer dot products against a naive reference that uses the same int8 activations:
// sum_j w_j * (q_j * d_block) in double. Only the order of fp32 additions may differ.
TEST(Matvec, IntegerPathVsNaiveWithSameActivations) {
  for_each_variant([](KernelVariant) {
    for (DType t : kAll) {
      if (dtype_is_float(t)) continue;
      for (int64_t cols : {C(t, 32), C(t, 288), (int64_t)2304, (int64_t)4096}) {
        auto w = make_weights(t, 5, cols, (uint32_t)(cols + (int)t));
        auto x = random_x(cols, 91);
        const int ab = dtype_super_block(t) ? QK_K : QK;
        std::vector<int8_t> q(cols);
        std::vector<float> d(cols / ab), s(cols / ab);
        std::vector<int16_t> bs(cols / 16);
        if (ab == QK) kern::table_scalar().quant_act32(x.data(), cols, q.data(), d.data(), s.data(), nullptr);
        else kern::table_scalar().quant_act256(x.data(), cols, q.data(), d.data(), nullptr, bs.data());
        std::vector<float> y(5);
        matvec(t, w.bytes.data(), 5, cols, x.data(), y.data());
        for (int64_t r = 0; r < 5; r++) {
          double ref = 0.0, mag = 0.0;
          for (int64_t c = 0; c < cols; c++) {
            const double xv = (double)q[c] * d[c / ab];
            ref += (double)w.deq[r * cols + c] * xv;
            mag += std::fabs((double)w.deq[r * cols + c] * xv);
          }
          ASSERT_NEAR(y[r], ref, 3e-6 * mag + 1e-6) << dtype_name(t) << " cols=" << cols << " r=" << r;
        }
      }
    }
  });
}

TEST(Matvec, FloatTypesAnyColumnCount) {
  for_each_variant([](KernelVariant) {
    for (DType t : {DType::F32, DType::F16, DType::BF16})
      for (int64_t cols : {1, 7, 15, 16, 17, 45, 63, 65, 129}) check_matvec(t, 5, cols, (uint32_t)cols);
  });
}

TEST(Matvec, ExactOnSmallIntegers) {
  // Integer weights and activations are exact in these types and in the int8 activation
  // quantization, so every path must return the exact integer dot product.
  const int64_t rows = 9, cols = 64;
  std::vector<float> wf((size_t)(rows * cols)), x((size_t)cols);
  for (int64_t i = 0; i < rows * cols; i++) wf[i] = (float)((int)(i * 7 % 15) - 7);
  for (int64_t c = 0; c < cols; c++) x[c] = c % QK == 0 ? 127.0f : (float)((int)(c * 5 % 21) - 10);
  for (int64_t r = 0; r < rows; r++) wf[r * cols + r] = -8.0f;  // makes Q4_0 scales exactly 1
  for (int64_t r = 0; r < rows; r++) wf[r * cols + 32 + r] = -8.0f;
  for_each_variant([&](KernelVariant) {
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q4_0}) {
      std::vector<uint8_t> W(dtype_row_bytes(t, cols) * rows);
      for (int64_t r = 0; r < rows; r++)
        quantize_row(t, wf.data() + r * cols, W.data() + r * dtype_row_bytes(t, cols), cols);
      std::vector<float> y((size_t)rows);
      matvec(t, W.data(), rows, cols, x.data(), y.data());
      for (int64_t r = 0; r < rows; r++) {
        double ref = 0.0;
        for (int64_t c = 0; c < cols; c++) ref += (double)wf[r * cols + c] * x[c];
        EXPECT_EQ(y[r], (float)ref) << dtype_name(t) << " r=" << r;
        EXPECT_EQ(dot_row_exact(t, W.data() + r * dtype_row_bytes(t, cols), x.data(), cols), (float)ref);
      }
    }
  });
}

TEST(DotRowExact, AllTypesVsNaive) {
  for_each_variant([](KernelVariant) {
    for (DType t : kAll) {
      for (int64_t cols : {C(t, 32), C(t, 96), C(t, 288), (int64_t)4096}) {
        auto w = make_weights(t, 3, cols, (uint32_t)cols);
        auto x = random_x(cols, 77);
        for (int64_t r = 0; r < 3; r++) {
          double ref = 0.0;
          for (int64_t c = 0; c < cols; c++) ref += (double)w.deq[r * cols + c] * x[c];
          float got = dot_row_exact(t, w.bytes.data() + r * dtype_row_bytes(t, cols), x.data(), cols);
          EXPECT_NEAR(got, ref, tolerance(w, r, x.data(), false)) << dtype_name(t) << " cols=" << cols;
        }
      }
    }
  });
}

TEST(Matvec, ZeroActivationsAndWeights) {
  for_each_variant([](KernelVariant) {
    for (DType t : kAll) {
      const int64_t cols = C(t, 64);
      auto w = make_weights(t, 7, cols, 5);
      std::vector<float> x(cols, 0.0f), y(7, 1.0f);
      matvec(t, w.bytes.data(), 7, cols, x.data(), y.data());
      for (float v : y) EXPECT_EQ(v, 0.0f) << dtype_name(t);
      std::vector<uint8_t> zero(w.bytes.size(), 0);
      auto x2 = random_x(cols, 6);
      matvec(t, zero.data(), 7, cols, x2.data(), y.data());
      for (float v : y) EXPECT_EQ(v, 0.0f) << dtype_name(t);
    }
  });
}

TEST(Matvec, NonFiniteActivationsPropagate) {
  for_each_variant([](KernelVariant) {
    for (DType t : kAll) {
      const int64_t cols = C(t, 96);
      auto w = make_weights(t, 5, cols, 12);
      for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
        auto x = random_x(cols, 13);
        x[40] = bad;
        std::vector<float> y(5);
        matvec(t, w.bytes.data(), 5, cols, x.data(), y.data());
        for (float v : y) EXPECT_FALSE(std::isfinite(v)) << dtype_name(t) << " x has " << bad;
      }
    }
  });
}

TEST(Matvec, SameResultForAnyThreadCount) {
  const int prev = get_threads();
  for (DType t : kAll) {
    auto w = make_weights(t, 129, 1024, 8);
    auto x = random_x(1024, 9);
    std::vector<float> y1(129), y2(129);
    set_threads(1);
    matvec(t, w.bytes.data(), 129, 1024, x.data(), y1.data());
    set_threads(2);
    matvec(t, w.bytes.data(), 129, 1024, x.data(), y2.data());
    EXPECT_EQ(y1, y2) << dtype_name(t);
  }
  set_threads(prev);
}

TEST(Matvec, FlopCount) {
  for (DType t : kAll) {
    const int64_t cols = C(t, 96);
    auto w = make_weights(t, 37, cols, 10);
    auto x = random_x(cols, 11);
    std::vector<float> y(37);
    counter::Scope s;
    matvec(t, w.bytes.data(), 37, cols, x.data(), y.data());
    EXPECT_EQ(s.elapsed().matmul, 2u * 37 * cols);
    EXPECT_EQ(s.elapsed().total(), 2u * 37 * cols);
  }
}

TEST(Matmul, AllTypesOddShapes) {
  for_each_variant([](KernelVariant) {
    for (DType t : kAll)
      for (int64_t T : {1, 3, 4, 5, 17}) check_matmul(t, 37, C(t, 96), T, (uint32_t)(T * 13));
  });
}

TEST(Matmul, SeveralTiles) {
  // 4096 columns -> 256-row tiles, so 300 rows take two tiles with a partial one.
  for (DType t : kAll) check_matmul(t, 300, 4096, 6, 21);
}

TEST(Matmul, ThreadCountsAgree) {
  const int prev = get_threads();
  for (DType t : kAll) {
    auto w = make_weights(t, 70, 256, 30);
    auto X = random_x(9 * 256, 31);
    std::vector<float> Y1(9 * 70), Y2(9 * 70);
    set_threads(1);
    matmul(t, w.bytes.data(), 70, 256, X.data(), 9, Y1.data());
    set_threads(2);
    matmul(t, w.bytes.data(), 70, 256, X.data(), 9, Y2.data());
    for (size_t i = 0; i < Y1.size(); i++) EXPECT_NEAR(Y1[i], Y2[i], 1e-4f * (1.0f + std::fabs(Y1[i])));
  }
  set_threads(prev);
}

TEST(Matmul, EmptyShapes) {
  std::vector<float> X(8, 1.0f), Y(8, 5.0f);
  std::vector<uint8_t> W(64, 0);
  counter::Scope s;
  matmul(DType::F32, W.data(), 0, 4, X.data(), 2, Y.data());
  matmul(DType::F32, W.data(), 4, 4, X.data(), 0, Y.data());
  EXPECT_EQ(Y[0], 5.0f);
  matmul(DType::F32, W.data(), 4, 0, X.data(), 2, Y.data());
  for (float v : Y) EXPECT_EQ(v, 0.0f);
  EXPECT_EQ(s.elapsed().matmul, 0u);
}

TEST(Matmul, RejectsBadShapes) {
  std::vector<float> X(64, 1.0f), Y(64);
  std::vector<uint8_t> W(1024, 0);
  try {
    matvec(DType::Q4_0, W.data(), 2, 48, X.data(), Y.data());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("48"), std::string::npos) << e.what();
  }
  EXPECT_THROW(matmul(DType::Q8_0, W.data(), 2, 33, X.data(), 5, Y.data()), Error);
  EXPECT_THROW(matmul(DType::F32, W.data(), -1, 4, X.data(), 5, Y.data()), Error);
  EXPECT_THROW(matvec((DType)5, W.data(), 2, 32, X.data(), Y.data()), Error);
  try {
    matvec((DType)16, W.data(), 2, 256, X.data(), Y.data());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported tensor type IQ2_XXS"), std::string::npos) << e.what();
  }
  EXPECT_THROW(matvec(DType::Q4_K, W.data(), 2, 128, X.data(), Y.data()), Error);
}

// The several-rows kernels (kern::Table::dot_rows) against a naive reference with the same int8
// activations, for every row count, and each row's value bit for bit the one it gets alone (a
// sequence's products must not depend on which others share its batch).
TEST(DotRows, EveryRowCountVsNaiveAndBatchInvariant) {
  for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K})
    EXPECT_NE(kern::active().dot_rows[(int)t], nullptr) << dtype_name(t) << " has no several-rows kernel";
  for_each_variant([](KernelVariant) {
    const kern::Table& k = kern::active();
    for (DType t : kAll) {
      const kern::DotRowsFn fn = k.dot_rows[(int)t];
      if (!fn) continue;
      const int ab = dtype_super_block(t) ? QK_K : QK;
      // Block counts that leave tails after the kernels' groups of 8 blocks.
      for (int64_t cols : {C(t, 32), C(t, 32 * 9), (int64_t)256 * 3, (int64_t)2304}) {
        auto w = make_weights(t, 3, cols, (uint32_t)(cols + 7 * (int)t));
        const int R = kern::kDotRows;
        std::vector<std::vector<float>> xs;
        std::vector<std::vector<int8_t>> q(R, std::vector<int8_t>(cols));
        std::vector<std::vector<float>> d(R, std::vector<float>(cols / ab)), s(R, std::vector<float>(cols / ab));
        std::vector<std::vector<int16_t>> bs(R, std::vector<int16_t>(cols / 16));
        std::vector<kern::QAct> view(R);
        for (int i = 0; i < R; i++) {
          xs.push_back(random_x(cols, (uint32_t)(100 + i)));
          if (ab == QK) {
            k.quant_act32(xs[i].data(), cols, q[i].data(), d[i].data(), s[i].data(), nullptr);
            view[i] = {q[i].data(), d[i].data(), s[i].data(), nullptr};
          } else {
            k.quant_act256(xs[i].data(), cols, q[i].data(), d[i].data(), nullptr, bs[i].data());
            view[i] = {q[i].data(), d[i].data(), nullptr, bs[i].data()};
          }
        }
        for (int64_t r = 0; r < 3; r++) {
          const void* row = w.bytes.data() + r * dtype_row_bytes(t, cols);
          float alone[kern::kDotRows];
          for (int i = 0; i < R; i++) fn(row, &view[i], 1, cols, &alone[i]);
          for (int nx = 1; nx <= R; nx++)
            for (int i0 = 0; i0 + nx <= R; i0++) {
              float y[kern::kDotRows];
              fn(row, view.data() + i0, nx, cols, y);
              for (int i = 0; i < nx; i++) {
                double ref = 0.0, mag = 0.0;
                for (int64_t c = 0; c < cols; c++) {
                  const double xv = (double)q[i0 + i][c] * d[i0 + i][c / ab];
                  ref += (double)w.deq[r * cols + c] * xv;
                  mag += std::fabs((double)w.deq[r * cols + c] * xv);
                }
                ASSERT_NEAR(y[i], ref, 3e-6 * mag + 1e-6) << dtype_name(t) << " cols=" << cols << " nx=" << nx << " i=" << i;
                ASSERT_EQ(y[i], alone[i0 + i]) << dtype_name(t) << " cols=" << cols << " nx=" << nx << " i=" << i;
              }
            }
        }
      }
    }
  });
}

// Small batches (the server's decode steps: one token for each of T sequences) for every type,
// T = 1..8: against the naive dequantize-then-dot reference, and each row of Y bit for bit the
// matvec of that row of X alone, on 1 and 2 threads (300 rows: enough to split across threads).
TEST(Matmul, SmallBatchesVsNaiveAndEqualToMatvec) {
  const int prev = get_threads();
  for_each_variant([](KernelVariant) {
    for (DType t : kAll) {
      const int64_t rows = 300, cols = C(t, 288);
      auto w = make_weights(t, rows, cols, 41);
      auto X = random_x(8 * cols, 42);
      std::vector<std::vector<float>> alone(8, std::vector<float>(rows));
      for (int64_t i = 0; i < 8; i++) matvec(t, w.bytes.data(), rows, cols, X.data() + i * cols, alone[i].data());
      for (int threads : {1, 2}) {
        set_threads(threads);
        for (int64_t T = 1; T <= 8; T++) {
          std::vector<float> Y((size_t)(T * rows), -1.0f);
          matmul(t, w.bytes.data(), rows, cols, X.data(), T, Y.data());
          const bool int8_path = is_block(t) && T <= kMatmulMatvecMaxT;
          for (int64_t i = 0; i < T; i++)
            for (int64_t r = 0; r < rows; r++) {
              double ref = 0.0;
              for (int64_t c = 0; c < cols; c++) ref += (double)w.deq[r * cols + c] * X[i * cols + c];
              ASSERT_NEAR(Y[i * rows + r], ref, tolerance(w, r, X.data() + i * cols, int8_path))
                  << dtype_name(t) << " T=" << T << " threads=" << threads << " i=" << i << " r=" << r;
              if (T <= kMatmulMatvecMaxT) {
                ASSERT_EQ(Y[i * rows + r], alone[i][r]) << dtype_name(t) << " T=" << T << " i=" << i << " r=" << r;
              }
            }
        }
      }
    }
  });
  set_threads(prev);
}

// Weights packed 8 rows at a time (core/repack.h), for each packed type: the packed bytes are the
// original bytes reordered and unpack (and dequantize) to the original rows, and matmul_rows8
// against the naive reference for T = 1..8 (the packed kernels) and 9..100 (the int8 GEMM where
// the type has one, else the F32 GEMM or the packed kernels per 4 rows), with each row of Y of
// the int8 paths bit for bit the one it gets alone (batch invariance), the same on 1, 2 and 5
// threads (more threads than this machine's cores), FLOPs counted as matmul's.
const DType kPacked[] = {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K};

TEST(PackRows8, UnpacksToTheOriginalRowsAndRefusesOtherShapes) {
  for (DType t : kPacked) {
    const int64_t rows = 24, cols = 3 * dtype_block_elems(t);
    auto w = make_weights(t, rows, cols, 5);
    const size_t stride = dtype_row_bytes(t, cols);
    std::vector<uint8_t> packed(w.bytes.size()), row(stride);
    pack_rows8(t, w.bytes.data(), rows, cols, packed.data());
    EXPECT_NE(packed, w.bytes) << dtype_name(t);
    // The same bytes, reordered.
    std::vector<uint8_t> a = packed, b = w.bytes;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    EXPECT_EQ(a, b) << dtype_name(t);
    for (int64_t r = 0; r < rows; r++) {
      unpack_row8(t, packed.data(), rows, r, cols, row.data());
      ASSERT_EQ(std::memcmp(row.data(), w.bytes.data() + r * stride, stride), 0) << dtype_name(t) << " row " << r;
      std::vector<float> deq((size_t)cols);
      dequantize_row8(t, packed.data(), rows, r, cols, deq.data());
      ASSERT_EQ(0, std::memcmp(deq.data(), w.deq.data() + r * cols, cols * sizeof(float))) << dtype_name(t) << " row " << r;
    }
    // Known bytes: every layout starts a packed block with the first byte of row 0's scale d
    // (Q6_K's d is its block's last field). Q4_0 and Q8_0: groups 0 and 1 form a pair whose
    // blocks alternate, group 2 stands alone; the K-quants' groups follow each other whole.
    // Either way a lone group's blocks are one after the other.
    const size_t bb = dtype_block_bytes(t), b8 = 8 * bb, gb = 8 * stride;
    const size_t d0 = t == DType::Q6_K ? 208 : 0;
    const bool alternate = t == DType::Q4_0 || t == DType::Q8_0;
    EXPECT_EQ(kern::packs_alternating(t), alternate) << dtype_name(t);
    EXPECT_EQ(packed[0], w.bytes[d0]) << dtype_name(t);
    EXPECT_EQ(packed[alternate ? b8 : gb], w.bytes[gb + d0]) << dtype_name(t) << ": group 1, block 0";
    EXPECT_EQ(packed[alternate ? 2 * b8 : b8], w.bytes[bb + d0]) << dtype_name(t) << ": group 0, block 1";
    EXPECT_EQ(packed[alternate ? 3 * b8 : gb + b8], w.bytes[gb + bb + d0]) << dtype_name(t) << ": group 1, block 1";
    EXPECT_EQ(packed[2 * gb + b8], w.bytes[2 * gb + bb + d0]) << dtype_name(t) << ": group 2, block 1";
    EXPECT_TRUE(rows8_packable(t, 8, dtype_block_elems(t)));
    EXPECT_FALSE(rows8_packable(t, 12, dtype_block_elems(t)));
  }
  EXPECT_FALSE(rows8_packable(DType::Q4_K, 8, 288));
  EXPECT_FALSE(rows8_packable(DType::F32, 8, 32));
  EXPECT_FALSE(rows8_packable(DType::Q5_K, 8, 256));
  auto w = make_weights(DType::Q4_0, 24, 96, 5);
  std::vector<uint8_t> packed(w.bytes.size());
  try {
    pack_rows8(DType::Q4_0, w.bytes.data(), 20, 96, packed.data());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "pack_rows8: a 20 x 96 Q4_0 matrix has no packed form");
  }
}

TEST(MatmulRows8, VsNaiveBatchInvariantAnyThreadCount) {
  const int prev = get_threads();
  for_each_variant([](KernelVariant) {
    for (DType t : kPacked) {
      // Past T = 8 the product is int8 (and batch-invariant) unless the F32 GEMM takes it.
      const bool int8_big = kern::active().gemm_rows8[(int)t] || !gemm_available();
      // Group counts even and odd (296 rows: 37 groups; 8: one; 72: 9), odd block counts.
      const int64_t b = dtype_block_elems(t);
      const int64_t wide = b == 32 ? 9 * 32 : 3 * b;
      const std::pair<int64_t, int64_t> shapes[] = {{296, b}, {296, wide}, {8, wide}, {72, wide}};
      for (const auto& shape : shapes) {
        const int64_t rows = shape.first, cols = shape.second;
        auto w = make_weights(t, rows, cols, (uint32_t)(61 + cols + rows));
        std::vector<uint8_t> packed(w.bytes.size());
        pack_rows8(t, w.bytes.data(), rows, cols, packed.data());
        constexpr int64_t kMaxT = 100;
        auto X = random_x(kMaxT * cols, 62);
        std::vector<std::vector<float>> alone(kMaxT, std::vector<float>(rows));
        std::vector<double> ref((size_t)(kMaxT * rows));
        set_threads(1);
        for (int64_t i = 0; i < kMaxT; i++) {
          matmul_rows8(t, packed.data(), rows, cols, X.data() + i * cols, 1, alone[i].data());
          for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++) ref[i * rows + r] += (double)w.deq[r * cols + c] * X[i * cols + c];
        }
        for (int threads : {1, 2, 5}) {
          set_threads(threads);
          set_pool_threads(threads);
          for (int64_t T : {1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 64, 100}) {
            std::vector<float> Y((size_t)(T * rows), -1.0f);
            counter::Scope scope;
            matmul_rows8(t, packed.data(), rows, cols, X.data(), T, Y.data());
            EXPECT_EQ(scope.elapsed().matmul, (uint64_t)(2 * rows * cols * T));
            const bool int8_path = T <= kMatmulMatvecMaxT || int8_big;
            for (int64_t i = 0; i < T; i++)
              for (int64_t r = 0; r < rows; r++) {
                ASSERT_NEAR(Y[i * rows + r], ref[i * rows + r], tolerance(w, r, X.data() + i * cols, int8_path))
                    << dtype_name(t) << " rows=" << rows << " cols=" << cols << " T=" << T << " threads=" << threads
                    << " i=" << i << " r=" << r;
                if (int8_path) {
                  ASSERT_EQ(Y[i * rows + r], alone[i][r]) << dtype_name(t) << " rows=" << rows << " cols=" << cols
                                                          << " T=" << T << " threads=" << threads << " i=" << i << " r=" << r;
                }
              }
          }
        }
      }
    }
  });
  set_threads(prev);
  set_pool_threads(prev);
}

// A prompt-sized product tiles X (core/matmul.cpp: ~256 KB of int8 rows per tile): with 4096
// columns a tile is 64 rows, so T = 150 runs two whole tiles and a partial one.
TEST(MatmulRows8, SeveralTilesOfActivations) {
  const int prev = get_threads();
  const int64_t rows = 16, cols = 4096, T = 150;
  auto w = make_weights(DType::Q4_0, rows, cols, 71);
  std::vector<uint8_t> packed(w.bytes.size());
  pack_rows8(DType::Q4_0, w.bytes.data(), rows, cols, packed.data());
  auto X = random_x(T * cols, 72);
  std::vector<float> one((size_t)(T * rows)), two((size_t)(T * rows)), alone((size_t)rows);
  for (int threads : {1, 2}) {
    set_threads(threads);
    set_pool_threads(threads);
    matmul_rows8(DType::Q4_0, packed.data(), rows, cols, X.data(), T, threads == 1 ? one.data() : two.data());
  }
  EXPECT_EQ(one, two);
  for (int64_t i = 0; i < T; i++) {
    matmul_rows8(DType::Q4_0, packed.data(), rows, cols, X.data() + i * cols, 1, alone.data());
    for (int64_t r = 0; r < rows; r++) {
      ASSERT_EQ(one[i * rows + r], alone[r]) << "i=" << i << " r=" << r;
      double ref = 0.0;
      for (int64_t c = 0; c < cols; c++) ref += (double)w.deq[r * cols + c] * X[i * cols + c];
      ASSERT_NEAR(one[i * rows + r], ref, tolerance(w, r, X.data() + i * cols, true)) << "i=" << i << " r=" << r;
    }
  }
  set_threads(prev);
  set_pool_threads(prev);
}

// Where a variant runs its GEMM kernel for decode steps too (gemm_rows8_any_t), the two kernels
// must agree bit for bit, or a server's batched step would not reproduce its one-sequence run.
// Called directly: matmul_rows8 picks one of them for a given T and would compare a kernel with
// itself. Three groups: a two-group vector and a lone last group.
TEST(MatmulRows8, GemmKernelGivesTheDecodeKernelsBits) {
  int checked = 0;
  for_each_variant([&](KernelVariant) {
    const kern::Table& k = kern::active();
    for (DType t : kPacked) {
      if (!k.gemm_rows8[(int)t] || !k.dot_rows8[(int)t]) continue;
      const bool super = dtype_super_block(t);
      const int64_t rows = 24, cols = super ? 2 * QK_K : 9 * QK, nb = cols / (super ? QK_K : QK);
      auto w = make_weights(t, rows, cols, 81);
      std::vector<uint8_t> packed(w.bytes.size());
      pack_rows8(t, w.bytes.data(), rows, cols, packed.data());
      constexpr int kMaxX = 7;
      auto X = random_x(kMaxX * cols, 82);
      std::vector<int8_t> q((size_t)(kMaxX * cols));
      std::vector<float> d((size_t)(kMaxX * nb)), s((size_t)(kMaxX * nb));
      std::vector<int16_t> bsums((size_t)(kMaxX * cols / 16));
      std::vector<kern::QAct> xv(kMaxX);
      for (int i = 0; i < kMaxX; i++) {
        int8_t* qi = q.data() + i * cols;
        float *di = d.data() + i * nb, *si = s.data() + i * nb;
        int16_t* bi = bsums.data() + i * cols / 16;
        if (super) k.quant_act256(X.data() + i * cols, cols, qi, di, nullptr, bi), xv[i] = {qi, di, nullptr, bi};
        else k.quant_act32(X.data() + i * cols, cols, qi, di, si, nullptr), xv[i] = {qi, di, si, nullptr};
      }
      const size_t group_bytes = packed.size() / (rows / kern::kPackRows);
      for (int nx = 1; nx <= kMaxX; nx++) {
        std::vector<float> gemm((size_t)(nx * rows), -1.0f), dot((size_t)(nx * rows), -2.0f);
        k.gemm_rows8[(int)t](packed.data(), rows / kern::kPackRows, group_bytes, xv.data(), nx, cols, gemm.data(), rows);
        for (int64_t g = 0; g < rows / kern::kPackRows; g++)
          for (int i0 = 0; i0 < nx; i0 += kern::kDotRows) {
            const int n = std::min(kern::kDotRows, nx - i0);
            float out[kern::kDotRows * kern::kPackRows];
            const kern::PackedGroup pg = kern::packed_group(t, packed.data(), g, rows / kern::kPackRows, group_bytes);
            k.dot_rows8[(int)t](pg.at, pg.step, xv.data() + i0, n, cols, out);
            for (int i = 0; i < n; i++)
              for (int r = 0; r < kern::kPackRows; r++) dot[(i0 + i) * rows + g * kern::kPackRows + r] = out[i * kern::kPackRows + r];
          }
        EXPECT_EQ(gemm, dot) << dtype_name(t) << " nx=" << nx;
        checked++;
      }
    }
  });
#if defined(__x86_64__)
  EXPECT_GT(checked, 0);  // the x86 variants have Q4_0's
#endif
}

// Several products of one X in one call: for every pair of packed types (sharing X's
// quantization or not), T from a decode step to a prompt, 1 and 2 threads, the values are bit for
// bit one matmul_rows8 each, and the FLOPs counted are theirs.
TEST(MatmulRows8, ManyProductsGiveEachProductsBits) {
  const int prev = get_threads();
  const int64_t cols = 2 * QK_K;
  struct M {
    DType t;
    int64_t rows;
    std::vector<uint8_t> packed;
  };
  std::vector<M> ms;
  uint32_t seed = 90;
  for (DType t : kPacked)
    for (int64_t rows : {264, 40}) {  // 33 and 5 groups: chunks end inside a matrix, past the pool threshold
      auto w = make_weights(t, rows, cols, seed++);
      M m{t, rows, std::vector<uint8_t>(w.bytes.size())};
      pack_rows8(t, w.bytes.data(), rows, cols, m.packed.data());
      ms.push_back(std::move(m));
    }
  for (int threads : {1, 2}) {
    set_threads(threads);
    for (int64_t T : {1, 5, 8, 20}) {
      const auto X = random_x(T * cols, 91);
      for (size_t a = 0; a < ms.size(); a++)
        for (size_t b = 0; b < ms.size(); b += 3) {
          const M* pick[3] = {&ms[a], &ms[b], &ms[(a + b) % ms.size()]};
          std::vector<std::vector<float>> one(3), many(3);
          uint64_t want = 0;
          for (int i = 0; i < 3; i++) {
            one[i].assign((size_t)(T * pick[i]->rows), -1.0f);
            many[i].assign((size_t)(T * pick[i]->rows), -2.0f);
            counter::Scope s;
            matmul_rows8(pick[i]->t, pick[i]->packed.data(), pick[i]->rows, cols, X.data(), T, one[i].data());
            want += s.elapsed().matmul;
          }
          Rows8Product ps[3];
          for (int i = 0; i < 3; i++) ps[i] = {pick[i]->t, pick[i]->packed.data(), pick[i]->rows, many[i].data()};
          counter::Scope s;
          matmul_rows8_many(ps, 3, cols, X.data(), T);
          EXPECT_EQ(s.elapsed().matmul, want);
          for (int i = 0; i < 3; i++)
            EXPECT_EQ(many[i], one[i]) << dtype_name(pick[i]->t) << " in " << dtype_name(pick[0]->t) << "/" << dtype_name(pick[1]->t)
                                       << "/" << dtype_name(pick[2]->t) << " T=" << T << " threads " << threads;
        }
    }
  }
  set_threads(prev);
}

// The float row dots that prefetch ahead (kern::Table::fdot_stream, taken by matvec for large
// matrices) give the bits of the plain ones, whose values the tests above check, for rows
// shorter than a vector, with tails, and long. The AVX-512 table has a separate streaming form
// exactly where the CPU's prefetch plan gives large F16 matrices a level of their own.
TEST(Matvec, StreamingFloatRowDotsGiveThePlainOnesBits) {
  int checked = 0;
  for_each_variant([&](KernelVariant) {
    const kern::Table& k = kern::active();
    for (DType t : {DType::F16, DType::BF16}) {
      if (!k.fdot_stream[(int)t]) continue;
      for (int64_t n : {1, 17, 64, 300, 768, 2048}) {
        const auto w = random_x(n, 7 + (uint32_t)n), x = random_x(n, 8 + (uint32_t)n);
        std::vector<uint16_t> h((size_t)n);
        for (int64_t i = 0; i < n; i++) h[i] = t == DType::F16 ? fp32_to_fp16(w[i]) : fp32_to_bf16(w[i]);
        EXPECT_EQ(k.fdot_stream[(int)t](h.data(), x.data(), n), k.fdot[(int)t](h.data(), x.data(), n))
            << k.name << " " << dtype_name(t) << " n=" << n;
        checked++;
      }
    }
  });
#if defined(__x86_64__)
  if (kernel_variant_supported(KernelVariant::AVX512)) {
    EXPECT_EQ(checked > 0, kern::prefetch_plan().f16_stream != kern::prefetch_plan().f16);
  }
#endif
}
