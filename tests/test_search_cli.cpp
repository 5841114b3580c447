// flops index / search / search-eval / ask run as a user runs them: JSON out, one-line errors,
// a SIGKILLed build resumed to the same index, and ask's citations checked against its prompt.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "search/ask.h"
#include "search/db.h"
#include "test_util.h"

using namespace flops;
namespace fs = std::filesystem;

namespace {

struct CliRun {
  int code = 0;
  std::string out, err;
};

std::string flops_bin() { return std::string(FLOPS_BINARY_DIR) + "/flops"; }

CliRun run(const std::string& args) {
  std::string err_path = test::temp_dir() + "/stderr.txt";
  std::string cmd = flops_bin() + " " + args + " 2>" + err_path;
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

void write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

void expect_error(const CliRun& r, const std::string& phrase) {
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(phrase), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

std::string q(const std::string& s) { return "'" + s + "'"; }

// A large-enough corpus: one JSONL file (so a kill lands inside a file) of random "words".
std::string big_corpus(int n_docs) {
  std::string path = test::temp_dir() + "/big/corpus.jsonl";
  std::mt19937 rng(7);
  std::string s;
  for (int i = 0; i < n_docs; i++) {
    std::string t;
    for (int k = 0; k < 24; k++) t += "w" + std::to_string(rng() % 3000) + " ";
    s += "{\"_id\": \"d" + std::to_string(i) + "\", \"title\": \"t" + std::to_string(rng() % 500) + "\", \"text\": \"" + t + "\"}\n";
  }
  write(path, s);
  return path;
}

int64_t committed_chunks(const std::string& idx) {
  try {
    search::Db db(idx, false);
    search::Stmt st(db, "SELECT value FROM meta WHERE key = 'stats.next_chunk_id'");
    if (st.step()) return std::stoll(st.text(0)) - 1;
  } catch (...) {
  }
  return 0;
}

std::vector<std::string> dump(const std::string& idx, const char* sql) {
  search::Db db(idx, false);
  search::Stmt st(db, sql);
  std::vector<std::string> rows;
  while (st.step()) {
    std::string r;
    for (int c = 0; c < 3; c++) r += std::string(st.blob(c)) + "|";
    rows.push_back(r);
  }
  return rows;
}

}  // namespace

TEST(SearchCli, IndexSearchJsonAndStopWords) {
  std::string d = test::temp_dir() + "/docs";
  write(d + "/a.md", "# Wings\n\nLift grows with the angle of attack until the wing stalls.\n");
  write(d + "/b.txt", "Jet engines compress air and burn fuel.\n");
  std::string idx = test::temp_dir() + "/a.idx";
  CliRun r = run("index " + d + " -o " + idx + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["docs"], 2);
  EXPECT_TRUE(j["receipt"].contains("energy_j"));
  r = run("search " + idx + " " + q("wings stall") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["results"].size(), 1u);
  EXPECT_EQ(j["results"][0]["title"], "Wings");
  std::string snip = j["results"][0]["snippet"];
  auto hl = j["results"][0]["highlights"];
  ASSERT_EQ(hl.size(), 2u);  // "wing" and "stalls" (stemmed matches)
  EXPECT_EQ(snip.substr(hl[0][0], (size_t)hl[0][1] - (size_t)hl[0][0]), "wing");
  EXPECT_EQ(snip.substr(hl[1][0], (size_t)hl[1][1] - (size_t)hl[1][0]), "stalls");
  EXPECT_TRUE(j["receipt"].contains("flops"));
  EXPECT_TRUE(j["index_cost"].contains("energy_j"));
  // Text output marks the words when not on a terminal.
  r = run("search " + idx + " " + q("wings stall") + " --quiet");
  EXPECT_NE(r.out.find("**wing** **stalls**"), std::string::npos) << r.out;
  // Stop words only: an empty result that says why.
  r = run("search " + idx + " " + q("what is the") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["results"].empty());
  EXPECT_EQ(j["note"], "every word of the query is a stop word (what, is, the)");
}

TEST(SearchCli, BadInputIsOneLine) {
  std::string d = test::temp_dir() + "/bad";
  write(d + "/x.txt", std::string("\x7f" "ELF\0\0\0", 7));
  write(d + "/y.txt", "ok text\n");
  fs::create_directories(test::temp_dir() + "/empty");
  expect_error(run("index " + d + "/x.txt -o " + test::temp_dir() + "/x.idx"), "x.txt: binary file (NUL byte at offset 4), not text");
  expect_error(run("index " + test::temp_dir() + "/empty -o " + test::temp_dir() + "/e.idx"), "no documents found in");
  expect_error(run("search " + test::temp_dir() + "/none.idx wing"), "index not found");
  std::string idx = test::temp_dir() + "/ok.idx";
  ASSERT_EQ(run("index " + d + " -o " + idx + " --quiet").code, 0);
  expect_error(run("search " + idx + " wing --mode dense"), "has no embeddings");
  expect_error(run("search " + idx + " wing --mode fuzzy"), "unknown --mode 'fuzzy'");
  expect_error(run("search " + idx + " \"$(printf 'caf\\351')\""), "the query is not valid UTF-8 (byte offset 3)");
  expect_error(run("index " + d + " -o " + idx + " --chunk-tokens 120"), "was built with --chunk-tokens 200, not 120");
}

TEST(SearchCli, KilledBuildResumesToTheSameIndex) {
  std::string corpus = big_corpus(20000);
  std::string once = test::temp_dir() + "/once.idx", killed = test::temp_dir() + "/killed.idx";
  ASSERT_EQ(run("index " + corpus + " -o " + once + " --batch-chunks 400 --quiet").code, 0);

  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1), dup2(devnull, 2);
    execl(flops_bin().c_str(), "flops", "index", corpus.c_str(), "-o", killed.c_str(), "--batch-chunks", "400", "--quiet",
          (char*)nullptr);
    _exit(127);
  }
  // Kill it once a few batches are committed, well before the end.
  int64_t at = 0;
  auto t0 = std::chrono::steady_clock::now();
  while ((at = committed_chunks(killed)) < 1200 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120))
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFSIGNALED(st)) << "the indexer finished before it could be killed";
  int64_t left = committed_chunks(killed);
  ASSERT_GE(left, 1200);
  ASSERT_LT(left, 20000) << "killed too late to test anything";

  // Without --resume it refuses; searching refuses; --resume (no DOCS: the recorded ones) completes it.
  expect_error(run("index " + corpus + " -o " + killed + " --quiet"), "run it again with --resume");
  expect_error(run("search " + killed + " w1"), "is unfinished");
  CliRun r = run("index --resume -o " + killed + " --batch-chunks 400 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["files_resumed"], 1);
  EXPECT_EQ(j["docs"], 20000);
  EXPECT_EQ((int64_t)j["docs_added"], 20000 - left);  // one chunk per document here

  // The same index: documents, chunks, postings byte for byte, and the same answers.
  EXPECT_EQ(dump(once, "SELECT key, title, text FROM docs ORDER BY id"), dump(killed, "SELECT key, title, text FROM docs ORDER BY id"));
  EXPECT_EQ(dump(once, "SELECT id, start, end FROM chunks ORDER BY id"), dump(killed, "SELECT id, start, end FROM chunks ORDER BY id"));
  EXPECT_EQ(dump(once, "SELECT term, df, data FROM postings ORDER BY term"),
            dump(killed, "SELECT term, df, data FROM postings ORDER BY term"));
  for (std::string query : {"w1 w2 w3", "w2999 t12", "w100 w200 w300 w400", "t7"}) {
    auto a = nlohmann::json::parse(run("search " + once + " " + q(query) + " -k 20 --json").out);
    auto b = nlohmann::json::parse(run("search " + killed + " " + q(query) + " -k 20 --json").out);
    ASSERT_EQ(a["results"].size(), b["results"].size());
    for (size_t i = 0; i < a["results"].size(); i++) {
      EXPECT_EQ(a["results"][i]["key"], b["results"][i]["key"]);
      EXPECT_EQ(a["results"][i]["score"], b["results"][i]["score"]);
    }
  }
}

TEST(SearchCli, AskCitesPassagesOfItsPrompt) {
  std::string src = FLOPS_SOURCE_DIR;
  if (!fs::exists(src + "/models/flops-a.gguf")) GTEST_SKIP() << "models/flops-a.gguf is not in the checkout";
  // The repository's own documentation.
  std::string d = test::temp_dir() + "/repo-docs";
  for (std::string f : {"README.md", "models/README.md", "src/prompt/README.md", "src/search/README.md"})
    if (fs::exists(src + "/" + f)) {
      fs::create_directories(fs::path(d + "/" + f).parent_path());
      fs::copy_file(src + "/" + f, d + "/" + f);
    }
  std::string idx = test::temp_dir() + "/docs.idx";
  ASSERT_EQ(run("index " + d + " -o " + idx + " --chunk-tokens 60 --chunk-overlap 10 --quiet").code, 0);
  for (std::string question : {"How were the shipped models trained?", "What does the receipt report?",
                               "Which tokenizer does model A use?"}) {
    CliRun r = run("ask " + idx + " " + q(question) + " -m " + src + "/models/flops-a.gguf -n 48 --json");
    ASSERT_EQ(r.code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    int n_pass = (int)j["passages"].size();
    ASSERT_GE(n_pass, 1) << question;
    std::string prompt = j["prompt"];
    // Every passage is in the prompt under its number; the prompt fits with room for the answer.
    for (auto& p : j["passages"]) {
      std::string head = "[" + std::to_string((int)p["n"]) + "] ";
      size_t at = prompt.find(head);
      ASSERT_NE(at, std::string::npos);
      EXPECT_NE(prompt.find(std::string(p["text"]), at), std::string::npos);
    }
    EXPECT_LE((int)j["prompt_tokens"] + (int)j["n_predict"], (int)j["n_ctx"]);
    EXPECT_EQ(j["n_ctx"], 256);
    // Every citation number of the answer names a passage of the prompt; the others were dropped.
    std::vector<int> cited = search::find_citations(j["answer"]);
    for (int c : cited) {
      EXPECT_GE(c, 1);
      EXPECT_LE(c, n_pass);
    }
    std::set<int> all;
    for (int c : search::find_citations(j["raw_answer"])) all.insert(c);
    for (int c : j["citations"]) EXPECT_TRUE(all.count(c) && c >= 1 && c <= n_pass);
    for (int c : j["dropped_citations"]) EXPECT_TRUE(all.count(c) && (c < 1 || c > n_pass));
    EXPECT_EQ(all.size(), j["citations"].size() + j["dropped_citations"].size());
    // The receipt covers retrieval and generation.
    EXPECT_GT((double)j["receipt"]["flops"]["total"], 0);
    EXPECT_GE((double)j["receipt_parts"]["retrieval_wall_s"], 0);
    EXPECT_GT((double)j["receipt_parts"]["generation_wall_s"], 0);
    EXPECT_GE((double)j["receipt"]["wall_s"], (double)j["receipt_parts"]["generation_wall_s"]);
    EXPECT_TRUE(j["index_cost"].contains("energy_j"));
  }
}
