#pragma once
// Where the streaming kernels of a decode step ask for the lines ahead of the ones they read:
// into L1 (_MM_HINT_T0 = 3), into L2 (_MM_HINT_T1 = 2), or not at all (-1: the hardware
// prefetcher alone). Which pays depends on the CPU and on the kernel: measured per CPU family
// with every other setting fixed, the same binary alternating the two choices (prefetch_plan.cpp
// has the figures). One plan per process, read by the kernel tables when they are built.
#include <string>
#include <type_traits>

namespace flops::kern {

// The levels: the values of _MM_HINT_T0 and _MM_HINT_T1 (the kernels pass them on as hints).
constexpr int kPrefetchL1 = 3, kPrefetchL2 = 2, kPrefetchNone = -1;

struct PrefetchPlan {
  int f32 = kPrefetchNone;         // F32 row dots, every matrix
  int f16 = kPrefetchNone;         // F16 / BF16 row dots, every matrix
  int f16_stream = kPrefetchL2;    // F16 / BF16 row dots of large matrices (core/matmul.cpp's kStream*)
  int q8_0 = kPrefetchNone;        // Q8_0 decode products (the packed 8-row layout)
  int q4_0 = kPrefetchNone;        // Q4_0 decode products (the packed 8-row layout)
  int k_quant = kPrefetchL2;       // Q4_K / Q6_K decode products (the packed 8-row layout)
  int f32_coded = kPrefetchNone;   // the coded F32 row dot (core/f32_coded.h)
};

// The plan for this CPU; FLOPS_PREFETCH overrides any field for measurements, as
// "f32=l1,f16=none,q8_0=l2" (fields as above, levels l1, l2, none); a bad one is warned of and
// the CPU's plan kept. parse_prefetch_plan fails (flops::Error) on a bad spec.
const PrefetchPlan& prefetch_plan();
PrefetchPlan parse_prefetch_plan(const std::string& spec, PrefetchPlan base);
std::string describe(const PrefetchPlan& p);

// The kernel instance for a level: make(std::integral_constant<int, level>{}) for the three
// levels (anything else counts as none), so that a kernel templated on its hint is picked at
// run time.
template <typename Fn, typename Make>
Fn by_hint(int level, Make make) {
  if (level == kPrefetchL1) return make(std::integral_constant<int, kPrefetchL1>{});
  if (level == kPrefetchL2) return make(std::integral_constant<int, kPrefetchL2>{});
  return make(std::integral_constant<int, kPrefetchNone>{});
}

}  // namespace flops::kern
