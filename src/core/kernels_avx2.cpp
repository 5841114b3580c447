// The AVX2 kernel variant (AVX2, FMA, F16C): compiled with -mavx2 -mfma -mf16c (CMakeLists.txt),
// chosen at run time by cpu_features.cpp. The code is shared with the AVX-512 variant.
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__) || defined(__AVX512F__)
#error "kernels_avx2.cpp must be compiled with exactly AVX2, FMA and F16C enabled (see CMakeLists.txt)"
#endif
#include <immintrin.h>

#include "core/kernels.h"
#include "core/prefetch_plan.h"

namespace flops::kern {
namespace avx2 {
#include "core/kernels_x86_common.inc"
#include "core/kernels_x86_32.inc"
#include "core/kernels_x86_attn.inc"
#include "core/kernels_x86_k.inc"
#include "core/kernels_x86_rows.inc"
#include "core/kernels_x86_rows8.inc"
#include "core/kernels_x86_math.inc"
#include "core/kernels_x86_gemm8.inc"
#include "core/kernels_x86_table.inc"
}  // namespace avx2

const Table& table_avx2() {
  static const Table t = avx2::make_table("avx2");
  return t;
}

}  // namespace flops::kern
