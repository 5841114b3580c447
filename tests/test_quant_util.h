#pragma once
// Helpers shared by the tests of the quantized types and kernels.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "core/dtype.h"

namespace flops::test {

// Runs f once under each kernel variant this CPU has (scalar first), restoring the active one.
template <typename F>
void for_each_variant(F&& f) {
  const KernelVariant prev = kernel_variant();
  for (KernelVariant v : supported_kernel_variants()) {
    set_kernel_variant(v);
    SCOPED_TRACE(kernel_variant_name(v));
    f(v);
  }
  set_kernel_variant(prev);
}

// Offsets of the fp16 scale fields (d, dmin, m) in a block of type t.
inline std::vector<size_t> half_fields(DType t) {
  switch (t) {
    case DType::Q4_0: case DType::Q5_0: case DType::Q8_0: case DType::IQ4_NL: case DType::IQ4_XS: return {0};
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: return {0, 2};
    case DType::Q2_K: return {80, 82};
    case DType::Q3_K: return {108};
    case DType::Q6_K: return {208};
    default: return {};
  }
}

// Random blocks of type t: random bytes (every code pattern occurs), with each fp16 scale
// replaced by a random finite half of either sign with |h| in [lo, hi).
inline void randomize_blocks(DType t, std::vector<uint8_t>& b, std::mt19937& rng, float lo, float hi) {
  for (auto& v : b) v = (uint8_t)rng();
  const std::vector<size_t> halves = half_fields(t);
  std::uniform_real_distribution<float> ud(lo, hi);
  const size_t bs = dtype_block_bytes(t);
  for (size_t blk = 0; blk < b.size() / bs; blk++)
    for (size_t o : halves) {
      const uint16_t h = fp32_to_fp16((rng() & 1 ? -1.0f : 1.0f) * ud(rng));
      std::memcpy(b.data() + blk * bs + o, &h, 2);
    }
}

}  // namespace flops::test
