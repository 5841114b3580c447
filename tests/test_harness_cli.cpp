// flops eval and eval-report run as a user runs them: results, the sample log, the cache, the
// plot, and bad input (a typo'd key, a missing field, a short CSV row, an unreachable or broken
// endpoint) as one-line errors that leave no results file behind.
#include <gtest/gtest.h>

#include <httplib.h>

#include <array>
#include <atomic>
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

using CliRun = test::CommandRun;

CliRun run(const std::string& args) { return test::run_command(std::string(FLOPS_BINARY_DIR) + "/flops " + args); }

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

namespace {

// Bad input (must-show 4): each case is exactly one line naming the problem, exit 1, nothing on
// stdout, and neither the results file (-o) nor the sample log (--log-samples) left behind.
struct BadRun {
  std::string out = dir() + "/never.json", samples = dir() + "/never.jsonl";
  BadRun() {
    fs::remove(out);
    fs::remove(samples);
  }
  std::string files() const { return " -o " + out + " --log-samples " + samples; }
  void expect(const CliRun& r, const std::string& message) const {
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_EQ(r.err, "error: " + message + "\n");
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_FALSE(fs::exists(out));
    EXPECT_FALSE(fs::exists(samples));
  }
};

std::string quiz_task() {
  write("quiz.csv", kQuiz);
  return write("quiz.yaml", kTask);
}

// A local OpenAI-style endpoint whose answers the test scripts: `good` proper chat answers, then
// `bad` for every later request (both can change between runs).
struct FakeEndpoint {
  httplib::Server svr;
  std::thread th;
  int port = 0;
  std::atomic<int> served{0}, good{0};
  std::string bad_body, bad_type;
  FakeEndpoint(int good_answers, std::string body, std::string type)
      : good(good_answers), bad_body(std::move(body)), bad_type(std::move(type)) {
    auto handler = [this](const httplib::Request&, httplib::Response& res) {
      if (served++ < good)
        res.set_content(R"({"choices":[{"index":0,"message":{"role":"assistant","content":"wet"},"finish_reason":"stop"}],)"
                        R"("usage":{"prompt_tokens":5,"completion_tokens":1}})",
                        "application/json");
      else
        res.set_content(bad_body, bad_type);
    };
    svr.Post("/v1/chat/completions", handler);
    svr.Post("/v1/completions", handler);
    port = svr.bind_to_any_port("127.0.0.1");
    th = std::thread([this] { svr.listen_after_bind(); });
    while (!svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeEndpoint() {
    svr.stop();
    th.join();
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port) + "/v1"; }
};

// The quiz as a generate_until task (answers through /v1/chat/completions).
std::string gen_quiz_task() {
  write("quiz.csv", kQuiz);
  return write("genquiz.yaml",
               "task: genquiz\ndataset_path: quiz.csv\ntest_split: test\noutput_type: generate_until\n"
               "doc_to_text: \"{{question}}\"\ndoc_to_target: \"{{A}}\"\ngeneration_kwargs:\n  until: [\"\\n\"]\n"
               "  max_gen_toks: 4\n");
}

}  // namespace

TEST(HarnessBadInput, TypoedKeyNamesItsLineAndTheKeyMeant) {
  quiz_task();
  BadRun b;
  std::string typo = write("typo.yaml", std::string(kTask) + "num_fewshots: 2\n");
  b.expect(run("eval --tasks " + typo + " -m " + tiny_model() + b.files()),
           "typo.yaml line 8: unknown task key 'num_fewshots' (did you mean 'num_fewshot'?)");
}

TEST(HarnessBadInput, TemplateFieldMissingFromTheData) {
  quiz_task();
  BadRun b;
  std::string t = std::string(kTask);
  std::string missing = write("missing.yaml", t.replace(t.find("{{question}}"), 12, "{{questoin}}"));
  b.expect(run("eval --tasks " + missing + " -m " + tiny_model() + b.files()),
           "missing.yaml line 5 (doc_to_text) uses 'questoin', which quiz.csv line 2 does not have (its fields: A, B, "
           "label, question)");
}

TEST(HarnessBadInput, CsvRowWithTheWrongColumnCount) {
  BadRun b;
  write("short.csv", "question,A,B,label\nWater is,wet,dry,0\nFire is,hot,1\n");
  std::string t = std::string(kTask);
  std::string task = write("short.yaml", t.replace(t.find("quiz.csv"), 8, "short.csv"));
  b.expect(run("eval --tasks " + task + " -m " + tiny_model() + b.files()),
           dir() + "/short.csv line 3: 3 fields, but the header has 4 columns (question, A, B, label)");
  // The same CSV given to --make-task: the same line, and no task file written.
  std::string made = dir() + "/never.yaml";
  fs::remove(made);
  write("short_q.csv", "question,A,B,answer\nWater is,wet,dry,A\nFire is,hot,B\n");
  CliRun r = run("eval --make-task " + dir() + "/short_q.csv -o " + made);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "error: " + dir() + "/short_q.csv line 3: 3 fields, but the header has 4 columns (question, A, B, answer)\n");
  EXPECT_FALSE(fs::exists(made));
}

TEST(HarnessBadInput, UnreachableEndpoint) {
  BadRun b;
  b.expect(run("eval --tasks " + quiz_task() + " --api-base http://127.0.0.1:1/v1 --api-model x" + b.files()),
           "cannot reach the endpoint http://127.0.0.1:1/v1/completions: connection refused or host unreachable (is the "
           "server running?)");
}

TEST(HarnessBadInput, EndpointAnsweringGarbage) {
  {
    FakeEndpoint ep(0, "Bad Gateway\n<html>", "text/html");
    BadRun b;
    b.expect(run("eval --tasks " + quiz_task() + " --api-base " + ep.base() + " --api-model x" + b.files()),
             "the endpoint " + ep.base() + "/completions answered with something that is not JSON: 'Bad Gateway <html>'");
  }
  {
    FakeEndpoint ep(0, R"({"object":"text_completion","choices":[{"index":0,"text":" x"},{"index":1,"text":" x"}]})",
                    "application/json");
    BadRun b;
    b.expect(run("eval --tasks " + quiz_task() + " --api-base " + ep.base() + " --api-model x" + b.files()),
             "the endpoint " + ep.base() +
                 "/completions does not return prompt log-probabilities (no logprobs.token_logprobs and text_offset with "
                 "echo = true), which multiple_choice and loglikelihood tasks need; generate_until tasks work");
  }
  // Garbage after two good answers: still no results and no sample log, but the --cache file
  // keeps the two answers, so a rerun against the mended endpoint continues from them.
  std::string cache = dir() + "/garbage_cache.jsonl";
  fs::remove(cache);
  std::string task = gen_quiz_task();
  FakeEndpoint ep(2, R"({"error": null, "choices": []})", "application/json");
  std::string args = "eval --tasks " + task + " --api-base " + ep.base() + " --api-model x --cache " + cache;
  BadRun b;
  b.expect(run(args + b.files()),
           "the endpoint " + ep.base() + "/chat/completions answered JSON without choices: '{\"error\": null, \"choices\": []}'");
  EXPECT_EQ(ep.served, 3);
  ep.served = 0;
  ep.good = 100;
  CliRun r = run(args + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["cost"]["genquiz"]["cached_requests"], 2);
  EXPECT_EQ(ep.served, 1);
  EXPECT_NEAR(j["results"]["genquiz"]["exact_match,none"].get<double>(), 1.0 / 3, 1e-12);  // "wet" is Water's A only
}

TEST(HarnessBadInput, UnknownTaskAndConflictingBackends) {
  BadRun b;
  std::string m = " -m " + tiny_model() + b.files();
  CliRun r = run("eval --tasks no_such_task" + m);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err.rfind("error: unknown task 'no_such_task'", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  b.expect(run("eval --tasks " + quiz_task() + m + " --responses x.jsonl"), "give one of -m MODEL, --api-base URL or --responses FILE");
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

// Must-show 3's home-made test: the shipped CSVs made into tasks by --make-task give the shipped
// task files (but for the data path, relative to where the task is written), and run at once.
TEST(HarnessCli, MakeTaskFromTheShippedCsvsRunsAtOnce) {
  for (const std::string name : {"chemistry_exam", "medical_boards"}) {
    std::string src = std::string(FLOPS_SOURCE_DIR) + "/tasks/examples/" + name;
    std::string made = dir() + "/" + name + ".yaml";
    fs::remove(made);
    CliRun m = run("eval --make-task " + src + ".csv -o " + made + " --task-name " + name + " --json");
    ASSERT_EQ(m.code, 0) << m.err;
    auto mj = nlohmann::json::parse(m.out);
    EXPECT_EQ(mj["options"], 4);
    std::ifstream a(made), b(src + ".yaml");
    std::string la, lb;
    while (std::getline(b, lb)) {
      ASSERT_TRUE((bool)std::getline(a, la)) << name;
      if (lb.rfind("dataset_path:", 0) == 0)
        EXPECT_EQ(fs::weakly_canonical(fs::path(dir()) / nlohmann::json::parse(la.substr(14)).get<std::string>()),
                  fs::weakly_canonical(src + ".csv"));
      else
        EXPECT_EQ(la, lb) << name;
    }
    EXPECT_FALSE((bool)std::getline(a, la)) << name;
    CliRun r = run("eval --tasks " + made + " -m " + tiny_model() + " --json");
    ASSERT_EQ(r.code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["n-samples"][name]["effective"], mj["questions"]);
    EXPECT_EQ(j["tasks"][name]["chance"], 0.25);
  }
}
