// Indexes built and searched through the library: retrieval, incremental updates, segment
// merges, dense search (exact against a naive dot product, HNSW against exact) and refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "model/synthetic.h"
#include "search/db.h"
#include "search/embedder.h"
#include "search/indexer.h"
#include "search/searcher.h"
#include "test_util.h"

using namespace flops;
using namespace flops::search;
namespace fs = std::filesystem;

namespace {

std::string dir_of(const std::string& name) {
  std::string d = test::temp_dir() + "/" + name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string tiny_model(const std::string& name, uint64_t seed) {
  std::string path = test::temp_dir() + "/" + name;
  ModelConfig c;
  c.n_vocab = 300;
  c.n_embd = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 64;
  c.n_ctx_train = 64;
  c.n_rot = 8;
  SyntheticOptions o;
  o.seed = seed;
  o.init_std = 0.2f;
  synthetic_model(c, o).write(path);
  return path;
}

// A folder of small documents in every format.
std::string corpus(const std::string& name) {
  std::string d = dir_of(name);
  write(d + "/wings.md", "# Wings\n\nLift grows with the angle of attack until the wing stalls.\n\nFlaps raise lift at low speed.\n");
  write(d + "/engines.txt", "Jet engines compress air, burn fuel and expand the gas through a turbine.\n");
  write(d + "/page.html", "<html><head><title>Boundary layers</title></head><body><p>Viscous flow near a wall forms a "
                          "boundary layer; turbulence thickens it.</p></body></html>");
  write(d + "/more/notes.jsonl",
        "{\"_id\": \"n1\", \"title\": \"Shock waves\", \"text\": \"Supersonic flow makes shock waves ahead of a blunt body.\"}\n"
        "{\"_id\": \"n2\", \"title\": \"Heat\", \"text\": \"Aerodynamic heating of a nose cone at high Mach number.\"}\n");
  write(d + "/ignored.bin", std::string("\0\1\2", 3));  // unknown extension: not looked at
  return d;
}

IndexOptions opts(const std::vector<std::string>& in, const std::string& out) {
  IndexOptions o;
  o.inputs = in;
  o.output = out;
  o.progress = false;
  return o;
}

std::vector<std::pair<std::string, float>> ranking(Searcher& s, const std::string& q, const SearchOptions& o) {
  std::vector<std::pair<std::string, float>> out;
  for (auto& h : s.search(q, o).hits) {
    ChunkView v = s.chunk(h.chunk);
    out.push_back({v.source() + "/" + std::to_string(v.ord), h.score});
  }
  return out;
}

template <typename F>
void expect_error(F f, const std::string& phrase) {
  try {
    f();
    ADD_FAILURE() << "no error; expected: " << phrase;
  } catch (const Error& e) {
    std::string w = e.what();
    EXPECT_NE(w.find(phrase), std::string::npos) << w;
    EXPECT_EQ(w.find('\n'), std::string::npos) << "not one line: " << w;
  }
}

}  // namespace

TEST(SearchIndex, FindsPassagesInEveryFormat) {
  std::string d = corpus("c");
  std::string idx = test::temp_dir() + "/c.idx";
  IndexReport r = build_index(opts({d}, idx));
  EXPECT_EQ(r.files_indexed, 4);
  EXPECT_EQ(r.n_docs, 5);
  Searcher s(idx);
  SearchOptions o;
  auto top = [&](const std::string& q) { return s.chunk(s.search(q, o).hits.at(0).chunk); };
  EXPECT_EQ(top("stalling wings").title, "Wings");
  EXPECT_EQ(top("turbine fuel").title, "engines");
  EXPECT_EQ(top("turbulent boundary layer").title, "Boundary layers");
  ChunkView v = top("shock supersonic");
  EXPECT_EQ(v.key, "n1");
  EXPECT_EQ(v.source(), fs::weakly_canonical(d + "/more/notes.jsonl").string() + "#n1");
  EXPECT_TRUE(s.search("zeppelin", o).hits.empty());
  EXPECT_EQ(s.search("zeppelin", o).note, "no chunk contains any of the query's terms");
  // A title term counts through the title field: "heat" is in n2's title and body.
  o.bm25.title_weight = 0;
  double without = s.search("heat", o).hits.at(0).score;
  o.bm25.title_weight = 2;
  EXPECT_GT(s.search("heat", o).hits.at(0).score, without);
}

TEST(SearchIndex, Bm25MatchesTheFormulaByHand) {
  std::string d = dir_of("bm");
  write(d + "/a.txt", "lift lift drag");
  write(d + "/b.txt", "drag drag drag drag thrust");
  write(d + "/c.txt", "weight");
  std::string idx = test::temp_dir() + "/bm.idx";
  build_index(opts({d}, idx));
  Searcher s(idx);
  SearchOptions o;
  o.bm25 = {1.2, 0.75, 0.0};
  auto hits = s.search("drag", o).hits;
  ASSERT_EQ(hits.size(), 2u);
  // N = 3, df = 2; |a| = 3, |b| = 5, avgdl = 3.
  double idf = std::log(1 + (3 - 2 + 0.5) / (2 + 0.5));
  auto bm = [&](double tf, double dl) { return idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / 3.0)); };
  EXPECT_EQ(s.chunk(hits[0].chunk).title, "b");
  EXPECT_NEAR(hits[0].score, bm(4, 5), 1e-5);
  EXPECT_NEAR(hits[1].score, bm(1, 3), 1e-5);
  // RM3 adds "lift" and "thrust" from the feedback chunks.
  o.prf = true;
  o.prf_params = {2, 5, 0.5};
  auto r = s.search("drag", o);
  std::set<std::string> terms;
  for (auto& t : r.terms) terms.insert(t.term);
  EXPECT_TRUE(terms.count("lift") && terms.count("thrust"));
  EXPECT_EQ(r.hits.size(), 2u);
}

TEST(SearchIndex, IncrementalUpdateEqualsFreshBuild) {
  std::string d = corpus("inc");
  std::string idx = test::temp_dir() + "/inc.idx";
  build_index(opts({d}, idx));
  IndexReport again = build_index(opts({d}, idx));
  EXPECT_EQ(again.files_unchanged, 4);
  EXPECT_EQ(again.files_indexed, 0);
  EXPECT_EQ(again.chunks_added, 0);

  write(d + "/engines.txt", "Propellers turn slowly and push a lot of air.\n");  // changed
  fs::remove(d + "/page.html");                                                 // deleted
  write(d + "/new.txt", "Rotor blades of a helicopter.\n");                      // added
  IndexReport up = build_index(opts({d}, idx));
  EXPECT_EQ(up.files_indexed, 2);
  EXPECT_EQ(up.files_removed, 1);
  EXPECT_EQ(up.files_unchanged, 2);
  Searcher s(idx);
  SearchOptions o;
  EXPECT_TRUE(s.search("turbine", o).hits.empty());
  EXPECT_TRUE(s.search("boundary", o).hits.empty());
  EXPECT_EQ(s.search("propellers", o).hits.size(), 1u);

  std::string fresh = test::temp_dir() + "/fresh.idx";
  build_index(opts({d}, fresh));
  Searcher f(fresh);
  for (std::string q : {"lift wing", "air", "flow shock", "helicopter rotor", "heat nose"}) EXPECT_EQ(ranking(s, q, o), ranking(f, q, o)) << q;
}

TEST(SearchIndex, SegmentsAndMergesDoNotChangeScores) {
  std::string d = dir_of("seg");
  std::mt19937 rng(3);
  const char* words[] = {"wing", "lift", "drag", "flow", "shock", "heat", "engine", "rotor", "blade", "flap", "stall", "mach"};
  std::string lines;
  for (int i = 0; i < 300; i++) {
    std::string t;
    for (int k = 0; k < 12; k++) t += std::string(words[rng() % 12]) + " ";
    lines += "{\"_id\": \"d" + std::to_string(i) + "\", \"text\": \"" + t + "\"}\n";
  }
  write(d + "/docs.jsonl", lines);
  std::string one = test::temp_dir() + "/one.idx", many = test::temp_dir() + "/many.idx", few = test::temp_dir() + "/few.idx";
  build_index(opts({d}, one));
  IndexOptions m = opts({d}, many);
  m.batch_chunks = 7;  // 43 segments: merged at the end
  IndexReport rm = build_index(m);
  EXPECT_TRUE(rm.merged);
  EXPECT_EQ(rm.segments, 1);
  IndexOptions f = opts({d}, few);
  f.batch_chunks = 50;  // 6 segments: left as they are
  IndexReport rf = build_index(f);
  EXPECT_FALSE(rf.merged);
  EXPECT_EQ(rf.segments, 6);
  Searcher a(one), b(many), c(few);
  SearchOptions o;
  o.k = 50;
  for (std::string q : {"wing lift", "shock mach heat", "rotor", "stall flap drag"}) {
    EXPECT_EQ(ranking(a, q, o), ranking(b, q, o)) << q;
    EXPECT_EQ(ranking(a, q, o), ranking(c, q, o)) << q;
  }
}

TEST(SearchIndex, DenseExactAndHnsw) {
  std::string d = dir_of("dense");
  std::mt19937 rng(5);
  std::string lines;
  for (int i = 0; i < 400; i++) {
    std::string t;
    for (int k = 0; k < 6; k++) t += (char)('a' + rng() % 26), t += (char)('a' + rng() % 26), t += ' ';
    lines += "{\"_id\": \"d" + std::to_string(i) + "\", \"text\": \"" + t + "\"}\n";
  }
  write(d + "/docs.jsonl", lines);
  std::string model = tiny_model("emb.gguf", 11);
  std::string idx = test::temp_dir() + "/dense.idx";
  IndexOptions io = opts({d}, idx);
  io.model_path = model;
  io.hnsw_min = 100;
  IndexReport r = build_index(io);
  EXPECT_TRUE(r.hnsw_built);
  Searcher s(idx);
  auto emb = Embedder::load(model);
  // Exact: the scores are the dot products of the query's and the chunks' embeddings.
  SearchOptions o;
  o.mode = Mode::Dense;
  o.exact = true;
  o.k = 5;
  std::string q = "ab cd ef gh";
  auto hits = s.search(q, o).hits;
  ASSERT_EQ(hits.size(), 5u);
  std::vector<float> qv = emb->embed({q});
  for (auto& h : hits) {
    ChunkView v = s.chunk(h.chunk);
    std::vector<float> cv = emb->embed({v.text});
    double dot = 0;
    for (int j = 0; j < emb->dim; j++) dot += (double)qv[j] * cv[j];
    EXPECT_NEAR(h.score, dot, 1e-4);
  }
  for (size_t i = 1; i < hits.size(); i++) EXPECT_GE(hits[i - 1].score, hits[i].score);
  // HNSW against exact: recall@10 over 20 queries.
  int found = 0, total = 0;
  for (int i = 0; i < 20; i++) {
    std::string qq = s.chunk(hits[0].chunk).text.substr(0, 6) + std::to_string(i);
    SearchOptions e = o, h = o;
    e.k = h.k = 10;
    h.exact = false;
    auto ex = s.search(qq, e);
    auto ap = s.search(qq, h);
    EXPECT_TRUE(ap.hnsw);
    EXPECT_FALSE(ex.hnsw);
    std::set<uint32_t> truth;
    for (auto& x : ex.hits) truth.insert(x.chunk);
    for (auto& x : ap.hits) found += truth.count(x.chunk);
    total += (int)ex.hits.size();
  }
  EXPECT_GE((double)found / total, 0.9);
  // Hybrid: both lists fused, documents ranked by their best chunk.
  SearchOptions hy;
  hy.mode = Mode::Hybrid;
  hy.docs = true;
  EXPECT_EQ(s.search("ab", hy).hits.size(), 10u);
}

TEST(SearchIndex, RefusesBadInputWithOneLine) {
  std::string d = corpus("bad");
  write(d + "/blob.txt", std::string("GIF89a\0\0\1", 9));
  write(d + "/latin1.md", "caf\xE9\n");
  std::string idx = test::temp_dir() + "/bad.idx";
  // Inside a folder: skipped, with the reason.
  IndexReport r = build_index(opts({d}, idx));
  ASSERT_EQ(r.skipped.size(), 2u);
  EXPECT_NE(r.skipped[0].second.find("blob.txt: binary file (NUL byte at offset 6)"), std::string::npos);
  EXPECT_NE(r.skipped[1].second.find("latin1.md: not valid UTF-8 (byte offset 3)"), std::string::npos);
  EXPECT_EQ(r.files_indexed, 4);
  // Named on the command line: an error.
  expect_error([&] { build_index(opts({d + "/blob.txt"}, test::temp_dir() + "/b2.idx")); }, "blob.txt: binary file");
  expect_error([&] { build_index(opts({d + "/latin1.md"}, test::temp_dir() + "/b3.idx")); }, "not valid UTF-8 (byte offset 3)");
  expect_error([&] { build_index(opts({d + "/ignored.bin"}, test::temp_dir() + "/b4.idx")); }, "unsupported file type '.bin'");
  std::string empty = dir_of("empty");
  expect_error([&] { build_index(opts({empty}, test::temp_dir() + "/b5.idx")); }, "no documents found in");
  expect_error([&] { build_index(opts({d + "/nope"}, test::temp_dir() + "/b6.idx")); }, "not found:");

  Searcher s(idx);
  SearchOptions o;
  auto sw = s.search("What is the of it", o);
  EXPECT_TRUE(sw.hits.empty());
  EXPECT_EQ(sw.note, "every word of the query is a stop word (what, is, the, of, it)");
  o.mode = Mode::Dense;
  expect_error([&] { s.search("wing", o); }, "has no embeddings (it was built without -m MODEL)");

  // An index of an older format, and a file that is not an index.
  std::string old = test::temp_dir() + "/old.idx";
  fs::copy_file(idx, old);
  {
    Db db(old, false);
    db.exec("UPDATE meta SET value = '0' WHERE key = 'format_version'");
  }
  expect_error([&] { Searcher x(old); }, "has format version 0; this flops reads version 1: rebuild it");
  expect_error([&] { build_index(opts({d}, old)); }, "has format version 0");
  std::string junk = test::temp_dir() + "/junk.idx";
  write(junk, "this is not a database, just text that is long enough to be read as a header ..........\n");
  expect_error([&] { Searcher x(junk); }, "is not a flops index");
  expect_error([&] { Searcher x(test::temp_dir() + "/missing.idx"); }, "index not found");
}

TEST(SearchIndex, RefusesAnotherEmbeddingModel) {
  std::string d = corpus("models");
  std::string a = tiny_model("a.gguf", 1), b = tiny_model("b.gguf", 2);
  std::string idx = test::temp_dir() + "/m.idx";
  IndexOptions io = opts({d}, idx);
  io.model_path = a;
  build_index(io);
  expect_error([&] { Searcher x(idx, b); }, "was embedded with a.gguf (sha256 ");
  io.model_path = b;
  expect_error([&] { build_index(io); }, "was embedded with a.gguf (sha256");
  io.model_path.reset();
  io.chunk_tokens = 100;
  expect_error([&] { build_index(io); }, "was built with --chunk-tokens 200, not 100");
  // Unset options take the index's own: the update works and keeps model a.
  io.chunk_tokens.reset();
  EXPECT_EQ(build_index(io).files_unchanged, 4);
  // The model file replaced by another one under the same name.
  fs::copy_file(b, a, fs::copy_options::overwrite_existing);
  Searcher s(idx);
  SearchOptions o;
  o.mode = Mode::Dense;
  expect_error([&] { s.search("wing", o); }, "now holds another model");
}

TEST(SearchIndex, InterruptedBuildNeedsResume) {
  std::string d = corpus("int");
  std::string idx = test::temp_dir() + "/int.idx";
  build_index(opts({d}, idx));
  {
    Db db(idx, false);
    db.exec("UPDATE meta SET value = 'building' WHERE key = 'state'");
  }
  expect_error([&] { Searcher x(idx); }, "is unfinished (an interrupted flops index)");
  expect_error([&] { build_index(opts({d}, idx)); }, "run it again with --resume");
  IndexOptions r = opts({}, idx);  // the recorded inputs
  r.resume = true;
  EXPECT_EQ(build_index(r).files_unchanged, 4);
  Searcher s(idx);
  EXPECT_FALSE(s.search("wing", SearchOptions{}).hits.empty());
}
