// POST /v1/search and its page, through a real HTTP client: `flops serve --index` runs as its own
// process on a free loopback port over an index built by `flops index`.
#include <gtest/gtest.h>

#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "server_process.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string flops_bin() { return std::string(FLOPS_BINARY_DIR) + "/flops"; }

std::vector<std::string> serve_argv(std::vector<std::string> argv) {
  argv.insert(argv.begin(), flops_bin());
  argv.insert(argv.end(), {"--quiet", "-t", "1"});
  return argv;
}

// The server process, stopped by SIGTERM (and waited for) at the end of the test.
struct Serve : flops::test::ServerProcess {
  explicit Serve(std::vector<std::string> argv) : ServerProcess(serve_argv(std::move(argv))) {}
};

void write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

struct Reply {
  int status = 0;
  json body;
};

Reply post(int port, const std::string& body) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30);
  auto r = c.Post("/v1/search", body, "application/json");
  if (!r) return {};
  return {r->status, json::parse(r->body, nullptr, false)};
}

std::string message(const Reply& r) {
  return r.body.is_object() && r.body.contains("error") ? r.body["error"].value("message", "") : "";
}

std::string model_b() { return std::string(FLOPS_SOURCE_DIR) + "/models/flops-b.gguf"; }

}  // namespace

TEST(SearchServer, SearchRouteAnswersThroughHttp) {
  if (!fs::exists(model_b())) GTEST_SKIP() << "models/flops-b.gguf is not in the checkout";
  std::string dir = flops::test::temp_dir() + "/serve_docs";
  write(dir + "/wings.md", "# Wings\n\nThe boundary layer of a swept wing thickens near the tip.\n");
  write(dir + "/cats.txt", "Cats sleep most of the day and hunt small birds at dusk.\n");
  write(dir + "/rivers.txt", "Rivers carry sediment from the mountains down to the sea.\n");
  std::string idx = flops::test::temp_dir() + "/serve.idx";
  std::string cmd = flops_bin() + " index " + dir + " -o " + idx + " --quiet > /dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);

  Serve s({"serve", "-m", model_b(), "--index", idx});
  ASSERT_TRUE(s.ready) << "flops serve --index did not answer /health";

  Reply r = post(s.port, R"({"query": "wing boundary layers", "k": 5})");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["object"], "search.results");
  ASSERT_EQ(r.body["results"].size(), 1u) << r.body.dump();  // only one document has these words
  const json& h = r.body["results"][0];
  EXPECT_EQ(h["rank"], 1);
  EXPECT_NE(h["source"].get<std::string>().find("wings.md"), std::string::npos);
  EXPECT_GT(h["score"].get<double>(), 0);
  // The highlights mark the query's words in the snippet (stemmed: "layers" finds "layer").
  std::string snip = h["snippet"];
  std::vector<std::string> marked;
  for (auto& m : h["highlights"]) marked.push_back(snip.substr(m[0].get<size_t>(), m[1].get<size_t>() - m[0].get<size_t>()));
  EXPECT_EQ(marked, (std::vector<std::string>{"boundary", "layer", "wing"})) << snip;
  // What the page reads for its cost line.
  EXPECT_TRUE(r.body["receipt"]["flops"].contains("total"));
  EXPECT_TRUE(r.body["receipt"].contains("wall_s") && r.body["receipt"].contains("energy_j"));
  EXPECT_TRUE(r.body["index_cost"].contains("energy_j"));

  // Stop words only: an empty result that says why.
  r = post(s.port, R"({"query": "the of and"})");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.body["results"].empty());
  EXPECT_NE(r.body.value("note", "").find("stop word"), std::string::npos) << r.body.dump();

  // Bad requests: 400 with a message naming the problem.
  r = post(s.port, R"({"k": 3})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(message(r).find("'query'"), std::string::npos) << r.body.dump();
  r = post(s.port, R"({"query": "wing", "mode": "dense"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(message(r).find("no embeddings"), std::string::npos) << r.body.dump();
  r = post(s.port, R"({"query": "wing", "mode": "psychic"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(message(r).find("psychic"), std::string::npos) << r.body.dump();
  r = post(s.port, R"({"query": "wing", "k": 0})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(message(r).find("'k'"), std::string::npos) << r.body.dump();
  r = post(s.port, R"({"query": "wing", "colour": "red"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(message(r).find("colour"), std::string::npos) << r.body.dump();
  r = post(s.port, "{\"query\": \"w\xff\"}");
  EXPECT_EQ(r.status, 400);
  r = post(s.port, "{not json");
  EXPECT_EQ(r.status, 400);

  // The page is served.
  httplib::Client c("127.0.0.1", s.port);
  auto page = c.Get("/static/search.html");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("/v1/search"), std::string::npos);
}

TEST(SearchServer, WithoutAnIndexTheRouteSaysHowToGetOne) {
  if (!fs::exists(model_b())) GTEST_SKIP() << "models/flops-b.gguf is not in the checkout";
  Serve s({"serve", "-m", model_b()});
  ASSERT_TRUE(s.ready);
  Reply r = post(s.port, R"({"query": "wing"})");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(message(r).find("--index"), std::string::npos) << r.body.dump();
}
