// Local and endpoint backends agree: the same multiple-choice questions on the same GGUF through
// -m and through `flops serve` (choices and log-likelihoods to 1e-3), and greedy generate_until
// answers through -m, flops serve and llama.cpp's llama-server (the reference binaries; skipped
// when absent). Each server runs as its own process on a free loopback port.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "harness/backend.h"
#include "harness/metrics.h"
#include "model/model.h"
#include "server_process.h"
#include "test_util.h"

using namespace flops;
using namespace flops::harness;

namespace {

using Server = test::ServerProcess;

std::string model_a() { return std::string(FLOPS_SOURCE_DIR) + "/models/flops-a.gguf"; }
std::string llama_server() { return std::string(FLOPS_SOURCE_DIR) + "/../shared/reference/llama.cpp/bin/llama-server"; }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Multiple-choice questions as the harness asks them: a context, then " " + each choice.
std::vector<std::pair<std::string, std::vector<std::string>>> questions() {
  return {{"Question: Which animal barks?\nAnswer:", {"a dog", "a cat", "a fish", "a bird"}},
          {"It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of",
           {"a wife.", "a horse.", "money."}},
          {"The capital of France is", {"Paris", "London", "Rome"}},
          {"Which cause-and-effect relationship is more likely?\nAnswer:",
           {"Changing the altitude causes a change in temperature.", "Changing the temperature causes a change in altitude."}}};
}

// flops eval as a user runs it: the task's per-question samples (--log-samples), by doc_id.
struct EvalRun {
  test::CommandRun cmd;
  nlohmann::json results;
  std::map<std::string, nlohmann::json> samples;
};

EvalRun eval(const std::string& task, const std::string& backend, const std::string& tag) {
  std::string samples = test::temp_dir() + "/servers_" + tag + ".jsonl";
  std::filesystem::remove(samples);
  EvalRun r;
  r.cmd = test::run_command(std::string(FLOPS_BINARY_DIR) + "/flops eval --tasks " + std::string(FLOPS_SOURCE_DIR) +
                            "/tasks/examples/" + task + ".yaml " + backend + " --json --log-samples " + samples);
  if (r.cmd.code != 0) return r;
  r.results = nlohmann::json::parse(r.cmd.out);
  std::ifstream f(samples);
  std::string line;
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line);
    r.samples[j["doc_id"].dump()] = j;
  }
  return r;
}

}  // namespace

// The whole command, not only the backends: the shipped example tasks (chemistry_exam:
// multiple_choice, famous_lines: generate_until) through -m, flops serve and llama-server.
TEST(HarnessServe, EvalCommandAgreesAcrossBackends) {
  Server serve({std::string(FLOPS_BINARY_DIR) + "/flops", "serve", "-m", model_a(), "--quiet", "-t", "1"});
  ASSERT_TRUE(serve.ready) << "flops serve did not start";
  std::string via_serve = "--api-base " + serve.base() + " --api-model flops-a";
  EvalRun lm = eval("chemistry_exam", "-m " + model_a() + " -t 1", "mc_local");
  EvalRun am = eval("chemistry_exam", via_serve, "mc_serve");
  ASSERT_EQ(lm.cmd.code, 0) << lm.cmd.err;
  ASSERT_EQ(am.cmd.code, 0) << am.cmd.err;
  ASSERT_EQ(lm.samples.size(), 20u);
  ASSERT_EQ(am.samples.size(), 20u);
  for (auto& [id, l] : lm.samples) {
    const auto& a = am.samples.at(id);
    EXPECT_EQ(a["answer"], l["answer"]) << id;
    ASSERT_EQ(a["loglikelihoods"].size(), 4u);
    for (size_t k = 0; k < 4; k++)
      EXPECT_NEAR(a["loglikelihoods"][k].get<double>(), l["loglikelihoods"][k].get<double>(), 1e-3) << id << " choice " << k;
  }
  EXPECT_EQ(am.results["results"], lm.results["results"]);
  EXPECT_GT(am.results["cost"]["chemistry_exam"]["flops"].get<double>(), 0);  // flops serve reports its FLOPs
  EXPECT_FALSE(am.results["cost"]["chemistry_exam"].contains("note"));

  // Greedy generation: the raw prompt through /v1/completions (--api-completions), as -m reads it.
  EvalRun lg = eval("famous_lines", "-m " + model_a() + " -t 1", "gen_local");
  EvalRun ag = eval("famous_lines", via_serve + " --api-completions", "gen_serve");
  ASSERT_EQ(lg.cmd.code, 0) << lg.cmd.err;
  ASSERT_EQ(ag.cmd.code, 0) << ag.cmd.err;
  ASSERT_EQ(lg.samples.size(), 10u);
  int answered = 0;
  for (auto& [id, l] : lg.samples) {
    EXPECT_EQ(ag.samples.at(id)["response"], l["response"]) << id;
    answered += !l["response"].get<std::string>().empty();
  }
  EXPECT_GE(answered, 3);  // not only empty lines
  EXPECT_EQ(ag.results["results"], lg.results["results"]);

  if (!std::filesystem::exists(llama_server())) GTEST_SKIP() << "no llama-server in ../shared/reference/llama.cpp/bin";
  Server ls({llama_server(), "-m", model_a(), "-c", "512", "-t", "1", "--host", "127.0.0.1"});
  ASSERT_TRUE(ls.ready) << "llama-server did not start";
  std::string via_ls = "--api-base " + ls.base() + " --api-model flops-a";
  EvalRun bg = eval("famous_lines", via_ls + " --api-completions", "gen_llama");
  ASSERT_EQ(bg.cmd.code, 0) << bg.cmd.err;
  for (auto& [id, l] : lg.samples) EXPECT_EQ(bg.samples.at(id)["response"], l["response"]) << id;
  EXPECT_EQ(bg.results["results"], lg.results["results"]);
  // llama-server reports tokens, not FLOPs or joules: the cost is null with a note, not zero.
  const auto& cost = bg.results["cost"]["famous_lines"];
  EXPECT_TRUE(cost["flops"].is_null());
  EXPECT_TRUE(cost["joules"].is_null());
  EXPECT_NE(cost.value("note", "").find("reported no FLOPs or joules"), std::string::npos) << cost;
  EXPECT_GT(cost["generated_tokens"].get<int>(), 0);
  // It has no prompt log-probabilities (echo): a multiple-choice task stops with that one line
  // and writes no results.
  std::string out = test::temp_dir() + "/servers_never.json";
  std::filesystem::remove(out);
  auto mc = test::run_command(std::string(FLOPS_BINARY_DIR) + "/flops eval --tasks " + std::string(FLOPS_SOURCE_DIR) +
                              "/tasks/examples/chemistry_exam.yaml " + via_ls + " -o " + out);
  EXPECT_EQ(mc.code, 1);
  EXPECT_EQ(mc.err, "error: the endpoint " + ls.base() +
                        "/completions answered HTTP 500: Unsupported param: echo (it does not return prompt "
                        "log-probabilities, which multiple_choice and loglikelihood tasks need; generate_until tasks "
                        "work)\n");
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(HarnessServe, MultipleChoiceAgreesWithLocal) {
  // F32 caches on both sides: with F16 keys the two backends' different batch splits (float
  // rounding of the products, then rounded to a half) move these ~-100 sums by ~1e-3.
  Server srv({std::string(FLOPS_BINARY_DIR) + "/flops", "serve", "-m", model_a(), "--quiet", "-t", "1", "-ctk", "f32",
              "-ctv", "f32"});
  ASSERT_TRUE(srv.ready) << "flops serve did not start";
  auto m = load_model(model_a());
  auto local = make_local_backend(*m, model_a(), {});
  ApiOptions ao;
  ao.base = srv.base();
  ao.model = "flops-a";
  auto api = make_api_backend(ao);
  Instance in;
  int n = 0;
  for (const auto& [ctx, choices] : questions()) {
    std::vector<LLRequest> reqs;
    for (size_t k = 0; k < choices.size(); k++) reqs.push_back({&in, (int)k, ctx, " " + choices[k]});
    auto l = local->loglikelihood(reqs);
    auto a = api->loglikelihood(reqs);
    std::vector<double> ll, la;
    for (size_t k = 0; k < reqs.size(); k++) {
      EXPECT_NEAR(a[k].logprob, l[k].logprob, 1e-3) << ctx << " / " << choices[k];
      EXPECT_EQ(a[k].is_greedy, l[k].is_greedy) << choices[k];
      EXPECT_GT(a[k].flops, 0);  // flops serve reports what each answer cost
      ll.push_back(l[k].logprob);
      la.push_back(a[k].logprob);
      n++;
    }
    EXPECT_EQ(argmax(la), argmax(ll)) << ctx;
  }
  EXPECT_EQ(n, 12);
}

TEST(HarnessServe, GreedyAnswersAgreeAcrossBackends) {
  std::vector<std::string> prompts = {"It is a truth universally acknowledged", "ROMEO:\n", "Question: what is the sun?\nAnswer:"};
  auto m = load_model(model_a());
  m->kv_types = {DType::F16, DType::F16};  // flops serve's default KV cache (-ctk/-ctv f16)
  auto local = make_local_backend(*m, model_a(), {});
  Instance in;
  std::vector<GenRequest> reqs;
  for (auto& p : prompts) reqs.push_back({&in, p, {"\n\n"}, 24});
  auto l = local->generate(reqs);
  Server serve({std::string(FLOPS_BINARY_DIR) + "/flops", "serve", "-m", model_a(), "--quiet", "-t", "1"});
  ASSERT_TRUE(serve.ready) << "flops serve did not start";
  ApiOptions ao;
  ao.base = serve.base();
  ao.model = "flops-a";
  ao.chat = false;  // the raw prompt, as -m reads it
  auto a = make_api_backend(ao)->generate(reqs);
  for (size_t i = 0; i < reqs.size(); i++) EXPECT_EQ(a[i].text, l[i].text) << prompts[i];
  if (!std::filesystem::exists(llama_server())) GTEST_SKIP() << "no llama-server in ../shared/reference/llama.cpp/bin";
  Server ls({llama_server(), "-m", model_a(), "-c", "256", "-t", "1", "--host", "127.0.0.1"});
  ASSERT_TRUE(ls.ready) << "llama-server did not start";
  ApiOptions lo = ao;
  lo.base = ls.base();
  auto b = make_api_backend(lo)->generate(reqs);
  for (size_t i = 0; i < reqs.size(); i++) EXPECT_EQ(b[i].text, l[i].text) << prompts[i];
  // Through /v1/chat/completions both servers wrap the question in ChatML (the model has no
  // template of its own) and answer the same.
  ao.chat = lo.chat = true;
  auto ac = make_api_backend(ao)->generate(reqs);
  auto bc = make_api_backend(lo)->generate(reqs);
  for (size_t i = 0; i < reqs.size(); i++) EXPECT_EQ(ac[i].text, bc[i].text) << prompts[i];
  // llama-server of this version rejects echo: flops eval names what that endpoint cannot run.
  std::string e = error_of([&] { make_api_backend(lo)->loglikelihood({{&in, 0, "The sky is", " blue"}}); });
  EXPECT_NE(e.find("answered HTTP 500: Unsupported param: echo (it does not return prompt log-probabilities, which "
                   "multiple_choice and loglikelihood tasks need; generate_until tasks work)"),
            std::string::npos)
      << e;
}

TEST(HarnessLlamaServer, StoriesGreedyAnswersEqualLocal) {
  std::string data = test::shared_data_dir();
  if (!std::filesystem::exists(llama_server())) GTEST_SKIP() << "no llama-server in ../shared/reference/llama.cpp/bin";
  if (data.empty()) GTEST_SKIP() << "no ../shared/data (stories260K.gguf)";
  std::string model = data + "/models/stories260K.gguf";
  Server srv({llama_server(), "-m", model, "-c", "512", "-t", "1", "--host", "127.0.0.1"});
  ASSERT_TRUE(srv.ready) << "llama-server did not start";
  auto m = load_model(model);
  auto local = make_local_backend(*m, model, {});
  ApiOptions ao;
  ao.base = srv.base();
  ao.model = "stories260K";
  ao.chat = false;
  Instance in;
  std::vector<GenRequest> reqs = {{&in, "Once upon a time", {"."}, 32}, {&in, "The little dog", {"\n"}, 24}};
  auto a = make_api_backend(ao)->generate(reqs);
  auto l = local->generate(reqs);
  for (size_t i = 0; i < reqs.size(); i++) {
    EXPECT_FALSE(l[i].text.empty());
    EXPECT_EQ(a[i].text, l[i].text) << reqs[i].context;
  }
}
