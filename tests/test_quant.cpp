#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/quant.h"

using namespace flops;

namespace {

float bits_f(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
uint32_t f_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// Plain per-element dequantization written from the block layout in dtype.h.
std::vector<float> naive_dequant(DType t, const std::vector<uint8_t>& bytes, int64_t n) {
  std::vector<float> y((size_t)n);
  if (t == DType::Q8_0) {
    for (int64_t b = 0; b < n / QK; b++) {
      BlockQ8_0 blk;
      std::memcpy(&blk, bytes.data() + b * sizeof(BlockQ8_0), sizeof blk);
      for (int j = 0; j < QK; j++) y[b * QK + j] = fp16_to_fp32(blk.d) * blk.qs[j];
    }
  } else if (t == DType::Q4_0) {
    for (int64_t b = 0; b < n / QK; b++) {
      BlockQ4_0 blk;
      std::memcpy(&blk, bytes.data() + b * sizeof(BlockQ4_0), sizeof blk);
      for (int j = 0; j < QK / 2; j++) {
        y[b * QK + j] = fp16_to_fp32(blk.d) * ((blk.qs[j] & 15) - 8);
        y[b * QK + j + 16] = fp16_to_fp32(blk.d) * ((blk.qs[j] >> 4) - 8);
      }
    }
  }
  return y;
}

std::vector<uint8_t> quantize(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> out(dtype_row_bytes(t, (int64_t)x.size()));
  quantize_row(t, x.data(), out.data(), (int64_t)x.size());
  return out;
}

std::vector<float> dequantize(DType t, const std::vector<uint8_t>& b, int64_t n) {
  std::vector<float> y((size_t)n);
  dequantize_row(t, b.data(), y.data(), n);
  return y;
}

}  // namespace

TEST(Fp16, KnownValues) {
  EXPECT_EQ(fp32_to_fp16(0.0f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(-2.0f), 0xc000);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);  // largest finite
  EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7bff);  // below the halfway point to 65536
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);  // halfway rounds to even = inf
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);  // tie -> even (0)
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 units: tie -> even (2)
  EXPECT_EQ(fp32_to_fp16(std::ldexp(5.0f, -25)), 0x0002);  // 2.5 units: tie -> even (2)
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1023.0f, -24)), 0x03ff);  // largest subnormal
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie -> even
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3c01);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(1e10f), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::quiet_NaN()) & 0x7e00, 0x7e00);

  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(fp16_to_fp32(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(fp16_to_fp32(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(fp16_to_fp32(0x3555), 0.333251953125f);
  EXPECT_EQ(fp16_to_fp32(0x7bff), 65504.0f);
  EXPECT_EQ(fp16_to_fp32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(fp16_to_fp32(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7e00)));
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7c01)));
  EXPECT_EQ(f_bits(fp16_to_fp32(0x8000)), 0x80000000u);
}

TEST(Fp16, AllHalvesRoundTrip) {
  for (uint32_t h = 0; h < 65536; h++) {
    float f = fp16_to_fp32((uint16_t)h);
    if (std::isnan(f)) continue;
    ASSERT_EQ(fp32_to_fp16(f), h) << std::hex << h;
  }
}

TEST(Bf16, KnownValues) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(-1.0f), 0xbf80);
  EXPECT_EQ(fp32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie -> even
  EXPECT_EQ(fp32_to_bf16(1.0f + std::ldexp(3.0f, -8)), 0x3f82);  // tie -> even (up)
  EXPECT_EQ(fp32_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3f81);
  EXPECT_EQ(fp32_to_bf16(bits_f(0x00010000)), 0x0001);  // subnormal kept
  EXPECT_EQ(fp32_to_bf16(bits_f(0x00018000)), 0x0002);  // subnormal tie -> even
  EXPECT_EQ(fp32_to_bf16(bits_f(0x00008000)), 0x0000);  // subnormal tie -> even (0)
  EXPECT_EQ(fp32_to_bf16(bits_f(0x7f7fffff)), 0x7f80);  // FLT_MAX rounds to inf
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(fp32_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
  uint16_t nan = fp32_to_bf16(bits_f(0x7f800001));  // signalling NaN with payload only in low bits
  EXPECT_TRUE(std::isnan(bf16_to_fp32(nan)));
  EXPECT_EQ(bf16_to_fp32(0x0001), bits_f(0x00010000));
  EXPECT_EQ(bf16_to_fp32(0x4049), bits_f(0x40490000));
}

// The vector paths of quantize_row/dequantize_row must give the same bits as the scalar
// conversions, including NaN, inf, subnormals and ties, in every position of a vector.
TEST(QuantizeRow, HalfTypesMatchScalarBitExact) {
  std::mt19937 rng(7);
  std::vector<float> x;
  const uint32_t specials[] = {0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001,
                               0x33000000, 0x33000001, 0x33c00000, 0x38800000, 0x387fffff, 0x477fefff, 0x477ff000,
                               0x3f801000, 0x3f803000, 0x3f808000, 0x3f818000, 0x00008000, 0x00018000, 0x7f7fffff};
  for (uint32_t s : specials) x.push_back(bits_f(s));
  for (int i = 0; i < 200000; i++) x.push_back(bits_f(rng()));
  std::uniform_real_distribution<float> ud(-70000.0f, 70000.0f);
  for (int i = 0; i < 20000; i++) x.push_back(ud(rng));
  for (int i = 0; i < 20000; i++) x.push_back(std::ldexp(ud(rng), -30));  // fp16 subnormal range
  const int64_t n = (int64_t)x.size();

  std::vector<uint16_t> h(x.size());
  quantize_row(DType::F16, x.data(), h.data(), n);
  for (int64_t i = 0; i < n; i++) ASSERT_EQ(h[i], fp32_to_fp16(x[i])) << i << " " << std::hex << f_bits(x[i]);
  quantize_row(DType::BF16, x.data(), h.data(), n);
  for (int64_t i = 0; i < n; i++) ASSERT_EQ(h[i], fp32_to_bf16(x[i])) << i << " " << std::hex << f_bits(x[i]);

  std::vector<uint16_t> all(65536 + 7);
  for (size_t i = 0; i < all.size(); i++) all[i] = (uint16_t)(i * 40503u);
  std::vector<float> y(all.size());
  dequantize_row(DType::F16, all.data(), y.data(), (int64_t)all.size());
  for (size_t i = 0; i < all.size(); i++) {
    float r = fp16_to_fp32(all[i]);
    if (std::isnan(r)) ASSERT_TRUE(std::isnan(y[i]));
    else ASSERT_EQ(f_bits(y[i]), f_bits(r)) << i;
  }
  dequantize_row(DType::BF16, all.data(), y.data(), (int64_t)all.size());
  for (size_t i = 0; i < all.size(); i++) ASSERT_EQ(f_bits(y[i]), (uint32_t)all[i] << 16) << i;
}

TEST(QuantizeRow, Q8_0KnownBlock) {
  // d = max|x|/127 = 0.25 exactly (fp16 0x3400); q = round(x/d) with ties away from zero.
  std::vector<float> x(32, 0.0f);
  x[0] = -31.75f;  // -127
  x[1] = 31.0f;    // 124
  x[2] = 0.625f;   // 2.5 -> 3
  x[3] = -0.625f;  // -2.5 -> -3
  x[4] = 0.3f;     // 1.2 -> 1
  x[5] = -0.12f;   // -0.48 -> 0
  x[6] = 1.125f;   // 4.5 -> 5
  x[31] = 0.25f;   // 1
  auto b = quantize(DType::Q8_0, x);
  ASSERT_EQ(b.size(), 34u);
  std::vector<uint8_t> want(34, 0);
  want[0] = 0x00;
  want[1] = 0x34;
  const int8_t q[] = {-127, 124, 3, -3, 1, 0, 5};
  for (int j = 0; j < 7; j++) want[2 + j] = (uint8_t)q[j];
  want[2 + 31] = 1;
  EXPECT_EQ(b, want);
  auto y = dequantize(DType::Q8_0, b, 32);
  EXPECT_EQ(y[0], -31.75f);
  EXPECT_EQ(y[2], 0.75f);
  EXPECT_EQ(y[5], 0.0f);
}

TEST(QuantizeRow, Q4_0KnownBlocks) {
  // Block 0: the largest |x| is -8, so d = -8/-8 = 1 (fp16 0x3c00), q = min(15, (int)(x + 8.5)).
  // Block 1: the largest |x| is +4, so d = -0.5 (fp16 0xb800), q = min(15, (int)(-2x + 8.5)).
  std::vector<float> x(64, 0.0f);
  x[0] = -8.0f;   // q 0
  x[1] = 7.0f;    // 15
  x[2] = 7.9f;    // 16 -> clamped 15
  x[3] = -0.5f;   // 8
  x[4] = 0.5f;    // 9
  x[5] = 0.49f;   // 8
  x[16] = 3.2f;   // 11
  x[17] = -3.6f;  // 4  (4.9 truncates)
  x[31] = -7.5f;  // 1
  x[32] = 4.0f;   // -8 + 8.5 -> 0
  x[33] = -4.0f;  // 16.5 -> 15
  x[48] = 1.0f;   // 6
  x[49] = -0.2f;  // 8.9 -> 8
  auto b = quantize(DType::Q4_0, x);
  ASSERT_EQ(b.size(), 36u);
  std::vector<uint8_t> want(36, 0x88);
  want[0] = 0x00;
  want[1] = 0x3c;
  want[2 + 0] = 0x0 | (11 << 4);
  want[2 + 1] = 15 | (4 << 4);
  want[2 + 2] = 15 | (8 << 4);
  want[2 + 3] = 8 | (8 << 4);
  want[2 + 4] = 9 | (8 << 4);
  want[2 + 5] = 8 | (8 << 4);
  want[2 + 15] = 8 | (1 << 4);
  want[18] = 0x00;
  want[19] = 0xb8;
  want[20 + 0] = 0 | (6 << 4);
  want[20 + 1] = 15 | (8 << 4);
  EXPECT_EQ(b, want);
  auto y = dequantize(DType::Q4_0, b, 64);
  EXPECT_EQ(y[0], -8.0f);
  EXPECT_EQ(y[2], 7.0f);
  EXPECT_EQ(y[17], -4.0f);
  EXPECT_EQ(y[32], 4.0f);
  EXPECT_EQ(y[33], -3.5f);
  EXPECT_EQ(y[48], 1.0f);
}

TEST(QuantizeRow, ZeroBlocksStayZero) {
  std::vector<float> x(64, 0.0f);
  for (DType t : {DType::Q8_0, DType::Q4_0}) {
    auto y = dequantize(t, quantize(t, x), 64);
    for (float v : y) EXPECT_EQ(v, 0.0f) << dtype_name(t);
  }
}

TEST(QuantizeRow, RoundTripErrorBounds) {
  const int64_t n = 32 * 257;
  auto x = random_floats((size_t)n, 3, 2.0f);
  x[100] = 1e-30f;
  x[200] = 300.0f;  // one block dominated by an outlier

  EXPECT_EQ(dequantize(DType::F32, quantize(DType::F32, x), n), x);

  auto yh = dequantize(DType::F16, quantize(DType::F16, x), n);
  auto yb = dequantize(DType::BF16, quantize(DType::BF16, x), n);
  for (int64_t i = 0; i < n; i++) {
    float a = std::fabs(x[i]);
    if (a >= std::ldexp(1.0f, -14)) EXPECT_LE(std::fabs(yh[i] - x[i]), a * std::ldexp(1.0f, -11)) << i;
    else EXPECT_LE(std::fabs(yh[i] - x[i]), std::ldexp(1.0f, -25)) << i;
    EXPECT_LE(std::fabs(yb[i] - x[i]), a * std::ldexp(1.0f, -8)) << i;
  }

  for (DType t : {DType::Q8_0, DType::Q4_0}) {
    auto b = quantize(t, x);
    auto y = dequantize(t, b, n);
    EXPECT_EQ(y, naive_dequant(t, b, n)) << dtype_name(t);
    double sq = 0.0, sx = 0.0;
    for (int64_t blk = 0; blk < n / QK; blk++) {
      float amax = 0.0f;
      for (int j = 0; j < QK; j++) amax = std::max(amax, std::fabs(x[blk * QK + j]));
      // Q8_0: half a step, plus the fp16 rounding of d applied to |q| <= 127.
      // Q4_0: up to one full step for the element clamped at 15 on the side opposite the max.
      float step = t == DType::Q8_0 ? amax / 127.0f : amax / 8.0f;
      float bound = t == DType::Q8_0 ? step * (0.5f + 127.0f / 2048.0f) : step * (1.0f + 8.0f / 2048.0f);
      for (int j = 0; j < QK; j++) {
        int64_t i = blk * QK + j;
        ASSERT_LE(std::fabs(y[i] - x[i]), bound * 1.0001f + 1e-30f) << dtype_name(t) << " at " << i;
        sq += (double)(y[i] - x[i]) * (y[i] - x[i]);
        sx += (double)x[i] * x[i];
      }
    }
    // Relative RMS error for Gaussian data: ~1% for 8 bits, ~12% for 4 bits.
    EXPECT_LT(std::sqrt(sq / sx), t == DType::Q8_0 ? 0.02 : 0.15) << dtype_name(t);
  }
}

TEST(QuantizeRow, RejectsPartialBlocks) {
  std::vector<float> x(33, 1.0f);
  std::vector<uint8_t> out(64);
  try {
    quantize_row(DType::Q4_0, x.data(), out.data(), 33);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("block size"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dequantize_row(DType::Q8_0, out.data(), x.data(), 31), Error);
  EXPECT_THROW(quantize_row((DType)77, x.data(), out.data(), 4), Error);
}
