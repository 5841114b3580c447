#pragma once
// SHA-256 (FIPS 180-4): the content hash that tells the indexer a file is unchanged, and the
// identity of the embedding model an index was built with.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace flops::search {

struct Sha256 {
  Sha256();
  void update(const void* data, size_t n);
  std::string hex();  // finishes the hash; call once

 private:
  uint32_t h_[8];
  uint8_t buf_[64];
  uint64_t len_ = 0;
  size_t fill_ = 0;
  void block(const uint8_t* p);
};

std::string sha256_hex(std::string_view data);
// Streams the file; throws flops::Error when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace flops::search
