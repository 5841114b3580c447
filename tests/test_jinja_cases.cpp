// Must-show 2: every case in ../shared/data/chat-templates/*.cases.jsonl (real models' chat
// templates with the strings transformers' apply_chat_template produced) renders byte for byte,
// and the raising cases fail: raise_exception() with the recorded message exactly, the Python
// runtime errors (TypeError, UndefinedError) with Python's message inside ours.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/chat_template.h"
#include "model/jinja.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace flops;
using ojson = nlohmann::ordered_json;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Tally {
  int cases = 0, rendered = 0, raised = 0;
};

void run_file(const fs::path& cases_path, Tally& t) {
  fs::path jinja_path = cases_path;
  jinja_path.replace_extension();  // .cases
  jinja_path.replace_extension(".jinja");
  ASSERT_TRUE(fs::exists(jinja_path)) << jinja_path;
  const std::string source = slurp(jinja_path);
  std::ifstream in(cases_path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++n;
    ++t.cases;
    ojson c = ojson::parse(line);
    const std::string where = cases_path.filename().string() + " case " + c.value("name", "?");
    ojson vars = chat_case_variables(c);
    jinja::Options opt;
    opt.now = chat_case_time();
    if (c.contains("expected")) {
      std::string got;
      try {
        got = jinja::render(source, vars, opt);
      } catch (const std::exception& e) {
        ADD_FAILURE() << where << ": threw " << e.what();
        continue;
      }
      EXPECT_EQ(got, c["expected"].get<std::string>()) << where;
      if (got == c["expected"].get<std::string>()) ++t.rendered;
      continue;
    }
    ASSERT_TRUE(c.contains("error")) << where << " has neither expected nor error";
    const std::string want = c["error"], type = c.value("error_type", "");
    try {
      std::string got = jinja::render(source, vars, opt);
      ADD_FAILURE() << where << ": rendered instead of raising " << type << ": " << want << "\n got: " << got;
    } catch (const jinja::TemplateError& e) {
      EXPECT_EQ(type, "TemplateError") << where << ": raise_exception(" << e.what() << ") but Python raised " << type;
      EXPECT_EQ(std::string(e.what()), want) << where;
      if (type == "TemplateError" && e.what() == want) ++t.raised;
    } catch (const Error& e) {
      EXPECT_NE(type, "TemplateError") << where << ": " << e.what();
      std::string msg = e.what();
      EXPECT_NE(msg.find(want), std::string::npos) << where << ": message '" << msg << "' lacks Python's '" << want << "'";
      EXPECT_NE(msg.find(type), std::string::npos) << where << ": message '" << msg << "' lacks the type " << type;
      if (msg.find(want) != std::string::npos) ++t.raised;
    }
  }
  EXPECT_GT(n, 0) << cases_path << " holds no cases";
}

}  // namespace

TEST(JinjaCases, EveryChatTemplateCaseRendersExactly) {
  std::string dir = test::shared_data_dir();
  if (dir.empty() || !fs::exists(dir + "/chat-templates")) GTEST_SKIP() << "shared data (../shared/data/chat-templates) not present";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir + "/chat-templates"))
    if (e.path().string().size() > 12 && e.path().string().ends_with(".cases.jsonl")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());
  Tally t;
  for (const auto& f : files) run_file(f, t);
  std::printf("chat-template cases: %d files, %d cases, %d rendered byte for byte, %d raised as recorded\n",
              (int)files.size(), t.cases, t.rendered, t.raised);
  EXPECT_EQ(t.rendered + t.raised, t.cases);
}
