// Local and endpoint backends agree: the same multiple-choice questions on the same GGUF through
// -m and through `flops serve` (choices and log-likelihoods to 1e-3), and greedy generate_until
// answers through -m, flops serve and llama.cpp's llama-server (the reference binaries; skipped
// when absent). Each server runs as its own process on a free loopback port.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

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

}  // namespace

TEST(HarnessServe, MultipleChoiceAgreesWithLocal) {
  Server srv({std::string(FLOPS_BINARY_DIR) + "/flops", "serve", "-m", model_a(), "--quiet", "-t", "1"});
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
