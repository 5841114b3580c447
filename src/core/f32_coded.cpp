#include "core/f32_coded.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <numeric>

#include "core/kernels.h"

namespace flops {
namespace {

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

size_t header_bytes(int64_t rows, int64_t escapes) {
  return align64(80 + 4 * (size_t)(rows + 1) + 5 * (size_t)escapes);
}

// code[b] = the code of top byte b, or 16 when no code has it (an escape).
std::array<uint8_t, 256> codes_of(const uint8_t* top) {
  std::array<uint8_t, 256> code;
  code.fill(16);
  for (int i = 15; i >= 0; i--) code[top[i]] = (uint8_t)i;
  return code;
}

}  // namespace

F32CodedPlan f32_coded_plan(const float* w, int64_t rows, int64_t cols) {
  F32CodedPlan p;
  const int64_t n = rows * cols;
  if (rows <= 0 || cols <= 0 || cols % kF32CodedBlock != 0) return p;
  std::array<int64_t, 256> count{};
  for (int64_t i = 0; i < n; i++) count[bits_of(w[i]) >> 24]++;
  std::array<int, 256> order;
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return count[a] > count[b]; });
  int64_t covered = 0;
  for (int i = 0; i < 16; i++) {
    p.top[i] = (uint8_t)order[i];
    covered += count[order[i]];
  }
  p.escapes = n - covered;
  p.bytes = header_bytes(rows, p.escapes) + (size_t)rows * (size_t)(cols / kF32CodedBlock) * kF32CodedBlockBytes;
  // Each escape costs 5 bytes against the half byte per weight saved: keep them under 1/8 of it.
  p.worth = p.escapes * 5 * 16 <= n && p.bytes < (size_t)n * 4;
  return p;
}

void f32_coded_pack(const float* w, int64_t rows, int64_t cols, const F32CodedPlan& plan, void* dst) {
  uint8_t* base = (uint8_t*)dst;
  std::memset(base, 0, header_bytes(rows, plan.escapes));
  for (int r = 0; r < 4; r++) std::memcpy(base + 16 * r, plan.top, 16);
  const uint64_t data_at = header_bytes(rows, plan.escapes), escapes = (uint64_t)plan.escapes;
  std::memcpy(base + 64, &data_at, 8);
  std::memcpy(base + 72, &escapes, 8);
  uint32_t* esc_start = (uint32_t*)(base + 80);
  uint32_t* esc_col = esc_start + rows + 1;
  uint8_t* esc_byte = (uint8_t*)(esc_col + plan.escapes);
  const std::array<uint8_t, 256> code = codes_of(plan.top);
  const size_t row_bytes = (size_t)(cols / kF32CodedBlock) * kF32CodedBlockBytes;
  uint32_t e = 0;
  for (int64_t r = 0; r < rows; r++) {
    esc_start[r] = e;
    uint8_t* out = base + data_at + (size_t)r * row_bytes;
    for (int64_t c0 = 0; c0 < cols; c0 += kF32CodedBlock, out += kF32CodedBlockBytes) {
      uint8_t* nib = out + 3 * kF32CodedBlock;
      std::memset(nib, 0, kF32CodedBlock / 2);
      for (int64_t j = 0; j < kF32CodedBlock; j++) {
        const uint32_t b = bits_of(w[r * cols + c0 + j]);
        out[3 * j] = (uint8_t)b;
        out[3 * j + 1] = (uint8_t)(b >> 8);
        out[3 * j + 2] = (uint8_t)(b >> 16);
        uint8_t k = code[b >> 24];
        if (k == 16) {  // an escape: any code will do, the kernel overwrites the byte
          esc_col[e] = (uint32_t)(c0 + j);
          esc_byte[e] = (uint8_t)(b >> 24);
          e++;
          k = 0;
        }
        nib[j / 2] |= (uint8_t)(k << (4 * (j & 1)));
      }
    }
  }
  esc_start[rows] = e;
}

F32CodedView f32_coded_view(const void* coded, int64_t rows, int64_t cols) {
  const uint8_t* base = (const uint8_t*)coded;
  uint64_t data_at, escapes;
  std::memcpy(&data_at, base + 64, 8);
  std::memcpy(&escapes, base + 72, 8);
  F32CodedView v;
  v.table = base;
  v.esc_start = (const uint32_t*)(base + 80);
  v.esc_col = v.esc_start + rows + 1;
  v.esc_byte = (const uint8_t*)(v.esc_col + escapes);
  v.rows = base + data_at;
  v.row_bytes = (size_t)(cols / kF32CodedBlock) * kF32CodedBlockBytes;
  return v;
}

void f32_coded_row(const void* coded, int64_t rows, int64_t r, int64_t cols, float* out) {
  const F32CodedView v = f32_coded_view(coded, rows, cols);
  const uint8_t* p = v.rows + (size_t)r * v.row_bytes;
  const uint32_t e0 = v.esc_start[r];
  if (const kern::F32CodedDecodeFn decode = kern::active().f32_coded_decode)
    return decode(p, v.table, v.esc_col + e0, v.esc_byte + e0, v.esc_start[r + 1] - e0, out, cols);
  for (int64_t c0 = 0; c0 < cols; c0 += kF32CodedBlock, p += kF32CodedBlockBytes)
    for (int64_t j = 0; j < kF32CodedBlock; j++) {
      const uint8_t k = (p[3 * kF32CodedBlock + j / 2] >> (4 * (j & 1))) & 15;
      const uint32_t b = (uint32_t)p[3 * j] | (uint32_t)p[3 * j + 1] << 8 | (uint32_t)p[3 * j + 2] << 16 |
                         (uint32_t)v.table[k] << 24;
      std::memcpy(out + c0 + j, &b, 4);
    }
  for (uint32_t e = e0; e < v.esc_start[r + 1]; e++) {
    uint32_t b;
    std::memcpy(&b, out + v.esc_col[e], 4);
    b = (b & 0x00ffffffu) | (uint32_t)v.esc_byte[e] << 24;
    std::memcpy(out + v.esc_col[e], &b, 4);
  }
}

}  // namespace flops
