// Installed like a real tool: `cmake --install` puts flops and the shipped models in a prefix,
// and a command given no model takes FLOPS_MODEL, then the installed default, then the checkout's
// model, saying which.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>

#include "test_util.h"

namespace fs = std::filesystem;

namespace {

struct Shell {
  int code = -1;
  std::string out, err;
};

Shell sh(const std::string& cmd) {
  std::string err_path = flops::test::temp_dir() + "/install_stderr.txt";
  Shell r;
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

std::string text_file() {
  std::string path = flops::test::temp_dir() + "/install_text.txt";
  std::ofstream(path) << "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
                         "must be in want of a wife. However little known the feelings of such a man may be.";
  return path;
}

}  // namespace

TEST(Install, PrefixHoldsTheBinaryModelsAndCalibration) {
  std::string prefix = flops::test::temp_dir() + "/prefix";
  fs::remove_all(prefix);
  Shell r = sh("cmake --install " + std::string(FLOPS_BINARY_DIR) + " --prefix " + prefix);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(prefix + "/bin/flops"));
  EXPECT_TRUE(fs::exists(prefix + "/share/flops/models/flops-a.gguf"));
  EXPECT_TRUE(fs::exists(prefix + "/share/flops/models/flops-a.gguf.detect.json"));
  EXPECT_TRUE(fs::exists(prefix + "/share/flops/models/flops-b.gguf"));

  std::string text = text_file();
  // From outside any checkout, with no FLOPS_MODEL: the installed default.
  Shell d = sh("cd / && env -u FLOPS_MODEL " + prefix + "/bin/flops detect -f " + text + " --min-tokens 8");
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_NE(d.err.find("model: " + prefix + "/share/flops/models/flops-a.gguf (the installed default)"), std::string::npos) << d.err;
  EXPECT_NE(d.out.find("fast-detectgpt"), std::string::npos);
  // Its calibration file came along: the verdict is calibrated.
  EXPECT_NE(d.out.find("calibration: " + prefix + "/share/flops/models/flops-a.gguf.detect.json"), std::string::npos) << d.out;
  // --json stays quiet about it.
  Shell j = sh("cd / && env -u FLOPS_MODEL " + prefix + "/bin/flops score " + text + " --json");
  ASSERT_EQ(j.code, 0) << j.err;
  EXPECT_EQ(j.err.find("model:"), std::string::npos) << j.err;

  // FLOPS_MODEL comes first.
  std::string b = std::string(FLOPS_SOURCE_DIR) + "/models/flops-b.gguf";
  Shell e = sh("cd / && FLOPS_MODEL=" + b + " " + prefix + "/bin/flops score -f " + text);
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.err.find("model: " + b + " (from FLOPS_MODEL)"), std::string::npos) << e.err;
}

TEST(Install, TheBuildTreeBinaryTakesTheCheckoutsModel) {
  Shell d = sh("cd / && env -u FLOPS_MODEL " + std::string(FLOPS_BINARY_DIR) + "/flops score -f " + text_file());
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_NE(d.err.find("(the checkout's default)"), std::string::npos) << d.err;
}

TEST(Install, NoModelAnywhereSaysSo) {
  // A lone copy of the binary: no prefix, no checkout above it.
  std::string dir = flops::test::temp_dir() + "/lone";
  fs::create_directories(dir);
  fs::copy_file(std::string(FLOPS_BINARY_DIR) + "/flops", dir + "/flops", fs::copy_options::overwrite_existing);
  Shell d = sh("cd / && env -u FLOPS_MODEL " + dir + "/flops score -f " + text_file());
  EXPECT_EQ(d.code, 1);
  EXPECT_NE(d.err.find("error: no model given: pass -m MODEL.gguf or set FLOPS_MODEL"), std::string::npos) << d.err;
}
