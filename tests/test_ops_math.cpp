// The vector exp kernels (core/kernels_x86_math.inc) against std::exp, for every kernel variant
// the machine runs: over the whole float range, the ends, the tails that are not a multiple of 8
// lanes, and the special values.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "core/kernels.h"
#include "core/ops.h"
#include "test_quant_util.h"

using namespace flops;

namespace {

// Relative error in units of the float spacing at the true value (normal results).
double ulps(float got, double want) {
  const double spacing = std::ldexp(1.0, std::ilogb((float)want) - 23);
  return std::abs((double)got - want) / spacing;
}

TEST(OpsMath, ExpSumMatchesStdExpOverTheRange) {
  test::for_each_variant([](KernelVariant) {
    const kern::Table& k = kern::active();
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-87.0f, 80.0f);  // sums of 1000 stay finite
    for (int n : {1, 7, 8, 9, 31, 1000}) {
      std::vector<float> x((size_t)n);
      for (auto& v : x) v = u(rng);
      std::vector<float> y = x;
      const float shift = 0.25f;
      const float sum = k.exp_sum(y.data(), n, shift);
      double want_sum = 0, max_ulp = 0;
      for (int i = 0; i < n; i++) {
        const double want = std::exp((double)(x[i] - shift));  // the kernel's argument is the float difference
        want_sum += want;
        max_ulp = std::max(max_ulp, ulps(y[i], want));
      }
      EXPECT_LE(max_ulp, 3.0) << "n=" << n;
      EXPECT_NEAR(sum, want_sum, 1e-5 * want_sum) << "n=" << n;
    }
  });
}

TEST(OpsMath, ExpEndsAndSpecialValues) {
  test::for_each_variant([](KernelVariant) {
    const kern::Table& k = kern::active();
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> x = {0.0f, -inf, inf, 89.0f, -110.0f, -88.0f, 88.7f, 1.0f, -1.0f};
    k.exp_sum(x.data(), (int64_t)x.size(), 0.0f);
    EXPECT_EQ(x[0], 1.0f);
    EXPECT_EQ(x[1], 0.0f);
    EXPECT_EQ(x[2], inf);
    EXPECT_EQ(x[3], inf);
    EXPECT_EQ(x[4], 0.0f);
    EXPECT_NEAR(x[5], std::exp(-88.0), 1e-3 * std::exp(-88.0));  // a denormal, few bits
    EXPECT_LE(ulps(x[6], std::exp((double)88.7f)), 3.0);
    EXPECT_LE(ulps(x[7], std::exp(1.0)), 2.0);
    EXPECT_LE(ulps(x[8], std::exp(-1.0)), 2.0);
    std::vector<float> nan = {std::nanf("")};
    EXPECT_TRUE(std::isnan(k.exp_sum(nan.data(), 1, 0.0f)));
    EXPECT_TRUE(std::isnan(nan[0]));
  });
}

TEST(OpsMath, SiluMulMatchesTheFormula) {
  test::for_each_variant([](KernelVariant) {
    const kern::Table& k = kern::active();
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 4.0f);
    for (int n : {1, 5, 8, 13, 4096}) {
      std::vector<float> g((size_t)n), u((size_t)n);
      for (int i = 0; i < n; i++) g[i] = nd(rng), u[i] = nd(rng);
      g[0] = n > 1 ? -200.0f : g[0];  // exp(200) overflows: the limit -0 * u
      std::vector<float> y = g;
      k.silu_mul(y.data(), u.data(), n);
      for (int i = 0; i < n; i++) {
        const double want = (double)g[i] / (1.0 + std::exp(-(double)g[i])) * (double)u[i];
        EXPECT_NEAR(y[i], want, 4e-7 * std::abs(want) + 1e-30) << "i=" << i << " g=" << g[i];
      }
    }
  });
}

TEST(OpsMath, SoftmaxSumsToOne) {
  std::vector<float> x = {1.0f, 2.0f, 3.0f, -50.0f, 0.5f, 7.0f, 2.0f, 2.0f, 1.0f};
  std::vector<float> ref = x;
  const double lse = softmax(x.data(), (int64_t)x.size());
  double mx = 7.0, z = 0;
  for (float v : ref) z += std::exp((double)v - mx);
  EXPECT_NEAR(lse, mx + std::log(z), 1e-6);
  for (size_t i = 0; i < x.size(); i++) EXPECT_NEAR(x[i], std::exp((double)ref[i] - mx) / z, 1e-7);
}

}  // namespace
