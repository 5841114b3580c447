#pragma once
// Weights repacked at load time for small-batch decoding: each group of kPackRows (8)
// consecutive output rows stored block by block side by side, so that one byte dot product
// serves 8 output rows and a block's float conversion and scale multiply-add are done once for
// all 8 (core/kernels_x86_rows8.inc states the layout). Q4_0's and Q8_0's groups go in pairs
// whose packed blocks alternate (kern::packed_group): the two-group kernels read a pair as one
// sequential stream, which the hardware prefetcher follows; two streams a group apart, both
// jumping at the pair's end, ran at half that speed from DRAM on one thread (Zen 4, 12-13
// against 27-29 GB/s for a 2048 x 768 Q4_0 matrix). The packed matrix has exactly the bytes
// of the row-major one (same block count, same scales and codes, reordered): packing costs no
// memory once the original is dropped. Q4_0, Q8_0, Q4_K and Q6_K have a packed form.
#include <cstdint>

#include "core/dtype.h"

namespace flops {

// Whether a rows x cols matrix of type t can be packed (a packed type, rows a multiple of 8).
bool rows8_packable(DType t, int64_t rows, int64_t cols);

// dst (dtype_row_bytes(t, cols) * rows bytes) = src (row-major, GGUF layout) packed.
void pack_rows8(DType t, const void* src, int64_t rows, int64_t cols, void* dst);

// dst (dtype_row_bytes(t, cols) bytes) = row `row` of a packed rows x cols matrix in the
// row-major layout, byte for byte the row that was packed.
void unpack_row8(DType t, const void* packed, int64_t rows, int64_t row, int64_t cols, void* dst);

// out (cols floats) = row `row` of a packed rows x cols matrix, dequantized exactly as the
// row-major row.
void dequantize_row8(DType t, const void* packed, int64_t rows, int64_t row, int64_t cols, float* out);

}  // namespace flops
