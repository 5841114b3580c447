// The prefetch plan (core/prefetch_plan.h): its override's syntax and errors, and that the
// process's plan is the override when one is given (tests/CMakeLists.txt runs the kernel tests
// again under every level, so each prefetching instance of each kernel meets its reference).
#include <cstdlib>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/prefetch_plan.h"

using namespace flops;
using namespace flops::kern;

namespace {

std::string error_of(const std::string& spec) {
  try {
    parse_prefetch_plan(spec, PrefetchPlan{});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(PrefetchPlan, ParsesFieldsOverTheBase) {
  PrefetchPlan base;
  base.k_quant = 3;
  const PrefetchPlan p = parse_prefetch_plan("f32=l1,q8_0=none,f16_stream=l2,f32_coded=l1", base);
  EXPECT_EQ(p.f32, 3);
  EXPECT_EQ(p.q8_0, -1);
  EXPECT_EQ(p.f16_stream, 2);
  EXPECT_EQ(p.f32_coded, 3);
  EXPECT_EQ(p.k_quant, 3);  // untouched fields keep the base's
  EXPECT_EQ(p.f16, base.f16);
  EXPECT_EQ(describe(p), "f32=l1,f16=none,f16_stream=l2,q8_0=none,q4_0=none,k_quant=l1,f32_coded=l1");
  EXPECT_EQ(describe(parse_prefetch_plan(describe(p), PrefetchPlan{})), describe(p));  // round trip
}

TEST(PrefetchPlan, BadSpecsNameTheProblem) {
  EXPECT_EQ(error_of("f32=l3"), "prefetch level 'l3' is not one of l1, l2, none");
  EXPECT_EQ(error_of("f32"), "prefetch setting 'f32' is not field=level");
  EXPECT_EQ(error_of("q5_0=l1"),
            "prefetch field 'q5_0' is not one of f32, f16, f16_stream, q8_0, q4_0, k_quant, f32_coded");
}

TEST(PrefetchPlan, TheProcessTakesTheOverride) {
  const char* e = std::getenv("FLOPS_PREFETCH");
  if (!e || !*e) GTEST_SKIP() << "FLOPS_PREFETCH is not set (tests/CMakeLists.txt sets it for the plan runs)";
  EXPECT_EQ(describe(prefetch_plan()), describe(parse_prefetch_plan(e, PrefetchPlan{})));
}
