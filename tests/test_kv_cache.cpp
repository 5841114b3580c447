// The KV cache in F32 and F16 (layout, copies, sizes, type names), and the kernels of a decode
// step's attention (core/attention_kernels.h), every variant against naive double-precision
// references.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/attention_kernels.h"
#include "model/kv_cache.h"
#include "test_quant_util.h"

using namespace flops;

namespace {

std::vector<uint16_t> random_halves(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<uint16_t> h(n);
  for (auto& v : h) v = fp32_to_fp16(nd(rng));
  return h;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = nd(rng);
  return x;
}

ModelConfig config() {
  ModelConfig c;
  c.n_layer = 3;
  c.n_embd = 48;
  c.n_head = 6;
  c.n_head_kv = 3;
  return c;  // head_dim 8, kv_dim 24
}

}  // namespace

// Head sizes of real models (64, 128) and small ones that leave every tail of the vector loops,
// row counts that leave a remainder of the four-row blocks, rows further apart than they are long.
TEST(HalfRows, DotAndAxpyVsNaiveEveryVariant) {
  test::for_each_variant([](KernelVariant) {
    for (int64_t n : {1, 3, 8, 13, 32, 40, 64, 72, 100, 128})
      for (int64_t nr : {1, 3, 4, 7, 33}) {
        SCOPED_TRACE(testing::Message() << "n " << n << " rows " << nr);
        const int64_t ld = n + 5;
        const auto rows = random_halves((size_t)(nr * ld), (uint32_t)(n * 131 + nr));
        const auto x = random_floats((size_t)n, (uint32_t)n);
        const auto p = random_floats((size_t)nr, (uint32_t)(nr + 7));
        std::vector<float> y((size_t)nr, -1.0f);
        f16_rows_dot(rows.data(), ld, nr, x.data(), n, 0.37f, y.data());
        for (int64_t j = 0; j < nr; j++) {
          double want = 0, mag = 0;
          for (int64_t i = 0; i < n; i++) {
            want += (double)fp16_to_fp32(rows[j * ld + i]) * x[i];
            mag += std::fabs((double)fp16_to_fp32(rows[j * ld + i]) * x[i]);
          }
          EXPECT_NEAR(y[j], 0.37 * want, 1e-5 * (1 + mag)) << "row " << j;
        }
        auto out = random_floats((size_t)n, 99);
        const auto before = out;
        f16_rows_axpy(p.data(), rows.data(), ld, nr, n, out.data());
        for (int64_t i = 0; i < n; i++) {
          double want = before[i], mag = std::fabs(before[i]);
          for (int64_t j = 0; j < nr; j++) {
            want += (double)p[j] * fp16_to_fp32(rows[j * ld + i]);
            mag += std::fabs((double)p[j] * fp16_to_fp32(rows[j * ld + i]));
          }
          EXPECT_NEAR(out[i], want, 1e-5 * (1 + mag)) << "column " << i;
        }
        // Naming the rows read next (for prefetching, more or fewer of them) changes no bit.
        const auto other = random_halves((size_t)(40 * ld), 5);
        for (int64_t next_nr : {nr + 6, nr / 2}) {
          std::vector<float> y2((size_t)nr, -1.0f);
          f16_rows_dot(rows.data(), ld, nr, x.data(), n, 0.37f, y2.data(), other.data(), next_nr);
          EXPECT_EQ(y2, y);
          auto out2 = before;
          f16_rows_axpy(p.data(), rows.data(), ld, nr, n, out2.data(), other.data(), next_nr);
          EXPECT_EQ(out2, out);
        }
      }
  });
}

TEST(HalfRows, NoRowsLeaveTheOutputAlone) {
  std::vector<float> y = {1.5f, -2.0f, 3.0f};
  const std::vector<uint16_t> rows(3, fp32_to_fp16(1.0f));
  f16_rows_axpy(nullptr, rows.data(), 3, 0, 3, y.data());
  EXPECT_EQ(y, (std::vector<float>{1.5f, -2.0f, 3.0f}));
}

TEST(KVCache, WriteReadRoundsToTheCacheType) {
  const ModelConfig c = config();
  const auto keys = random_floats(24, 1), values = random_floats(24, 2);
  for (const KVCacheTypes t : {KVCacheTypes{}, KVCacheTypes{DType::F16, DType::F16}, KVCacheTypes{DType::F32, DType::F16}}) {
    KVCache kv = make_kv_cache(c, 10, t);
    EXPECT_EQ(kv.bytes(), (size_t)3 * 10 * 24 * ((t.k == DType::F16 ? 2 : 4) + (t.v == DType::F16 ? 2 : 4)));
    EXPECT_EQ(kv.bytes(), kv_cache_bytes(c, 10, t));
    kv.write(2, 7, keys.data(), values.data());
    std::vector<float> k(24), v(24);
    kv.read_k(2, 7, k.data());
    kv.read_v(2, 7, v.data());
    for (int i = 0; i < 24; i++) {
      EXPECT_EQ(k[i], t.k == DType::F16 ? fp16_to_fp32(fp32_to_fp16(keys[i])) : keys[i]);
      EXPECT_EQ(v[i], t.v == DType::F16 ? fp16_to_fp32(fp32_to_fp16(values[i])) : values[i]);
    }
    // Head-major: head 1's keys of slot 7 are head_dim elements at k_head(2, 1, 7).
    const void* h1 = kv.k_head(2, 1, 7);
    const float k8 = t.k == DType::F16 ? fp16_to_fp32(*(const uint16_t*)h1) : *(const float*)h1;
    EXPECT_EQ(k8, k[8]);
    EXPECT_EQ((const uint8_t*)kv.k_head(2, 1, 8) - (const uint8_t*)h1, (ptrdiff_t)(8 * kv.k_elem()));
  }
}

TEST(KVCache, CopyPrefixCopiesSlotsPositionsAndSegments) {
  const ModelConfig c = config();
  const KVCacheTypes f16{DType::F16, DType::F16};
  KVCache a = make_kv_cache(c, 6, f16);
  for (int s = 0; s < 5; s++) {
    const auto k = random_floats(24, 10 + s), v = random_floats(24, 20 + s);
    for (int l = 0; l < 3; l++) a.write(l, s, k.data(), v.data());
    a.pos[s] = 100 + s;
    a.seg[s] = s % 2;
  }
  a.n = 5;
  a.new_segment(2.0f);
  KVCache b = make_kv_cache(c, 9, f16);
  b.copy_prefix(a, 4);
  EXPECT_EQ(b.n, 4);
  EXPECT_EQ(b.next_pos(), 104);
  EXPECT_EQ(b.seg[3], 1);
  EXPECT_EQ(b.seg_log_scale, a.seg_log_scale);
  std::vector<float> x(24), y(24);
  for (int l = 0; l < 3; l++)
    for (int s = 0; s < 4; s++) {
      a.read_v(l, s, x.data());
      b.read_v(l, s, y.data());
      EXPECT_EQ(x, y);
      a.read_k(l, s, x.data());
      b.read_k(l, s, y.data());
      EXPECT_EQ(x, y);
    }
  KVCache other = make_kv_cache(c, 9);
  EXPECT_THROW(other.copy_prefix(a, 4), Error);  // F32 from F16
  EXPECT_THROW(b.copy_prefix(a, 6), Error);       // more than it holds
}

TEST(KVCache, TypeNamesAndErrors) {
  EXPECT_EQ(kv_cache_type_from_name("f16", "-ctk"), DType::F16);
  EXPECT_EQ(kv_cache_type_from_name("F32", "-ctk"), DType::F32);
  try {
    kv_cache_type_from_name("q4_0", "--cache-type-v");
    FAIL() << "q4_0 accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--cache-type-v must be f32 or f16, got 'q4_0'");
  }
  EXPECT_STREQ(kv_cache_type_name(DType::F16), "f16");
  EXPECT_THROW(make_kv_cache(config(), 4, {DType::Q8_0, DType::F16}), Error);
}
