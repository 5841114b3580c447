// The coded F32 form (core/f32_coded.h): its bytes, its lossless round trip (special values and
// escapes included), and its products, bit for bit the F32 ones under every kernel variant,
// every T and 1, 2 and 3 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "core/f32_coded.h"
#include "core/huge_pages.h"
#include "core/matmul.h"
#include "core/threads.h"
#include "test_quant_util.h"

using namespace flops;

namespace {

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// Random normal weights (std 0.02), with `specials` of the entries replaced by values whose
// top bytes no code covers: zeros of both signs, infinities, NaNs, subnormals, large values.
std::vector<float> weights(int64_t rows, int64_t cols, uint64_t seed, int specials) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  std::vector<float> w((size_t)(rows * cols));
  for (float& v : w) v = nd(rng);
  const float odd[] = {0.0f, -0.0f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                       std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::denorm_min(), -1e-40f,
                       3.0e38f, -123456.0f, 1.0f};
  for (int i = 0; i < specials; i++) w[rng() % w.size()] = odd[i % 10];
  return w;
}

struct Coded {
  F32CodedPlan plan;
  HugePages mem;
};

Coded code(const std::vector<float>& w, int64_t rows, int64_t cols) {
  Coded c{f32_coded_plan(w.data(), rows, cols), HugePages(0)};
  c.mem = HugePages(c.plan.bytes);
  f32_coded_pack(w.data(), rows, cols, c.plan, c.mem.data);
  return c;
}

}  // namespace

TEST(F32Coded, KnownBytesOfOneBlock) {
  // 128 weights: 1.5 (top byte 0x3f) but for -2.0 (0xc0) at 1 and 2, 14 powers of two with top
  // bytes 0x3e down to 0x31 at 10-23, and a NaN (0x7f) at 5: 17 top bytes, the NaN's the one
  // left without a code (it is as rare as the powers, which rank first among equals by value).
  std::vector<float> w(128, 1.5f);
  w[1] = w[2] = -2.0f;
  for (int j = 0; j < 14; j++) w[10 + j] = std::ldexp(1.0f, -2 * j - 3);
  const uint32_t nan_bits = 0x7fc01234u;
  std::memcpy(&w[5], &nan_bits, 4);
  Coded c = code(w, 1, 128);
  EXPECT_EQ(c.plan.top[0], 0x3f);  // the most frequent first
  EXPECT_EQ(c.plan.top[1], 0xc0);
  EXPECT_EQ(c.plan.escapes, 1);
  const uint8_t* b = c.mem.data;
  for (int r = 1; r < 4; r++) EXPECT_EQ(std::memcmp(b, b + 16 * r, 16), 0);  // table x 4
  uint64_t data_at, escapes;
  std::memcpy(&data_at, b + 64, 8);
  std::memcpy(&escapes, b + 72, 8);
  EXPECT_EQ(escapes, 1u);
  uint32_t esc_start[2], esc_col;
  std::memcpy(esc_start, b + 80, 8);
  std::memcpy(&esc_col, b + 88, 4);
  EXPECT_EQ(esc_start[0], 0u);
  EXPECT_EQ(esc_start[1], 1u);
  EXPECT_EQ(esc_col, 5u);
  EXPECT_EQ(b[92], 0x7f);  // its top byte
  EXPECT_EQ(data_at % 64, 0u);
  EXPECT_EQ(c.plan.bytes, data_at + kF32CodedBlockBytes);
  const uint8_t* row = b + data_at;
  // Low 3 bytes of element 0 (1.5f = 0x3fc00000) and element 1 (-2.0f = 0xc0000000).
  EXPECT_EQ(row[0], 0x00);
  EXPECT_EQ(row[1], 0x00);
  EXPECT_EQ(row[2], 0xc0);
  EXPECT_EQ(row[3], 0x00);
  EXPECT_EQ(row[5], 0x00);
  // Codes: element 0 in the low nibble of byte 384, element 1 in its high nibble.
  EXPECT_EQ(c.plan.top[row[384] & 15], 0x3f);
  EXPECT_EQ(c.plan.top[row[384] >> 4], 0xc0);
  std::vector<float> out(128);
  f32_coded_row(c.mem.data, 1, 0, 128, out.data());
  for (int j = 0; j < 128; j++) EXPECT_EQ(bits(out[j]), bits(w[j])) << j;
}

TEST(F32Coded, RoundTripIsBitExact) {
  test::for_each_variant([](KernelVariant) {  // the scalar decoder and the VBMI one
    for (int specials : {0, 7, 300}) {
      const int64_t rows = 37, cols = 384;
      auto w = weights(rows, cols, 1 + specials, specials);
      Coded c = code(w, rows, cols);
      std::vector<float> out((size_t)cols);
      for (int64_t r = 0; r < rows; r++) {
        f32_coded_row(c.mem.data, rows, r, cols, out.data());
        for (int64_t j = 0; j < cols; j++)
          ASSERT_EQ(bits(out[j]), bits(w[r * cols + j])) << "specials " << specials << " row " << r << " col " << j;
      }
      EXPECT_GE(c.plan.escapes, specials > 0 ? 1 : 0);
    }
  });
}

TEST(F32Coded, PlansOnlyWhatPays) {
  auto w = weights(8, 256, 3, 0);
  F32CodedPlan p = f32_coded_plan(w.data(), 8, 256);
  EXPECT_TRUE(p.worth);
  EXPECT_LT(p.bytes, (size_t)8 * 256 * 4);
  EXPECT_FALSE(f32_coded_plan(w.data(), 16, 128 + 64).worth);  // rows not whole blocks
  // Random bits: the top bytes are uniform, and the escapes would cost more than they save.
  std::mt19937 rng(4);
  std::vector<uint32_t> u(8 * 256);
  for (auto& v : u) v = rng();
  std::vector<float> noise(u.size());
  std::memcpy(noise.data(), u.data(), u.size() * 4);
  EXPECT_FALSE(f32_coded_plan(noise.data(), 8, 256).worth);
}

// The products: matmul_f32_coded against matmul on the original F32 matrix, bit for bit, for
// decode-sized T (the coded row dot, or decode + fdot without it) and prompt-sized T (the GEMM
// on decoded rows), under every kernel variant and thread count.
TEST(F32Coded, ProductsAreTheF32ProductsBitForBit) {
  const int prev = get_threads();
  const int64_t rows = 264, cols = 512;  // large enough for the pool (2^16 multiply-adds)
  auto w = weights(rows, cols, 5, 40);
  for (float& v : w)
    if (!std::isfinite(v) || std::fabs(v) > 1e3f) v = 0.5f;  // escapes kept, but finite sums to compare
  for (int64_t i = 0; i < 20; i++) w[(size_t)(i * 997) % w.size()] = -1e-41f;  // subnormal escapes
  Coded c = code(w, rows, cols);
  ASSERT_TRUE(c.plan.worth);
  ASSERT_GT(c.plan.escapes, 0);
  std::mt19937 rng(6);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  test::for_each_variant([&](KernelVariant) {
    for (int th : {1, 2, 3}) {
      set_threads(th);
      for (int64_t T : {1, 2, 8, 9, 40}) {
        std::vector<float> x((size_t)(T * cols)), want((size_t)(T * rows)), got((size_t)(T * rows));
        for (float& v : x) v = nd(rng);
        matmul(DType::F32, w.data(), rows, cols, x.data(), T, want.data());
        matmul_f32_coded(c.mem.data, rows, cols, x.data(), T, got.data());
        for (size_t i = 0; i < want.size(); i++)
          ASSERT_EQ(bits(got[i]), bits(want[i])) << "threads " << th << " T " << T << " at " << i;
      }
    }
  });
  set_threads(prev);
}

TEST(F32Coded, RefusesColumnsOutsideTheLayout) {
  std::vector<float> x(100), y(4);
  try {
    matmul_f32_coded(nullptr, 4, 100, x.data(), 1, y.data());
    FAIL() << "accepted 100 columns";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("not a multiple of 128"), std::string::npos) << e.what();
  }
}

TEST(F32Coded, AvailableWhereTheCpuHasVbmi) {
  const KernelVariant prev = kernel_variant();
  if (kernel_variant_supported(KernelVariant::AVX512)) {
    set_kernel_variant(KernelVariant::AVX512);
    EXPECT_EQ(f32_coded_available(), cpu_features().avx512vbmi && !std::getenv("FLOPS_NO_F32_CODED"));
  }
  set_kernel_variant(KernelVariant::Scalar);
  EXPECT_FALSE(f32_coded_available());
  set_kernel_variant(prev);
}
