#include "test_util.h"
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "core/mmap_file.h"

namespace flops::test {

CommandRun run_command(const std::string& cmd) {
  std::string err_path = temp_dir() + "/command_stderr_" + std::to_string(::getpid()) + ".txt";
  CommandRun r;
  FILE* p = popen((cmd + " 2>" + err_path).c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream e(err_path);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  return r;
}
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

std::vector<std::string> read_vocab_test_inputs(const std::string& path) {
  std::string all = read_text_file(path);
  std::vector<std::string> out;
  std::string cur;
  bool have = false;
  size_t at = 0;
  while (at < all.size()) {
    size_t nl = all.find('\n', at);
    std::string line = all.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? all.size() : nl + 1;
    if (line == "__ggml_vocab_test__") {
      out.push_back(cur);
      cur.clear();
      have = false;
    } else {
      if (have) cur += '\n';
      cur += line;
      have = true;
    }
  }
  return out;
}

std::vector<std::vector<int32_t>> read_vocab_test_outputs(const std::string& path) {
  std::string all = read_text_file(path);
  std::vector<std::vector<int32_t>> out;
  std::istringstream in(all);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    int64_t x;
    while (ls >> x) ids.push_back((int32_t)x);
    out.push_back(ids);
  }
  return out;
}
}  // namespace flops::test
