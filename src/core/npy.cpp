#include "core/npy.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "core/mmap_file.h"

namespace flops {

static_assert(sizeof(float) == 4);

void write_npy_f32(const std::string& path, int64_t rows, int64_t cols, const float* data) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  // The magic (6), version (2) and length (2) plus the header, padded with spaces and ended by a
  // newline, fill a multiple of 64 bytes, as the format asks.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += (char)(header.size() & 0xff);
  out += (char)(header.size() >> 8);
  out += header;
  const size_t n = (size_t)rows * (size_t)cols * 4;
  const size_t at = out.size();
  out.resize(at + n);
  if (n) std::memcpy(out.data() + at, data, n);  // x86-64: floats are little-endian in memory
  write_file_atomic(path, out.data(), out.size());
}

std::vector<float> read_npy_f32(const std::string& path, int64_t& rows, int64_t& cols) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("cannot open {}", path);
  std::string s((std::istreambuf_iterator<char>(f)), {});
  if (s.size() < 10 || s.compare(0, 6, "\x93NUMPY") != 0 || s[6] != 1) fail("{}: not a version 1 .npy file", path);
  const size_t hl = (unsigned char)s[8] | ((size_t)(unsigned char)s[9] << 8);
  if (10 + hl > s.size()) fail("{}: truncated .npy header", path);
  const std::string h = s.substr(10, hl);
  if (h.find("'descr': '<f4'") == std::string::npos || h.find("'fortran_order': False") == std::string::npos)
    fail("{}: not a C-order float32 array", path);
  const size_t sp = h.find("'shape': (");
  if (sp == std::string::npos || std::sscanf(h.c_str() + sp, "'shape': (%ld, %ld)", &rows, &cols) != 2)
    fail("{}: not a 2-D array", path);
  const size_t n = (size_t)rows * (size_t)cols;
  if (s.size() != 10 + hl + n * 4) fail("{}: {} data bytes for shape ({}, {})", path, s.size() - 10 - hl, rows, cols);
  std::vector<float> v(n);
  if (n) std::memcpy(v.data(), s.data() + 10 + hl, n * 4);
  return v;
}

}  // namespace flops
