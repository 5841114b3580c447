// The AVX-512 kernel variant (F, BW, VL, DQ, VNNI): the AVX2 code compiled with AVX-512 enabled
// (CMakeLists.txt), so that the byte dot products use VPDPBUSD, the float rows and the
// dequantization use 512-bit vectors, and the compiler has 32 vector registers. Chosen at run
// time by cpu_features.cpp only on CPUs that have all five extensions.
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__) || !defined(__AVX512DQ__) || \
    !defined(__AVX512VNNI__)
#error "kernels_avx512.cpp must be compiled with AVX-512 F/BW/VL/DQ/VNNI enabled (see CMakeLists.txt)"
#endif
// GCC 12 flags the _mm512_undefined_* values inside its own AVX-512 headers as uninitialized
// reads (a known false positive), which would bury real warnings.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "core/cpu_features.h"
#include "core/kernels.h"
#include "core/prefetch_plan.h"

namespace flops::kern {
namespace avx512 {
#include "core/kernels_x86_common.inc"
#include "core/kernels_x86_32.inc"
#include "core/kernels_x86_attn.inc"
#include "core/kernels_x86_k.inc"
#include "core/kernels_x86_rows.inc"
#include "core/kernels_x86_rows8.inc"
#include "core/kernels_x86_math.inc"
#include "core/kernels_x86_gemm.inc"
#include "core/kernels_x86_gemm8.inc"
#include "core/kernels_x86_gemm8_q8.inc"
#include "core/kernels_x86_gemm8_k.inc"
#include "core/kernels_x86_table.inc"
}  // namespace avx512

const Table& table_avx512() {
  static const Table t = [] {
    Table v = avx512::make_table("avx512");
    v.gemm_f32_tile = avx512::gemm_f32_tile;
    v.gemm_f32_pack = avx512::gemm_f32_pack;
    if (cpu_features().avx512vbmi) {
      v.fdot_f32_coded = f32_coded_dot_vbmi(prefetch_plan().f32_coded);
      v.f32_coded_decode = f32_coded_decode_vbmi();
    }
    return v;
  }();
  return t;
}

}  // namespace flops::kern
