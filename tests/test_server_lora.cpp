// Many adapters from one base through `flops serve --lora-dir`, driven by a real HTTP client
// against a server process: requests for different adapters decoded in the same batch give
// exactly the text each gives alone (same seed); the adapter can be named by "model":
// "BASE:NAME" or a "lora" field; unknown, malformed and unfitting adapters are refused with a
// 4xx and a message; a cache smaller than two adapters evicts and reloads without changing
// answers.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "model/lora_adapter.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "server_process.h"
#include "test_util.h"
#include "train/lora.h"
#include "train/rng.h"

using namespace flops;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// `flops serve` as its own process, with the requests these tests send.
struct Server : test::ServerProcess {
  explicit Server(std::vector<std::string> extra)
      : test::ServerProcess(with(std::vector<std::string>{std::string(FLOPS_BINARY_DIR) + "/flops", "serve", "--host", "127.0.0.1",
                                                          "-t", "1", "--quiet"},
                                 extra)) {}
  static std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
  // POST a JSON body; (status, parsed body).
  std::pair<int, json> post(const std::string& route, const json& body) const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(120);
    auto r = c.Post(route, body.dump(), "application/json");
    if (!r) return {0, json()};
    return {r->status, json::parse(r->body, nullptr, false)};
  }
  std::string get(const std::string& route) const {
    httplib::Client c("127.0.0.1", port);
    auto r = c.Get(route);
    return r ? r->body : "";
  }
  double metric(const std::string& name) const {
    std::smatch m;
    std::string text = get("/metrics");
    if (!std::regex_search(text, m, std::regex("\n" + name + " ([0-9.e+]+)"))) return -1;
    return std::stod(m[1]);
  }
};

std::string model_a() { return std::string(FLOPS_SOURCE_DIR) + "/models/flops-a.gguf"; }

// A random rank-R adapter of `base` on every matrix, as train's LoRA parameters would hold it
// after some training (B nonzero), written in llama.cpp's adapter format.
void write_adapter(const Model& base, int rank, uint64_t seed, const std::string& path) {
  train::LoraSpec s;
  s.rank = rank;
  s.targets = {"q", "k", "v", "o", "gate", "up", "down"};
  train::Model p = train::make_lora_params(base, s, seed);
  train::Rng r(seed);
  for (float& v : p.w) v = (float)(0.05 * r.normal());
  save_lora_adapter(train::lora_adapter_of(p, "llama", 2.0f * rank), path, "test");
}

struct Dir {
  std::string path;
  std::unique_ptr<Model> base;
};

// a1, a2, a3: adapters of flops-a; wrong: an adapter of another model.
Dir make_dir(const std::string& name, int rank) {
  Dir d;
  d.path = test::temp_dir() + "/" + name;
  fs::remove_all(d.path);
  fs::create_directories(d.path);
  auto base = load_model(model_a());
  for (int i = 1; i <= 3; i++) write_adapter(*base, rank, 100 + i, d.path + "/a" + std::to_string(i) + ".gguf");
  ModelConfig c;
  c.n_vocab = 300;
  c.n_embd = 64;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 128;
  c.n_ctx_train = 64;
  const std::string other = d.path + "/other-base.bin";
  synthetic_model(c, SyntheticOptions{}).write(other);
  write_adapter(*load_model(other), 2, 7, d.path + "/wrong.gguf");
  fs::remove(other);
  return d;
}

json completion(const std::string& model, int seed) {
  return {{"model", model}, {"prompt", "It is a truth universally acknowledged"}, {"max_tokens", 24},
          {"temperature", 0.9}, {"seed", seed}, {"ignore_eos", true}};
}

std::string text_of(const std::pair<int, json>& r) {
  EXPECT_EQ(r.first, 200) << r.second.dump();
  if (r.first != 200) return "";
  return r.second["choices"][0]["text"].get<std::string>();
}

}  // namespace

TEST(ServerLora, DifferentAdaptersInOneBatchEqualTheirSingleRuns) {
  if (!fs::exists(model_a())) GTEST_SKIP() << "no models/flops-a.gguf";
  Dir d = make_dir("server_lora_batch", 4);
  Server s({"-m", model_a(), "-np", "4", "--lora-dir", d.path});
  ASSERT_TRUE(s.ready);

  // Alone, one request at a time.
  const std::vector<std::string> models = {"flops-a", "flops-a:a1", "flops-a:a2", "flops-a:a3"};
  std::vector<std::string> alone;
  for (auto& m : models) alone.push_back(text_of(s.post("/v1/completions", completion(m, 5))));
  for (size_t i = 0; i < alone.size(); i++)
    for (size_t j = 0; j < i; j++) EXPECT_NE(alone[i], alone[j]) << models[i] << " and " << models[j] << " answer alike";
  EXPECT_EQ(s.metric("flops_lora_adapters_per_step_max"), 1);

  // Together: four clients at once, each on its own adapter (or the base), twice over.
  for (int round = 0; round < 2; round++) {
    std::vector<std::string> together(models.size());
    std::vector<std::thread> th;
    for (size_t i = 0; i < models.size(); i++)
      th.emplace_back([&, i] { together[i] = text_of(s.post("/v1/completions", completion(models[i], 5))); });
    for (auto& t : th) t.join();
    for (size_t i = 0; i < models.size(); i++) EXPECT_EQ(together[i], alone[i]) << models[i] << ", round " << round;
  }
  EXPECT_GE(s.metric("flops_lora_adapters_per_step_max"), 2) << "no step decoded two adapters side by side";
  EXPECT_EQ(s.metric("flops_lora_adapters_loaded"), 3);

  // The "lora" field names the same adapter; chat takes it too.
  json body = completion("flops-a", 5);
  body["lora"] = "a2";
  EXPECT_EQ(text_of(s.post("/v1/completions", body)), alone[2]);
  auto chat = s.post("/v1/chat/completions", {{"model", "flops-a:a1"}, {"messages", {{{"role", "user"}, {"content", "Hello"}}}},
                                              {"max_tokens", 4}, {"seed", 1}});
  EXPECT_EQ(chat.first, 200) << chat.second.dump();

  // /v1/models lists the adapters as BASE:NAME.
  json list = json::parse(s.get("/v1/models"));
  std::vector<std::string> ids;
  for (auto& m : list["data"]) ids.push_back(m["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"flops-a", "flops-a:a1", "flops-a:a2", "flops-a:a3", "flops-a:wrong"}));
}

TEST(ServerLora, BadAdaptersAreRefusedWithAMessage) {
  if (!fs::exists(model_a())) GTEST_SKIP() << "no models/flops-a.gguf";
  Dir d = make_dir("server_lora_errors", 2);
  Server s({"-m", model_a(), "-np", "2", "--lora-dir", d.path});
  ASSERT_TRUE(s.ready);
  auto message = [](const json& j) { return j.contains("error") ? j["error"]["message"].get<std::string>() : j.dump(); };

  auto r = s.post("/v1/completions", completion("flops-a:nobody", 1));
  EXPECT_EQ(r.first, 404);
  EXPECT_NE(message(r.second).find("The adapter 'nobody' does not exist"), std::string::npos) << message(r.second);

  json body = completion("flops-a", 1);
  body["lora"] = "nobody";
  r = s.post("/v1/completions", body);
  EXPECT_EQ(r.first, 404);

  r = s.post("/v1/completions", completion("flops-a:../a1", 1));
  EXPECT_EQ(r.first, 400);
  EXPECT_NE(message(r.second).find("Invalid adapter name '../a1'"), std::string::npos) << message(r.second);

  r = s.post("/v1/completions", completion("flops-a:wrong", 1));
  EXPECT_EQ(r.first, 400);
  EXPECT_NE(message(r.second).find("The adapter 'wrong' cannot be used"), std::string::npos) << message(r.second);

  body = completion("flops-a:a1", 1);
  body["lora"] = "a2";
  r = s.post("/v1/completions", body);
  EXPECT_EQ(r.first, 400);
  EXPECT_NE(message(r.second).find("'model' names the adapter 'a1' but 'lora' names 'a2'"), std::string::npos);

  r = s.post("/v1/completions", completion("other-model:a1", 1));
  EXPECT_EQ(r.first, 404);
  EXPECT_NE(message(r.second).find("The model 'other-model' does not exist"), std::string::npos) << message(r.second);

  // The server still answers.
  EXPECT_EQ(s.post("/v1/completions", completion("flops-a:a1", 1)).first, 200);
}

TEST(ServerLora, ASmallCacheEvictsAndReloadsWithTheSameAnswers) {
  if (!fs::exists(model_a())) GTEST_SKIP() << "no models/flops-a.gguf";
  // Rank 8 on every matrix of flops-a: about 0.6 MB per adapter, so 1 MiB holds one.
  Dir d = make_dir("server_lora_lru", 8);
  Server s({"-m", model_a(), "-np", "2", "--lora-dir", d.path, "--lora-cache-mib", "1"});
  ASSERT_TRUE(s.ready);
  std::string first = text_of(s.post("/v1/completions", completion("flops-a:a1", 3)));
  text_of(s.post("/v1/completions", completion("flops-a:a2", 3)));
  EXPECT_EQ(s.metric("flops_lora_adapters_loaded"), 1);
  EXPECT_EQ(text_of(s.post("/v1/completions", completion("flops-a:a1", 3))), first);
  EXPECT_EQ(s.metric("flops_lora_adapter_loads_total"), 3);
}
