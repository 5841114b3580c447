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

// The same for output written piece by piece: the temporary file becomes `path` on commit();
// without commit (an exception on the way) it is removed, so no partial file is left.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::string& path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  void write(const void* data, size_t size);
  void commit();
  uint64_t written() const { return written_; }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  uint64_t written_ = 0;
};
std::string read_text_file(const std::string& path);

}  // namespace flops
