// The search engine's parts on their own: hashing, analysis, parsing, chunking, postings,
// fusion and the ranking metrics, each against values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "search/analyze.h"
#include "search/ask.h"
#include "search/chunk.h"
#include "search/fusion.h"
#include "search/hash.h"
#include "search/metrics.h"
#include "search/parse.h"
#include "search/postings.h"
#include "search/qrels.h"
#include "search/snippet.h"

using namespace flops;
using namespace flops::search;

TEST(SearchHash, Sha256KnownVectors) {
  // FIPS 180-4 examples.
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // Streaming in odd pieces gives the same digest as one call.
  std::string a(1000, 'a');
  Sha256 h;
  for (size_t i = 0; i < a.size(); i += 7) h.update(a.data() + i, std::min<size_t>(7, a.size() - i));
  EXPECT_EQ(h.hex(), sha256_hex(a));
}

TEST(SearchAnalyze, WordsStopwordsStems) {
  Analyzer a;
  auto terms = a.analyze("The Flows of heated gases, don't they? 42 aircraft—wings");
  std::vector<std::string> t;
  for (auto& x : terms) t.push_back(x.text);
  // "the", "of", "they" are stop words; "flows" -> "flow", "heated" -> "heat", "gases" -> "gase"
  // (Snowball English), the em dash splits words, the apostrophe stays inside "don't".
  std::vector<std::string> want = {"flow", "heat", "gase", "don't", "42", "aircraft", "wing"};
  EXPECT_EQ(t, want);
  // Spans point at the original words.
  EXPECT_EQ(terms[0].start, 4u);
  EXPECT_EQ(terms[0].end, 9u);
  EXPECT_EQ(a.stopwords_in("what is the"), (std::vector<std::string>{"what", "is", "the"}));
  EXPECT_TRUE(a.analyze("what is the of").empty());
  Analyzer raw({"none", false});
  EXPECT_EQ(raw.analyze("The Flows").size(), 2u);
  EXPECT_EQ(raw.analyze("The Flows")[1].text, "flows");
  EXPECT_THROW(Analyzer({"klingon", true}), Error);
  EXPECT_TRUE(std::is_sorted(stopword_list().begin(), stopword_list().end()));
}

TEST(SearchParse, FormatsAndRefusals) {
  std::string title;
  std::string text = html_to_text(
      "<html><head><title>My &amp; Page</title><style>p{color:red}</style></head><body><h1>Head</h1>"
      "<p>One&nbsp;two &lt;3&gt;</p><script>var x = '<p>';</script><p>Three &#233;&#x41;</p></body></html>",
      &title);
  EXPECT_EQ(title, "My & Page");
  EXPECT_EQ(text, "Head\n\nOne two <3>\n\nThree \xC3\xA9" "A");

  auto md = parse_documents("notes.md", "# Notes on wings\n\nLift grows with angle.\n", InputFormat::Markdown);
  ASSERT_EQ(md.size(), 1u);
  EXPECT_EQ(md[0].title, "Notes on wings");
  EXPECT_EQ(normalize_space(md[0].text), "Lift grows with angle.");

  auto smart = parse_smart(".I 1\r\n.T\r\nwing flow .\r\n.A\r\nsmith\r\n.W\r\nwing flow .\r\n  the lift of a wing .\r\n.I 2\r\n.W\r\nsecond\r\n");
  ASSERT_EQ(smart.size(), 2u);
  EXPECT_EQ(smart[0].key, "1");
  EXPECT_EQ(smart[0].title, "wing flow .");
  EXPECT_EQ(normalize_space(smart[0].text), "the lift of a wing .");  // the title's copy taken out
  EXPECT_EQ(smart[0].meta["authors"], "smith");
  EXPECT_EQ(smart[1].text, "second");

  auto jl = parse_documents("c.jsonl", "{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"x y\"}\n\n{\"id\": 7, \"contents\": \"z\"}\n",
                            InputFormat::Jsonl);
  ASSERT_EQ(jl.size(), 2u);
  EXPECT_EQ(jl[0].key, "d1");
  EXPECT_EQ(jl[1].key, "7");
  EXPECT_EQ(jl[1].text, "z");
  EXPECT_THROW(parse_documents("c.jsonl", "{\"id\": 7, \"contents\": \"z\"}\n", InputFormat::Beir), Error);

  auto expect_error = [](const std::string& content, const std::string& phrase) {
    try {
      parse_documents("bad.txt", content, InputFormat::Text);
      ADD_FAILURE() << "no error for " << phrase;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(phrase), std::string::npos) << e.what();
    }
  };
  expect_error(std::string("PK\x03\x04\0\0binary", 12), "bad.txt: binary file (NUL byte at offset 4)");
  expect_error("caf\xE9 au lait", "bad.txt: not valid UTF-8 (byte offset 3)");
}

TEST(SearchChunk, SentencesParagraphsOverlap) {
  std::string t = "Dr. Smith measured lift. It grew! Then it fell?\n\nA new paragraph starts here. And ends.";
  auto ps = split_paragraphs(t);
  ASSERT_EQ(ps.size(), 2u);
  auto ss = split_sentences(t, ps[0]);
  ASSERT_EQ(ss.size(), 3u);  // "Dr." is not a sentence end
  EXPECT_EQ(t.substr(ss[0].start, ss[0].end - ss[0].start), "Dr. Smith measured lift.");

  // Chunks of 8 words, 3 of overlap: sentences stay whole, a chunk brings new text each time.
  ChunkConfig c{8, 3, Boundary::Sentence};
  auto chunks = chunk_text(t, c, count_words);
  std::vector<std::string> got;
  for (auto& s : chunks) got.push_back(t.substr(s.start, s.end - s.start));
  std::vector<std::string> want = {"Dr. Smith measured lift. It grew!", "It grew! Then it fell?",
                                   "A new paragraph starts here. And ends."};
  EXPECT_EQ(got, want);
  for (auto& s : chunks) EXPECT_LE(s.tokens, 8);

  // A sentence longer than a chunk is cut into words.
  std::string longs = "one two three four five six seven eight nine ten eleven twelve.";
  auto lc = chunk_text(longs, {5, 0, Boundary::Sentence}, count_words);
  ASSERT_EQ(lc.size(), 3u);
  EXPECT_EQ(longs.substr(lc[2].start, lc[2].end - lc[2].start), "eleven twelve.");
  // A single unbroken "word" longer than a chunk is cut by bytes.
  std::string blob(100, 'x');
  auto bc = chunk_text(blob, {8, 0, Boundary::Word}, [](std::string_view s) { return (int)(s.size() + 9) / 10; });
  EXPECT_GT(bc.size(), 1u);
  EXPECT_EQ(bc.back().end, 100u);
  EXPECT_THROW(check_chunk_config({100, 60, Boundary::Sentence}), Error);
  EXPECT_TRUE(chunk_text("   \n\n  ", c, count_words).empty());
}

TEST(SearchPostings, VarintsAndBlobsRoundTrip) {
  std::vector<Posting> ps = {{1, 3, 0}, {2, 1, 2}, {300, 1, 0}, {70000, 65, 1}, {4000000000u, 1, 0}};
  std::string blob;
  encode_postings(ps, blob);
  std::vector<Posting> back;
  decode_postings(blob, back);
  ASSERT_EQ(back.size(), ps.size());
  for (size_t i = 0; i < ps.size(); i++) {
    EXPECT_EQ(back[i].chunk, ps[i].chunk);
    EXPECT_EQ(back[i].tf, ps[i].tf);
    EXPECT_EQ(back[i].tf_title, ps[i].tf_title);
  }
  // Known bytes: chunk 1, tf 3, no title -> (1 << 1 | 0) = 2, 3.
  std::string one;
  encode_postings({{1, 3, 0}}, one);
  EXPECT_EQ(one, std::string("\x02\x03", 2));
  std::vector<Posting> tmp;
  EXPECT_THROW(decode_postings(std::string("\x82", 1), tmp), Error);
}

TEST(SearchFusion, RrfAndWeighted) {
  std::vector<ScoredId> a = {{1, 9}, {2, 5}, {3, 1}}, b = {{3, 0.9f}, {1, 0.8f}};
  auto r = fuse_rrf(a, b, 60, 100);
  // 1: 1/61 + 1/62; 3: 1/63 + 1/61; 2: 1/62.
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].id, 1u);
  EXPECT_NEAR(r[0].score, 1.0 / 61 + 1.0 / 62, 1e-6);
  EXPECT_EQ(r[1].id, 3u);
  EXPECT_EQ(r[2].id, 2u);
  auto w = fuse_weighted(a, b, 0.5, 100);
  // lexical normalised: 1 -> 1, 2 -> 0.5, 3 -> 0; dense: 3 -> 1, 1 -> 0.
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].id, 1u);
  EXPECT_NEAR(w[0].score, 0.5, 1e-6);
  EXPECT_EQ(w[1].id, 3u);
  EXPECT_NEAR(w[1].score, 0.5, 1e-6);  // tie with 1, broken by id
  EXPECT_NEAR(w[2].score, 0.25, 1e-6);
  EXPECT_EQ(fuse_weighted(a, b, 1.0, 100)[0].id, 1u);
  EXPECT_EQ(fuse_weighted(a, b, 0.0, 100)[0].id, 3u);
}

TEST(SearchMetrics, HandWorkedQuery) {
  std::map<std::string, double> judged = {{"a", 3}, {"b", 1}, {"c", 2}, {"z", 0}};
  std::vector<std::string> ranked = {"b", "x", "a", "z"};
  // DCG = 1/log2(2) + 3/log2(4) = 1 + 1.5; IDCG = 3 + 2/log2(3) + 1/log2(4).
  double idcg = 3 + 2 / std::log2(3.0) + 0.5;
  EXPECT_NEAR(ndcg_at(ranked, judged, 10), 2.5 / idcg, 1e-12);
  // AP: relevant at ranks 1 and 3 of R = 3: (1/1 + 2/3) / 3.
  EXPECT_NEAR(average_precision_at(ranked, judged, 100), (1 + 2.0 / 3) / 3, 1e-12);
  EXPECT_NEAR(recall_at(ranked, judged, 100), 2.0 / 3, 1e-12);
  EXPECT_NEAR(recall_at(ranked, judged, 1), 1.0 / 3, 1e-12);
  EXPECT_NEAR(reciprocal_rank({"x", "z", "c"}, judged, 100), 1.0 / 3, 1e-12);
  EXPECT_EQ(reciprocal_rank({"x"}, judged, 100), 0);
  EXPECT_NEAR(ndcg_at({"a", "c", "b"}, judged, 10), 1.0, 1e-12);
}

TEST(SearchQrels, CranfieldNumberingAndGains) {
  std::string dir = ::testing::TempDir();
  std::string q = dir + "/q.qry", r = dir + "/q.rel", b = dir + "/q.tsv", t = dir + "/q.trec";
  FILE* f = fopen(q.c_str(), "w");
  fputs(".I 001\n.W\nfirst query .\n.I 004\n.W\nsecond query\n", f);
  fclose(f);
  f = fopen(r.c_str(), "w");
  fputs("1 184 2\n1 29 -1\n2 12 4\n2 13 1\n", f);
  fclose(f);
  f = fopen(b.c_str(), "w");
  fputs("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\n", f);
  fclose(f);
  f = fopen(t.c_str(), "w");
  fputs("q1 0 d1 2\n", f);
  fclose(f);
  std::string used;
  Qrels qr = read_qrels(r, "auto", &used);
  EXPECT_EQ(used, "cranfield");
  EXPECT_EQ(qr["1"]["184"], 3);  // code 2 -> gain 3
  EXPECT_EQ(qr["1"].count("29"), 0u);  // -1 dropped
  EXPECT_EQ(qr["2"]["13"], 4);
  auto qs = read_queries(q);
  ASSERT_EQ(qs.size(), 2u);
  EXPECT_EQ(qs[1].text, "second query");
  EXPECT_EQ(number_queries(qs, qr, "auto"), "sequential");  // file ids 1, 4; qrels 1, 2
  EXPECT_EQ(qs[1].id, "2");
  EXPECT_EQ(read_qrels(b, "auto", &used)["q1"]["d2"], 0);
  EXPECT_EQ(used, "beir");
  EXPECT_EQ(read_qrels(t, "auto", &used)["q1"]["d1"], 2);
  EXPECT_EQ(used, "trec");
}

TEST(SearchSnippet, BestWindowMarked) {
  Analyzer a;
  std::string text = "alpha beta gamma delta. The wings of the aircraft flex under load; wing flutter follows.";
  auto s = make_snippet(text, a, {"wing", "flutter"}, 10);
  std::string r = render_snippet(s, "<", ">");
  EXPECT_NE(r.find("<wings>"), std::string::npos) << r;
  EXPECT_NE(r.find("<wing> <flutter>"), std::string::npos) << r;
  EXPECT_EQ(r.substr(0, 3), "...");
}

TEST(SearchAsk, CitationsParsedAndChecked) {
  EXPECT_EQ(find_citations("as [1] and [2, 3] say, not [x] or [ ] but [4][1]"), (std::vector<int>{1, 2, 3, 4, 1}));
  EXPECT_EQ(strip_invalid_citations("lift [1] grows [7] with [2, 9].", 2), "lift [1] grows with [2].");
  Passage p;
  p.n = 1;
  p.title = "Wings";
  p.text = "Lift grows.";
  std::string prompt = build_prompt({p}, "Why?");
  EXPECT_NE(prompt.find("[1] Wings: Lift grows."), std::string::npos);
  EXPECT_EQ(prompt.substr(prompt.size() - 22), "Question: Why?\nAnswer:");
}
