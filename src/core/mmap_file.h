#pragma once
// A read-only memory map of a whole file (RAII).
#include <cstddef>
#include <cstdint>
#include <string>

namespace flops {

struct MappedFile {
  const uint8_t* data = nullptr;
  size_t size = 0;
  std::string path;

  MappedFile() = default;
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
};

// Writes bytes to path atomically: a temporary file beside it, fsync, rename.
void write_file_atomic(const std::string& path, const void* data, size_t size);
std::string read_text_file(const std::string& path);

}  // namespace flops
