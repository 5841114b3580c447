#include "core/quant.h"

#include <cstring>

#include "core/error.h"
#include "core/kernels.h"
#include "core/quant_impl.h"

namespace flops {
namespace {

void check_len(DType t, int64_t n) {
  if (!dtype_known((uint32_t)t)) fail("unsupported tensor type {}", dtype_name_of((uint32_t)t));
  if (n < 0) fail("negative row length {}", n);
  if (n % dtype_block_elems(t) != 0)
    fail("row of {} elements is not a multiple of the {} block size {}", n, dtype_name(t), dtype_block_elems(t));
}

}  // namespace

void quantize_row(DType t, const float* x, void* dst, int64_t n) {
  check_len(t, n);
  const kern::Table& k = kern::active();
  switch (t) {
    case DType::F32: std::memcpy(dst, x, (size_t)n * 4); return;
    case DType::F16: k.to_f16(x, (uint16_t*)dst, n); return;
    case DType::BF16: k.to_bf16(x, (uint16_t*)dst, n); return;
    case DType::Q8_0: quant::q8_0(x, (BlockQ8_0*)dst, n / QK); return;
    case DType::Q4_0: quant::q4_0(x, (BlockQ4_0*)dst, n / QK); return;
    case DType::Q4_1: quant::q4_1(x, (BlockQ4_1*)dst, n / QK); return;
    case DType::Q5_0: quant::q5_0(x, (BlockQ5_0*)dst, n / QK); return;
    case DType::Q5_1: quant::q5_1(x, (BlockQ5_1*)dst, n / QK); return;
    case DType::IQ4_NL: quant::iq4_nl(x, (BlockIQ4_NL*)dst, n / QK); return;
    case DType::Q2_K: quant::q2_k(x, (BlockQ2_K*)dst, n / QK_K); return;
    case DType::Q3_K: quant::q3_k(x, (BlockQ3_K*)dst, n / QK_K); return;
    case DType::Q4_K: quant::q4_k(x, (BlockQ4_K*)dst, n / QK_K); return;
    case DType::Q5_K: quant::q5_k(x, (BlockQ5_K*)dst, n / QK_K); return;
    case DType::Q6_K: quant::q6_k(x, (BlockQ6_K*)dst, n / QK_K); return;
    case DType::IQ4_XS: quant::iq4_xs(x, (BlockIQ4_XS*)dst, n / QK_K); return;
  }
  fail("quantize_row: unsupported type {}", dtype_name_of((uint32_t)t));
}

void dequantize_row(DType t, const void* src, float* y, int64_t n) {
  check_len(t, n);
  kern::active().dequant[(uint32_t)t](src, y, n);
}

}  // namespace flops
