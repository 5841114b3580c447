// The F32 GEMM of prompt-sized products (core/gemm.h) against a naive double-precision
// reference, over shapes that leave partial panels, partial tiles and partial k blocks; for
// row-major and 8-row-packed weights; bit for bit the same for any thread count and for any T.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/gemm.h"
#include "core/matmul.h"
#include "core/quant.h"
#include "core/repack.h"
#include "core/threads.h"
#include "test_quant_util.h"

using namespace flops;

namespace {

struct Case {
  std::vector<uint8_t> w;
  std::vector<float> deq, x;
};

Case make(DType t, int64_t rows, int64_t cols, int64_t T, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.5f);
  Case c;
  std::vector<float> f((size_t)(rows * cols));
  for (auto& v : f) v = nd(rng);
  const size_t stride = dtype_row_bytes(t, cols);
  c.w.resize(stride * rows);
  c.deq.resize(f.size());
  for (int64_t r = 0; r < rows; r++) {
    quantize_row(t, f.data() + r * cols, c.w.data() + r * stride, cols);
    dequantize_row(t, c.w.data() + r * stride, c.deq.data() + r * cols, cols);
  }
  c.x.resize((size_t)(T * cols));
  for (auto& v : c.x) v = nd(rng);
  return c;
}

// fp32 sums of `cols` products: a few ulps of the sum of |products| each.
void expect_near_reference(const Case& c, int64_t rows, int64_t cols, int64_t T, const std::vector<float>& Y,
                           const char* what) {
  for (int64_t i = 0; i < T; i++)
    for (int64_t r = 0; r < rows; r++) {
      double ref = 0, mag = 0;
      for (int64_t k = 0; k < cols; k++) {
        const double p = (double)c.deq[r * cols + k] * c.x[i * cols + k];
        ref += p, mag += std::fabs(p);
      }
      ASSERT_NEAR(Y[i * rows + r], ref, 2e-6 * mag + 1e-6) << what << " rows=" << rows << " cols=" << cols << " T=" << T
                                                           << " i=" << i << " r=" << r;
    }
}

TEST(Gemm, VsNaiveOverOddShapes) {
  if (!gemm_available()) GTEST_SKIP() << "no GEMM tile on this CPU's kernel variant (OpenBLAS does these products)";
  for (DType t : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0, DType::Q6_K})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 256}, {31, 512}, {33, 768}, {130, 256}, {300, 1024}})
      for (int64_t T : {9, 16, 17, 100}) {
        const int64_t cc = t == DType::Q6_K ? cols : cols + (cols == 512 ? 32 : 0);  // 544: a partial k block
        Case c = make(t, rows, cc, T, (uint32_t)(rows * 7 + T));
        std::vector<float> Y((size_t)(T * rows), -1.0f);
        gemm_nt(t, c.w.data(), WeightLayout::RowMajor, rows, cc, c.x.data(), T, Y.data());
        expect_near_reference(c, rows, cc, T, Y, std::string(dtype_name(t)).c_str());
      }
}

// Rows and k values that are not multiples of the packing's 16 x 16 blocks (float types only).
TEST(Gemm, FloatWeightsWithRaggedEdges) {
  if (!gemm_available()) GTEST_SKIP() << "no GEMM tile on this CPU's kernel variant (OpenBLAS does these products)";
  for (DType t : {DType::F32, DType::F16})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{17, 200}, {48, 263}, {64, 16}, {100, 300}})
      for (int64_t T : {9, 33}) {
        Case c = make(t, rows, cols, T, (uint32_t)(rows * 5 + T));
        std::vector<float> Y((size_t)(T * rows), -1.0f);
        gemm_nt(t, c.w.data(), WeightLayout::RowMajor, rows, cols, c.x.data(), T, Y.data());
        expect_near_reference(c, rows, cols, T, Y, std::string(dtype_name(t)).c_str());
      }
}

TEST(Gemm, PackedWeightsGiveTheRowMajorResult) {
  if (!gemm_available()) GTEST_SKIP() << "no GEMM tile on this CPU's kernel variant";
  const int64_t rows = 72, cols = 320, T = 23;
  Case c = make(DType::Q4_0, rows, cols, T, 5);
  std::vector<uint8_t> packed(c.w.size());
  pack_rows8(DType::Q4_0, c.w.data(), rows, cols, packed.data());
  std::vector<float> a((size_t)(T * rows)), b(a.size());
  gemm_nt(DType::Q4_0, c.w.data(), WeightLayout::RowMajor, rows, cols, c.x.data(), T, a.data());
  gemm_nt(DType::Q4_0, packed.data(), WeightLayout::Rows8, rows, cols, c.x.data(), T, b.data());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
  expect_near_reference(c, rows, cols, T, b, "packed");
}

TEST(Gemm, SameBitsForAnyThreadCountAndAnyT) {
  if (!gemm_available()) GTEST_SKIP() << "no GEMM tile on this CPU's kernel variant";
  const int prev = get_threads();
  const int64_t rows = 290, cols = 544, T = 41;
  Case c = make(DType::F32, rows, cols, T, 9);
  std::vector<float> ref((size_t)(T * rows));
  set_threads(1);
  gemm_nt(DType::F32, c.w.data(), WeightLayout::RowMajor, rows, cols, c.x.data(), T, ref.data());
  for (int th : {2, 5}) {
    set_threads(th);
    std::vector<float> y(ref.size());
    gemm_nt(DType::F32, c.w.data(), WeightLayout::RowMajor, rows, cols, c.x.data(), T, y.data());
    EXPECT_EQ(0, std::memcmp(ref.data(), y.data(), y.size() * sizeof(float))) << th << " threads";
  }
  // The first 13 rows of X alone: the same rows of Y, bit for bit.
  std::vector<float> part((size_t)(13 * rows));
  gemm_nt(DType::F32, c.w.data(), WeightLayout::RowMajor, rows, cols, c.x.data(), 13, part.data());
  EXPECT_EQ(0, std::memcmp(ref.data(), part.data(), part.size() * sizeof(float)));
  set_threads(prev);
}

}  // namespace
