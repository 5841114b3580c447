#include "core/mmap_file.h"
#include "core/error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace flops {

MappedFile::MappedFile(const std::string& p) : path(p) {
  // Check the kind before opening: opening a FIFO would block until a writer comes.
  struct stat pre;
  if (::stat(p.c_str(), &pre) != 0) fail("cannot open '{}': {}", p, std::strerror(errno));
  if (S_ISDIR(pre.st_mode)) fail("'{}' is a directory, not a file", p);
  if (!S_ISREG(pre.st_mode)) fail("'{}' is not a regular file", p);
  int fd = ::open(p.c_str(), O_RDONLY | O_NONBLOCK);
  if (fd < 0) fail("cannot open '{}': {}", p, std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    fail("cannot stat '{}': {}", p, std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    fail("'{}' is a directory, not a file", p);
  }
  size = (size_t)st.st_size;
  if (size > 0) {
    void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      fail("cannot map '{}': {}", p, std::strerror(e));
    }
    data = (const uint8_t*)m;
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data) munmap((void*)data, size);
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : data(std::exchange(o.data, nullptr)), size(std::exchange(o.size, 0)), path(std::move(o.path)) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (data) munmap((void*)data, size);
    data = std::exchange(o.data, nullptr);
    size = std::exchange(o.size, 0);
    path = std::move(o.path);
  }
  return *this;
}

AtomicFileWriter::AtomicFileWriter(const std::string& path) : path_(path) {
  tmp_ = path + ".tmp." + std::to_string(::getpid());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd_ < 0) fail("cannot create '{}': {}", tmp_, std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void AtomicFileWriter::write(const void* data, size_t n) {
  if (fd_ < 0) fail("write to '{}' after it was committed", path_);
  const char* p = (const char*)data;
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("cannot write '{}': {}", tmp_, std::strerror(errno));
    }
    p += w;
    n -= (size_t)w;
    written_ += (uint64_t)w;
  }
}

void AtomicFileWriter::commit() {
  if (fd_ < 0) fail("'{}' committed twice", path_);
  const int fd = fd_;
  fd_ = -1;
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp_.c_str());
    fail("cannot flush '{}': {}", tmp_, std::strerror(e));
  }
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp_.c_str());
    fail("cannot rename '{}' to '{}': {}", tmp_, path_, std::strerror(e));
  }
}

void write_file_atomic(const std::string& path, const void* bytes, size_t n) {
  AtomicFileWriter f(path);
  f.write(bytes, n);
  f.commit();
}

std::string read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("cannot open '{}': {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace flops
