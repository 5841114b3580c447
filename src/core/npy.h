#pragma once
// NumPy .npy files (format version 1.0): what numpy.load reads without options.
#include <cstdint>
#include <string>
#include <vector>

namespace flops {

// Writes a C-order float32 array of shape (rows, cols), little-endian, atomically.
void write_npy_f32(const std::string& path, int64_t rows, int64_t cols, const float* data);
// Reads back what write_npy_f32 writes (tests); throws naming what is not a (rows, cols) '<f4' array.
std::vector<float> read_npy_f32(const std::string& path, int64_t& rows, int64_t& cols);

}  // namespace flops
