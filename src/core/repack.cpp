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

// A packed group block holds one block of each of the kG rows; each field of a row's block is
// cut into pieces of c bytes, and piece p of the field sits, for rows 0..kG-1 in turn, at
// base + kG * c * p. The offset of byte q of that field of row r:
constexpr size_t chunked(size_t base, int c, int r, int q) {
  return base + (size_t)kG * c * (q / c) + (size_t)c * r + q % c;
}

// Offset, within a packed group block of type t, of byte i of row r's block (the layouts are
// stated in core/kernels_x86_rows8.inc, next to the kernels that read them).
struct Q4_0At {  // also Q8_0: the scale, then the codes 4 bytes at a time
  size_t operator()(int r, int i) const { return i < 2 ? chunked(0, 2, r, i) : chunked(2 * kG, 4, r, i - 2); }
};
struct Q4_KAt {  // d, dmin, scales[12], qs[128]
  size_t operator()(int r, int i) const {
    if (i < 4) return chunked(0, 2, r, i);  // d at 0, dmin at 2 * kG
    if (i < 16) return chunked(4 * kG, 4, r, i - 4);
    return chunked(16 * kG, 4, r, i - 16);
  }
};
struct Q6_KAt {  // ql[128], qh[64], scales[16], d
  size_t operator()(int r, int i) const {
    constexpr size_t codes = 2 * kG + 16 * kG, half = 96 * kG;
    if (i < 128) {  // ql: byte k of half h is chunk A (k < 32) or B of m = (k % 32) / 4
      const int h = i / 64, k = i % 64;
      return codes + half * h + 12 * kG * ((k % 32) / 4) + 4 * kG * (k < 32 ? 1 : 2) + 4 * r + k % 4;
    }
    if (i < 192) {  // qh: byte k of half h is in the qh chunk of m = k / 4
      const int h = (i - 128) / 32, k = (i - 128) % 32;
      return codes + half * h + 12 * kG * (k / 4) + 4 * r + k % 4;
    }
    if (i < 208) return chunked(2 * kG, 1, r, i - 192);
    return chunked(0, 2, r, i - 208);
  }
};

// Calls f(at) with the byte map of t.
template <typename F>
void with_layout(DType t, F&& f) {
  switch (t) {
    case DType::Q4_0: case DType::Q8_0: f(Q4_0At{}); break;
    case DType::Q4_K: f(Q4_KAt{}); break;
    case DType::Q6_K: f(Q6_KAt{}); break;
    default: fail("repack: {} has no packed form", dtype_name(t));
  }
}

void check(const char* fn, DType t, int64_t rows, int64_t cols) {
  if (!rows8_packable(t, rows, cols))
    fail("{}: a {} x {} {} matrix has no packed form", fn, rows, cols, dtype_name(t));
}

}  // namespace

bool rows8_packable(DType t, int64_t rows, int64_t cols) {
  const bool packed_type = t == DType::Q4_0 || t == DType::Q8_0 || t == DType::Q4_K || t == DType::Q6_K;
  return packed_type && rows > 0 && rows % kG == 0 && cols > 0 && cols % dtype_block_elems(t) == 0;
}

void pack_rows8(DType t, const void* src, int64_t rows, int64_t cols, void* dst) {
  check("pack_rows8", t, rows, cols);
  const int64_t nb = cols / dtype_block_elems(t);
  const int bb = (int)dtype_block_bytes(t);
  const size_t stride = dtype_row_bytes(t, cols);
  with_layout(t, [&](auto at) {
    for (int64_t g = 0; g < rows / kG; g++) {
      const kern::PackedGroup pg = kern::packed_group(t, dst, g, rows / kG, kG * stride);
      uint8_t* out = (uint8_t*)pg.at;
      for (int64_t b = 0; b < nb; b++, out += pg.step)
        for (int r = 0; r < kG; r++) {
          const uint8_t* blk = (const uint8_t*)src + (g * kG + r) * stride + b * bb;
          for (int i = 0; i < bb; i++) out[at(r, i)] = blk[i];
        }
    }
  });
}

void unpack_row8(DType t, const void* packed, int64_t rows, int64_t row, int64_t cols, void* dst) {
  check("unpack_row8", t, rows, cols);
  if (row < 0 || row >= rows) fail("unpack_row8: row {} of a {}-row matrix", row, rows);
  const int64_t nb = cols / dtype_block_elems(t);
  const int bb = (int)dtype_block_bytes(t);
  const size_t stride = dtype_row_bytes(t, cols);
  const int r = (int)(row % kG);
  with_layout(t, [&](auto at) {
    const kern::PackedGroup pg = kern::packed_group(t, packed, row / kG, rows / kG, kG * stride);
    const uint8_t* in = pg.at;
    uint8_t* out = (uint8_t*)dst;
    for (int64_t b = 0; b < nb; b++, in += pg.step, out += bb)
      for (int i = 0; i < bb; i++) out[i] = in[at(r, i)];
  });
}

void dequantize_row8(DType t, const void* packed, int64_t rows, int64_t row, int64_t cols, float* out) {
  thread_local std::vector<uint8_t> buf;
  buf.resize(dtype_row_bytes(t, cols));
  unpack_row8(t, packed, rows, row, cols, buf.data());
  dequantize_row(t, buf.data(), out, cols);
}

}  // namespace flops
