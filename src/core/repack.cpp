#include "core/repack.h"

#include <cstring>
#include <vector>

#include "core/blocks.h"
#include "core/error.h"
#include "core/kernels.h"
#include "core/quant.h"

namespace flops {
namespace {

constexpr int kG = kern::kPackRows;
constexpr size_t kQ4_0Group = kG * sizeof(BlockQ4_0);  // one block of each of the 8 rows: 144 bytes

// Byte offsets, within one packed Q4_0 block group, of row r's scale and of its qs bytes 4j..4j+3.
constexpr size_t scale_at(int r) { return 2 * (size_t)r; }
constexpr size_t qs_at(int r, int j) { return 2 * kG + 32 * (size_t)j + 4 * (size_t)r; }

void check(const char* fn, DType t, int64_t rows, int64_t cols) {
  if (!rows8_packable(t, rows, cols))
    fail("{}: a {} x {} {} matrix has no packed form", fn, rows, cols, dtype_name(t));
}

}  // namespace

bool rows8_packable(DType t, int64_t rows, int64_t cols) {
  return t == DType::Q4_0 && rows > 0 && rows % kG == 0 && cols > 0 && cols % QK == 0;
}

void pack_rows8(DType t, const void* src, int64_t rows, int64_t cols, void* dst) {
  check("pack_rows8", t, rows, cols);
  const int64_t nb = cols / QK;
  const size_t stride = dtype_row_bytes(t, cols);
  for (int64_t g = 0; g < rows / kG; g++) {
    uint8_t* out = (uint8_t*)dst + g * kG * stride;
    for (int64_t b = 0; b < nb; b++, out += kQ4_0Group)
      for (int r = 0; r < kG; r++) {
        const BlockQ4_0& blk = ((const BlockQ4_0*)((const uint8_t*)src + (g * kG + r) * stride))[b];
        std::memcpy(out + scale_at(r), &blk.d, 2);
        for (int j = 0; j < 4; j++) std::memcpy(out + qs_at(r, j), blk.qs + 4 * j, 4);
      }
  }
}

void unpack_row8(DType t, const void* packed, int64_t row, int64_t cols, void* dst) {
  check("unpack_row8", t, row / kG * kG + kG, cols);
  const int64_t nb = cols / QK;
  const size_t stride = dtype_row_bytes(t, cols);
  const int r = (int)(row % kG);
  const uint8_t* in = (const uint8_t*)packed + row / kG * kG * stride;
  BlockQ4_0* out = (BlockQ4_0*)dst;
  for (int64_t b = 0; b < nb; b++, in += kQ4_0Group) {
    std::memcpy(&out[b].d, in + scale_at(r), 2);
    for (int j = 0; j < 4; j++) std::memcpy(out[b].qs + 4 * j, in + qs_at(r, j), 4);
  }
}

void dequantize_row8(DType t, const void* packed, int64_t row, int64_t cols, float* out) {
  thread_local std::vector<uint8_t> buf;
  buf.resize(dtype_row_bytes(t, cols));
  unpack_row8(t, packed, row, cols, buf.data());
  dequantize_row(t, buf.data(), out, cols);
}

}  // namespace flops
