// flops eval and eval-report run as a user runs them: results, the sample log, the cache, the
// plot, and bad input (a typo'd key, a missing field, a short CSV row, an unreachable or broken
// endpoint) as one-line errors that leave no results file behind.
#include <gtest/gtest.h>

#include <httplib.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "model/synthetic.h"
#include "test_util.h"

using namespace flops;
namespace fs = std::filesystem;

namespace {

struct CliRun {
  int code = 0;
  std::string out, err;
};

CliRun run(const std::string& args) {
  std::string err_path = test::temp_dir() + "/harness_cli_stderr.txt";
  std::string cmd = std::string(FLOPS_BINARY_DIR) + "/flops " + args + " 2>" + err_path;
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream e(err_path);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  return r;
}

std::string dir() {
  std::string d = test::temp_dir() + "/harness_cli";
  fs::create_directories(d);
  return d;
}

std::string write(const std::string& name, const std::string& text) {
  std::string p = dir() + "/" + name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

std::string tiny_model() {
  std::string path = dir() + "/tiny.gguf";
  if (fs::exists(path)) return path;
  ModelConfig c;
  c.n_vocab = 300;
  c.n_embd = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 64;
  c.n_ctx_train = 128;
  c.n_rot = 8;
  synthetic_model(c).write(path);
  return path;
}

// A one-line error containing `phrase`, exit 1, nothing on stdout.
void expect_error(const CliRun& r, const std::string& phrase) {
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(phrase), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

const char* kTask =
    "task: quiz\n"
    "dataset_path: quiz.csv\n"
    "test_split: test\n"
    "output_type: multiple_choice\n"
    "doc_to_text: \"{{question}}\\nAnswer:\"\n"
    "doc_to_choice: [\"{{A}}\", \"{{B}}\"]\n"
    "doc_to_target: \"{{label}}\"\n";

const char* kQuiz = "question,A,B,label\nWater is,wet,dry,0\nFire is,cold,hot,1\nIce is,cold,hot,0\n";

}  // namespace

TEST(HarnessCli, RunsWritesAndResumes) {
  write("quiz.csv", kQuiz);
  std::string task = write("quiz.yaml", kTask);
  std::string out = dir() + "/run.json", samples = dir() + "/samples.jsonl", cache = dir() + "/cache.jsonl";
  fs::remove(cache);
  std::string args = "eval --tasks " + task + " -m " + tiny_model() + " --json -o " + out + " --log-samples " + samples +
                     " --cache " + cache;
  CliRun r = run(args);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  const auto& res = j["results"]["quiz"];
  EXPECT_TRUE(res.contains("acc,none") && res.contains("acc_stderr,none") && res.contains("acc_norm,none")) << res;
  EXPECT_EQ(j["n-samples"]["quiz"]["effective"], 3);
  EXPECT_GT(j["cost"]["quiz"]["flops"].get<double>(), 0);
  EXPECT_GT(j["cost"]["quiz"]["joules_per_question"].get<double>(), 0);
  EXPECT_EQ(j["cost"]["quiz"]["requests"], 6);
  EXPECT_EQ(j["tasks"]["quiz"]["chance"], 0.5);
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(out)), j);  // -o holds what --json printed
  // The sample log: one line per question with its prompt, both log-likelihoods and the verdict.
  std::ifstream sf(samples);
  std::string line;
  int lines = 0;
  double acc = 0;
  while (std::getline(sf, line)) {
    auto s = nlohmann::json::parse(line);
    EXPECT_EQ(s["loglikelihoods"].size(), 2u);
    EXPECT_EQ(s["prompt"].get<std::string>().substr(0, 5), lines == 0 ? "Water" : (lines == 1 ? "Fire " : "Ice i"));
    acc += s["correct"].get<bool>();
    lines++;
  }
  EXPECT_EQ(lines, 3);
  EXPECT_DOUBLE_EQ(acc / 3, res["acc,none"].get<double>());
  // A rerun answers from the cache: same results, no request runs again.
  CliRun again = run(args);
  ASSERT_EQ(again.code, 0) << again.err;
  auto j2 = nlohmann::json::parse(again.out);
  EXPECT_EQ(j2["results"], j["results"]);
  EXPECT_EQ(j2["cost"]["quiz"]["cached_requests"], 6);
  EXPECT_EQ(j2["cache"]["stored"], 0);

  // eval-report compares runs: a bar per run and task, and the same numbers as a table.
  std::string svg = dir() + "/report.svg";
  CliRun rep = run("eval-report " + out + " " + out + " -o " + svg);
  ASSERT_EQ(rep.code, 0) << rep.err;
  EXPECT_NE(rep.out.find("| quiz |"), std::string::npos) << rep.out;
  std::ifstream sv(svg);
  std::string text((std::istreambuf_iterator<char>(sv)), {});
  EXPECT_EQ(text.rfind("<svg", 0), 0u);
  EXPECT_NE(text.find("tiny.gguf #2"), std::string::npos);  // two runs of one model keep apart
  EXPECT_NE(text.find("chance"), std::string::npos);
  expect_error(run("eval-report " + samples), "is not JSON");
}

TEST(HarnessCli, BadInputIsOneLineAndLeavesNoFile) {
  write("quiz.csv", kQuiz);
  std::string out = dir() + "/never.json";
  fs::remove(out);
  std::string m = " -m " + tiny_model() + " -o " + out;
  // A typo'd key: its name, the key it means and its line.
  std::string typo = write("typo.yaml", std::string(kTask) + "num_fewshots: 2\n");
  expect_error(run("eval --tasks " + typo + m), "typo.yaml line 8: unknown task key 'num_fewshots' (did you mean 'num_fewshot'?)");
  // A template that uses a field the data lacks: the template's line, the field and the row.
  std::string missing = write("missing.yaml", std::string(kTask).replace(std::string(kTask).find("{{question}}"), 12, "{{questoin}}"));
  expect_error(run("eval --tasks " + missing + m),
               "missing.yaml line 5 (doc_to_text) uses 'questoin', which quiz.csv line 2 does not have (its fields: A, B, "
               "label, question)");
  // A CSV row with a field missing.
  write("short.csv", "question,A,B,label\nWater is,wet,dry,0\nFire is,hot,1\n");
  std::string short_task = write("short.yaml", std::string(kTask).replace(std::string(kTask).find("quiz.csv"), 8, "short.csv"));
  expect_error(run("eval --tasks " + short_task + m), "short.csv line 3: 3 fields, but the header has 4 columns (question, A, B, label)");
  // An endpoint nobody listens on.
  std::string task = dir() + "/quiz.yaml";
  write("quiz.yaml", kTask);
  expect_error(run("eval --tasks " + task + " --api-base http://127.0.0.1:1/v1 --api-model x -o " + out),
               "cannot reach the endpoint http://127.0.0.1:1/v1/completions");
  // An endpoint that answers garbage.
  httplib::Server svr;
  svr.Post("/v1/completions", [](const httplib::Request&, httplib::Response& res) { res.set_content("Bad Gateway\n<html>", "text/html"); });
  int port = svr.bind_to_any_port("127.0.0.1");
  std::thread th([&] { svr.listen_after_bind(); });
  while (!svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  expect_error(run("eval --tasks " + task + " --api-base http://127.0.0.1:" + std::to_string(port) + " --api-model x -o " + out),
               "answered with something that is not JSON: 'Bad Gateway <html>'");
  svr.stop();
  th.join();
  // Unknown tasks and conflicting backends.
  expect_error(run("eval --tasks no_such_task" + m), "unknown task 'no_such_task'");
  expect_error(run("eval --tasks " + task + m + " --responses x.jsonl"), "give one of -m MODEL, --api-base URL or --responses FILE");
  EXPECT_FALSE(fs::exists(out));
}

TEST(HarnessCli, ListsTheBuiltInTasks) {
  CliRun r = run("eval --list --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  std::set<std::string> names;
  for (const auto& e : j) names.insert(e["name"].get<std::string>());
  for (const char* n : {"causality_tuebingen_yesno", "causality_tuebingen_ab", "causality_tuebingen_ll", "causality_neuropathic",
                        "causality_arctic", "crass", "agieval_lsat_ar", "agieval_lsat_lr", "agieval_lsat_rc", "agieval_sat_en",
                        "agieval_sat_math", "agieval_aqua_rat", "agieval_logiqa_en", "mmlu_anatomy", "mmlu_virology", "mmlu"})
    EXPECT_TRUE(names.count(n)) << n;
  EXPECT_GE(names.size(), 57u + 7u + 7u);
}
