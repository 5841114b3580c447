#include "test_util.h"
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

namespace flops::test {
std::string shared_data_dir() {
  namespace fs = std::filesystem;
  for (auto p : {fs::path(FLOPS_SOURCE_DIR) / ".." / "shared" / "data"}) {
    if (fs::exists(p / "models")) return fs::canonical(p).string();
  }
  return "";
}
std::string temp_dir() {
  auto d = std::filesystem::temp_directory_path() / ("flops_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(d);
  return d.string();
}
}  // namespace flops::test
