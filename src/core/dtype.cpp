#include "core/dtype.h"
#include "core/error.h"

namespace flops {

bool dtype_known(uint32_t id) {
  switch (id) {
    case 0: case 1: case 2: case 8: case 30: return true;
    default: return false;
  }
}

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::Q4_0: return "Q4_0";
    case DType::Q8_0: return "Q8_0";
    case DType::BF16: return "BF16";
  }
  return "?";
}

int dtype_block_elems(DType t) {
  return (t == DType::Q4_0 || t == DType::Q8_0) ? QK : 1;
}

size_t dtype_block_bytes(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F16: case DType::BF16: return 2;
    case DType::Q4_0: return sizeof(BlockQ4_0);
    case DType::Q8_0: return sizeof(BlockQ8_0);
  }
  return 0;
}

size_t dtype_row_bytes(DType t, int64_t n) {
  int be = dtype_block_elems(t);
  if (n % be != 0) fail("row of {} elements is not a multiple of the {} block size {}", n, dtype_name(t), be);
  return (size_t)(n / be) * dtype_block_bytes(t);
}

}  // namespace flops
