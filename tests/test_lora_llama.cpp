// llama.cpp loads flops's LoRA adapters and agrees on what they do: llama-perplexity --lora and
// `flops perplexity --lora` give the same perplexity (0.1%) on the shipped model A with an
// adapter of it, and both differ from the base's perplexity (the adapter was applied). Both are
// run as the commands a user types. Skipped without the reference binaries, the shipped model
// or ../shared/data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "model/lora_adapter.h"
#include "model/model.h"
#include "test_util.h"
#include "train/lora.h"
#include "train/rng.h"

using namespace flops;
namespace fs = std::filesystem;

namespace {

std::string shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::string src(const std::string& rel) { return std::string(FLOPS_SOURCE_DIR) + "/" + rel; }

// "Final estimate: PPL = 123.4567 +/- ..." from llama-perplexity's log; -1 when absent.
double llama_ppl(const std::string& args) {
  const std::string out = shell(src("../shared/reference/llama.cpp/bin/llama-perplexity") + " " + args + " 2>&1");
  std::smatch m;
  if (!std::regex_search(out, m, std::regex("Final estimate: PPL = ([0-9.]+)"))) {
    ADD_FAILURE() << "no perplexity in llama-perplexity's output:\n" << out.substr(out.size() > 2000 ? out.size() - 2000 : 0);
    return -1;
  }
  return std::stod(m[1]);
}

double flops_ppl(const std::string& args) {
  const std::string out = shell(std::string(FLOPS_BINARY_DIR) + "/flops perplexity --json -t 1 " + args + " 2>&1");
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.contains("ppl")) {
    ADD_FAILURE() << "flops perplexity said: " << out;
    return -1;
  }
  return j["ppl"];
}

}  // namespace

TEST(LoraLlamaCpp, LlamaPerplexityWithTheAdapterAgrees) {
  const std::string bin = src("../shared/reference/llama.cpp/bin/llama-perplexity");
  const std::string model = src("models/flops-a.gguf");
  const std::string data = src("../shared/data/jane-austen/persuasion.txt");
  if (!fs::exists(bin)) GTEST_SKIP() << "no llama-perplexity in ../shared/reference/llama.cpp/bin";
  if (!fs::exists(model)) GTEST_SKIP() << "no models/flops-a.gguf";
  if (!fs::exists(data)) GTEST_SKIP() << "no ../shared/data/jane-austen";

  const std::string dir = test::temp_dir() + "/lora_llama";
  fs::create_directories(dir);
  // About 3,000 tokens of the novel's end (the part model A did not train on).
  std::ifstream in(data);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text = text.substr(text.size() - 10000);
  text = text.substr(text.find('\n') + 1);
  const std::string txt = dir + "/text.txt";
  std::ofstream(txt) << text;

  // A rank-8 adapter of model A on every matrix, with alpha 16 (llama.cpp scales by alpha/rank).
  auto base = load_model(model);
  train::LoraSpec s;
  s.rank = 8;
  s.targets = {"q", "k", "v", "o", "gate", "up", "down"};
  train::Model p = train::make_lora_params(*base, s, 11);
  train::Rng r(11);
  for (float& v : p.w) v = (float)(0.06 * r.normal());
  const std::string adapter = dir + "/adapter.gguf";
  save_lora_adapter(train::lora_adapter_of(p, "llama", 16.0f), adapter, "test");

  const std::string common = " -c 128 -f " + txt;
  const double base_llama = llama_ppl("-m " + model + common + " -t 1");
  const double lora_llama = llama_ppl("-m " + model + " --lora " + adapter + common + " -t 1");
  const double base_flops = flops_ppl("-m " + model + common);
  const double lora_flops = flops_ppl("-m " + model + " --lora " + adapter + common);
  // Half the adapter's effect: the scale reaches both the same way.
  const double half_llama = llama_ppl("-m " + model + " --lora-scaled " + adapter + " 0.5" + common + " -t 1");
  const double half_flops = flops_ppl("-m " + model + " --lora " + adapter + ":0.5" + common);
  std::printf("perplexity, base: flops %.4f llama.cpp %.4f; with the adapter: flops %.4f llama.cpp %.4f; "
              "scale 0.5: flops %.4f llama.cpp %.4f\n",
              base_flops, base_llama, lora_flops, lora_llama, half_flops, half_llama);
  EXPECT_LT(std::fabs(base_flops / base_llama - 1), 1e-3);
  EXPECT_LT(std::fabs(lora_flops / lora_llama - 1), 1e-3);
  EXPECT_LT(std::fabs(half_flops / half_llama - 1), 1e-3);
  EXPECT_GT(std::fabs(lora_flops / base_flops - 1), 0.01) << "the adapter changed nothing: the test would not see it ignored";
}
