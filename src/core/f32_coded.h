#pragma once
// F32 matrices stored losslessly in 3.5 bytes per weight, for decoding from DRAM.
//
// A decode step reads every weight once and, for F32, is bound by the memory's read rate: the
// only way to go faster is to read fewer bytes. The top byte of an IEEE float (sign and the 7
// high exponent bits) takes few values in a weight matrix: weights sit within a few octaves of
// each other, so 16 values cover all but ~1e-4 of a random-normal matrix's entries. Each weight
// is stored as its low 3 bytes verbatim and a 4-bit code of its top byte; the top bytes the 16
// codes miss ("escapes") are listed per row by position, and the kernel patches them in. The
// decoded floats are the original bits, so every product gives exactly the F32 result.
//
// Layout of one coded matrix (one allocation, 64-byte aligned):
//   [0, 64)     the 16 top bytes of the codes, repeated 4 times (a VPERMB table)
//   [64, 72)    byte offset of the rows from the start; [72, 80) number of escapes E
//   [80, ...)   uint32 esc_start[rows + 1] (row r's escapes are esc_start[r] .. esc_start[r+1]),
//               uint32 esc_col[E] (ascending within a row), uint8 esc_byte[E]
//   rows        each row cols / 128 blocks of 448 bytes (7 cache lines): the low 3 bytes of
//               its 128 weights in order (384 bytes), then their codes, two per byte, the
//               even element in the low nibble (64 bytes)
// Rows are a whole number of blocks: cols a multiple of 128.
#include <cstddef>
#include <cstdint>

namespace flops {

constexpr int64_t kF32CodedBlock = 128;       // weights per block
constexpr int64_t kF32CodedBlockBytes = 448;  // bytes per block

struct F32CodedPlan {
  uint8_t top[16] = {};  // the coded top bytes, most frequent first
  int64_t escapes = 0;
  size_t bytes = 0;  // of the whole coded matrix
  bool worth = false;  // cols fits the layout and the escapes leave most of the saving
};

// Counts the top bytes of a rows x cols row-major F32 matrix and plans its coded form.
F32CodedPlan f32_coded_plan(const float* w, int64_t rows, int64_t cols);
// Writes the coded form (plan.bytes bytes at dst, 64-byte aligned).
void f32_coded_pack(const float* w, int64_t rows, int64_t cols, const F32CodedPlan& plan, void* dst);

// Views into a coded matrix.
struct F32CodedView {
  const uint8_t* table;      // 64 bytes
  const uint32_t* esc_start; // rows + 1
  const uint32_t* esc_col;
  const uint8_t* esc_byte;
  const uint8_t* rows;       // row r at rows + r * row_bytes
  size_t row_bytes;
};
F32CodedView f32_coded_view(const void* coded, int64_t rows, int64_t cols);

// out (cols floats) = row r, bit for bit the original (the active variant's vector decoder
// where it has one).
void f32_coded_row(const void* coded, int64_t rows, int64_t r, int64_t cols, float* out);

}  // namespace flops
