#pragma once
// Where the streaming kernels of a decode step ask for the lines ahead of the ones they read:
// into L1 (_MM_HINT_T0 = 3), into L2 (_MM_HINT_T1 = 2), or not at all (-1: the hardware
// prefetcher alone). Which pays depends on the CPU and on the kernel: measured per CPU family
// with every other setting fixed, the same binary alternating the two choices (prefetch_plan.cpp
// has the figures). One plan per process, read by the kernel tables when they are built.
#include <string>

namespace flops::kern {

struct PrefetchPlan {
  int f32 = -1;         // F32 row dots, every matrix
  int f16 = -1;         // F16 / BF16 row dots, every matrix
  int f16_stream = 2;   // F16 / BF16 row dots of large matrices (core/matmul.cpp's kStream*)
  int q8_0 = -1;        // Q8_0 decode products (the packed 8-row layout)
  int q4_0 = -1;        // Q4_0 decode products (the packed 8-row layout)
  int k_quant = 2;      // Q4_K / Q6_K decode products (the packed 8-row layout)
  int f32_coded = -1;   // the coded F32 row dot (core/f32_coded.h)
};

// The plan for this CPU; FLOPS_PREFETCH overrides any field for measurements, as
// "f32=l1,f16=none,q8_0=l2" (fields as above, levels l1, l2, none). A bad value is an Error.
const PrefetchPlan& prefetch_plan();
PrefetchPlan parse_prefetch_plan(const std::string& spec, PrefetchPlan base);
std::string describe(const PrefetchPlan& p);

}  // namespace flops::kern
