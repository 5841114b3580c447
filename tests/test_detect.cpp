// Detection: each method's formula against a naive double-precision reference on tiny
// random models that share a byte tokenizer, windowing, sentences, verdicts and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/threads.h"
#include "detect/datasets.h"
#include "detect/detector.h"
#include "detect/report.h"
#include "detect/text.h"
#include "model/forward.h"
#include "model/synthetic.h"
#include "test_util.h"

using namespace flops;
using namespace flops::detect;

namespace {

ModelConfig tiny(int n_vocab = 300) {
  ModelConfig c;
  c.arch = Arch::Llama;
  c.arch_name = "llama";
  c.n_vocab = n_vocab;
  c.n_embd = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 64;
  c.n_ctx_train = 64;
  c.n_rot = 8;
  c.rope_theta = 10000.0f;
  c.norm_eps = 1e-5f;
  return c;
}

std::unique_ptr<Model> build(uint64_t seed, int n_vocab = 300) {
  // Models this small gain nothing from threads, and on a loaded machine OpenMP's spinning
  // workers make them ~50x slower.
  set_threads(1);
  SyntheticOptions o;
  o.seed = seed;
  o.init_std = 0.3f;  // spread-out distributions, so the statistics are not trivial
  return load_synthetic_model(tiny(n_vocab), o, "tiny" + std::to_string(seed));
}

const Model& P() {
  static auto m = build(11);
  return *m;
}
const Model& Q() {
  static auto m = build(22);
  return *m;
}

// Naive per-position quantities from the full logits of one forward pass (double precision,
// E[x^2] - E[x]^2 in long double, written independently of the library's two-pass code).
struct Naive {
  std::vector<double> logp, mu, var, xent;
};
Naive naive(const Model& p, const Model& q, const std::vector<int32_t>& toks, int start, int end) {
  const int V = p.cfg.n_vocab;
  std::vector<int32_t> w(toks.begin() + start, toks.begin() + end);
  std::vector<float> lp, lq;
  KVCache kp = make_kv_cache(p.cfg, (int)w.size()), kq = make_kv_cache(q.cfg, (int)w.size());
  forward(p, kp, make_batch(w), lp);
  forward(q, kq, make_batch(w), lq);
  Naive r;
  for (size_t t = 0; t + 1 < w.size(); t++) {
    const float* a = lp.data() + t * V;
    const float* b = lq.data() + t * V;
    long double zp = 0, zq = 0;
    for (int v = 0; v < V; v++) {
      zp += std::exp((long double)a[v]);
      zq += std::exp((long double)b[v]);
    }
    long double m1 = 0, m2 = 0;
    for (int v = 0; v < V; v++) {
      long double logp_v = (long double)a[v] - std::log(zp);
      long double q_v = std::exp((long double)b[v]) / zq;
      m1 += q_v * logp_v;
      m2 += q_v * logp_v * logp_v;
    }
    r.logp.push_back((double)((long double)a[w[t + 1]] - std::log(zp)));
    r.mu.push_back((double)m1);
    r.var.push_back((double)(m2 - m1 * m1));
    r.xent.push_back((double)-m1);
  }
  return r;
}

const std::string kText =
    "The rain fell on the old town all night. In the morning the streets shone. "
    "Children ran to the river to see how high it had risen!";

}  // namespace

TEST(DetectStats, FastDetectGPTMatchesNaiveWithSeparateSamplingModel) {
  const Model& p = P();
  const Model& q = Q();
  AnalyzeOptions o;
  o.n_ctx = 512;  // capped at the models' 64 positions
  std::string text = kText.substr(0, 60);
  Analysis a = analyze(p, &q, text, o);
  ASSERT_EQ(a.tokens.size(), 61u);  // BOS + one token per byte
  ASSERT_EQ(a.n_scored(), 60);
  Naive n = naive(p, q, a.tokens, 0, 61);
  double sl = 0, sm = 0, sv = 0;
  for (size_t t = 0; t < n.logp.size(); t++) {
    EXPECT_NEAR(a.stats[t].logp, n.logp[t], 1e-6);
    EXPECT_NEAR(a.stats[t].mu, n.mu[t], 1e-6);
    EXPECT_NEAR(a.stats[t].var, n.var[t], 1e-6);
    sl += n.logp[t];
    sm += n.mu[t];
    sv += n.var[t];
  }
  double ref = (sl - sm) / std::sqrt(sv);
  double got = method_score(Method::FastDetectGPT, features(a), default_calibration(Method::FastDetectGPT));
  EXPECT_NEAR(got, ref, 1e-6 * std::max(1.0, std::fabs(ref)));
  EXPECT_GT(sv, 1.0);  // the models are not degenerate
}

TEST(DetectStats, FastDetectGPTSingleModelUsesItsOwnDistribution) {
  const Model& p = P();
  std::string text = kText.substr(0, 50);
  Analysis a = analyze(p, nullptr, text);
  Naive n = naive(p, p, a.tokens, 0, (int)a.tokens.size());
  for (size_t t = 0; t < n.logp.size(); t++) {
    EXPECT_NEAR(a.stats[t].mu, n.mu[t], 1e-6);
    EXPECT_NEAR(a.stats[t].mu, -a.stats[t].entropy, 1e-6);  // E_p[log p] = -H(p)
    EXPECT_NEAR(a.stats[t].var, n.var[t], 1e-6);
  }
}

TEST(DetectStats, BinocularsMatchesNaive) {
  const Model& perf = P();
  const Model& obs = Q();
  std::string text = kText.substr(0, 63);  // BOS + 63 bytes: one window of 64
  Analysis a = analyze(perf, &obs, text);
  Naive n = naive(perf, obs, a.tokens, 0, (int)a.tokens.size());
  double ppl = 0, xppl = 0;
  for (size_t t = 0; t < n.logp.size(); t++) {
    ppl += -n.logp[t];
    xppl += n.xent[t];
  }
  ppl /= n.logp.size();   // log PPL under the performer
  xppl /= n.logp.size();  // cross-entropy of the observer's distribution against the performer's
  double got = method_score(Method::Binoculars, features(a), default_calibration(Method::Binoculars));
  EXPECT_NEAR(got, ppl / xppl, 1e-7);
  EXPECT_NEAR(a.log_ppl, ppl, 1e-7);
}

TEST(DetectStats, WindowsScoreEveryTokenOnceWithTheRightContext) {
  const Model& p = P();
  const Model& q = Q();
  std::vector<int32_t> toks;
  for (int i = 0; i < 100; i++) toks.push_back((int32_t)(unsigned char)kText[i % kText.size()]);
  const int n_ctx = 32, stride = 16;
  std::vector<TokenStat> s = token_stats(p, &q, toks, n_ctx, stride);
  ASSERT_EQ(s.size(), toks.size() - 1);
  for (int j : {1, 20, 31, 32, 47, 48, 70, 99}) {
    // Token j is scored by the first window [start, start + n_ctx) that contains it.
    int start = j < n_ctx ? 0 : ((j - n_ctx) / stride + 1) * stride;
    Naive n = naive(p, q, toks, start, j + 1);
    EXPECT_EQ(s[j - 1].token, toks[j]);
    // Batches of different sizes round differently in float: compare to 1e-6 relative.
    EXPECT_NEAR(s[j - 1].logp, n.logp.back(), 1e-6 * std::fabs(n.logp.back()) + 1e-7) << "token " << j;
    EXPECT_NEAR(s[j - 1].mu, n.mu.back(), 1e-6 * std::fabs(n.mu.back()) + 1e-7) << "token " << j;
    EXPECT_NEAR(s[j - 1].var, n.var.back(), 1e-6 * std::fabs(n.var.back()) + 1e-7) << "token " << j;
  }
}

TEST(DetectStats, PerplexityAndBurstinessFromSentences) {
  const Model& p = P();
  Analysis a = analyze(p, nullptr, kText.substr(0, 63));  // BOS + 63 bytes: one window
  // "The rain fell on the old town all night. " | "In the morning the streets shone."
  ASSERT_EQ(a.sentences.size(), 2u);
  EXPECT_EQ(kText.substr(a.sentences[0].span.begin, a.sentences[0].span.end - a.sentences[0].span.begin),
            "The rain fell on the old town all night.");
  // One token per byte; the trailing space joins sentence 1.
  EXPECT_EQ(a.sentences[0].n_tokens, 41);
  EXPECT_EQ(a.sentences[1].n_tokens, 22);
  Naive n = naive(p, p, a.tokens, 0, (int)a.tokens.size());
  ASSERT_EQ(n.logp.size(), 63u);
  double s0 = 0, s1 = 0, all = 0;
  for (int t = 0; t < 63; t++) (t < 41 ? s0 : s1) += -n.logp[t], all += -n.logp[t];
  s0 /= 41;
  s1 /= 22;
  EXPECT_NEAR(a.log_ppl, all / 63, 1e-7);
  EXPECT_NEAR(a.burstiness, std::fabs(s0 - s1) / 2, 1e-7);  // population std-dev of two values
}

TEST(DetectStats, ContextPrefixConditionsButIsNotScored) {
  const Model& p = P();
  AnalyzeOptions o;
  o.context_bytes = 20;
  std::string text = kText.substr(0, 50);
  Analysis a = analyze(p, nullptr, text, o);
  EXPECT_EQ(a.n_scored(), 30);
  Analysis full = analyze(p, nullptr, text);
  for (int k = 0; k < 30; k++) EXPECT_DOUBLE_EQ(a.stats[k].logp, full.stats[20 + k].logp);
  EXPECT_EQ(a.stats[0].span.begin, 20u);
}

TEST(DetectStats, TruncatesToMaxTokens) {
  AnalyzeOptions o;
  o.max_tokens = 30;
  Analysis a = analyze(P(), nullptr, kText, o);
  EXPECT_TRUE(a.truncated);
  EXPECT_EQ(a.tokens.size(), 30u);
  EXPECT_EQ(a.n_scored(), 29);  // the BOS is not scored
  EXPECT_EQ(a.text_bytes, 29u);
}

TEST(DetectErrors, BadInput) {
  auto msg = [](const std::string& t) {
    try {
      analyze(P(), nullptr, t);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg("").find("empty"), std::string::npos);
  EXPECT_NE(msg(" \n\t ").find("whitespace"), std::string::npos);
  EXPECT_NE(msg(std::string("ab\0cd", 5)).find("NUL"), std::string::npos);
  EXPECT_NE(msg("ok \xff\xfe").find("not valid UTF-8 (byte offset 3)"), std::string::npos);
  EXPECT_NE(msg("over\xc0\xaf").find("not valid UTF-8"), std::string::npos);  // overlong encoding
  EXPECT_NE(msg("bin\x01\x02\x03").find("binary"), std::string::npos);
}

TEST(DetectErrors, TooShortRefusesAVerdict) {
  Analysis a = analyze(P(), nullptr, "A short note.");
  Detection d = decide(Method::FastDetectGPT, a, default_calibration(Method::FastDetectGPT), 64);
  EXPECT_EQ(d.verdict, "no verdict");
  EXPECT_NE(d.reason.find("too short: 13 scored tokens, at least 64"), std::string::npos) << d.reason;
}

TEST(DetectErrors, ModelsMustShareATokenizer) {
  auto other = build(33, 301);
  try {
    analyze(P(), other.get(), kText);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("share a tokenizer"), std::string::npos) << e.what();
  }
}

TEST(DetectErrors, PplMethodDoesNotNeedMomentsButOthersDo) {
  AnalyzeOptions o;
  o.moments = false;
  Analysis a = analyze(P(), nullptr, kText, o);
  EXPECT_NO_THROW(decide(Method::Ppl, a, default_calibration(Method::Ppl)));
  EXPECT_THROW(decide(Method::Binoculars, a, default_calibration(Method::Binoculars)), Error);
}

TEST(DetectVerdict, ThresholdsAndMixedBand) {
  Analysis a;
  a.stats.resize(100);
  a.have_moments = true;
  a.sum_var = 100;  // sqrt = 10
  Calibration c = default_calibration(Method::FastDetectGPT);
  c.calibrated = true;
  c.threshold = 1.0;
  c.threshold_human = -1.0;
  auto verdict = [&](double discrepancy) {
    a.sum_mu = -200;
    a.sum_logp = -200 + discrepancy * 10;
    a.log_ppl = 2;
    return decide(Method::FastDetectGPT, a, c).verdict;
  };
  EXPECT_EQ(verdict(1.5), "likely AI");
  EXPECT_EQ(verdict(1.0), "likely AI");
  EXPECT_EQ(verdict(0.0), "mixed");
  EXPECT_EQ(verdict(-1.0), "mixed");
  EXPECT_EQ(verdict(-1.5), "likely human");
  // Binoculars: lower is AI.
  Calibration b = default_calibration(Method::Binoculars);
  b.threshold = 0.8;
  b.threshold_human = 0.9;
  a.sum_mu = -100;
  a.sum_logp = -75;  // 0.75
  EXPECT_EQ(decide(Method::Binoculars, a, b).verdict, "likely AI");
  a.sum_logp = -95;
  EXPECT_EQ(decide(Method::Binoculars, a, b).verdict, "likely human");
}

TEST(DetectVerdict, OutOfDomainIsLowConfidence) {
  Analysis a;
  a.stats.resize(100);
  a.have_moments = true;
  a.sum_var = 100;
  a.log_ppl = 5.0;
  Calibration c = default_calibration(Method::FastDetectGPT);
  c.calibrated = true;
  c.log_ppl_max = 3.0;
  EXPECT_TRUE(decide(Method::FastDetectGPT, a, c).low_confidence);
  a.log_ppl = 3.2;
  EXPECT_FALSE(decide(Method::FastDetectGPT, a, c).low_confidence);
  a.unknown_frac = 0.3;
  EXPECT_TRUE(decide(Method::FastDetectGPT, a, c).low_confidence);
}

TEST(DetectVerdict, SentenceScoresOnTheDocumentScale) {
  Analysis a = analyze(P(), &Q(), kText.substr(0, 63));
  Detection d = decide(Method::FastDetectGPT, a, default_calibration(Method::FastDetectGPT), 10);
  ASSERT_EQ(d.sentences.size(), 2u);
  const SentenceStat& s = a.sentences[0];
  double expect = (s.sum_logp - s.sum_mu) / std::sqrt(s.sum_var) * std::sqrt((double)a.n_scored() / s.n_tokens);
  EXPECT_NEAR(d.sentences[0].score, expect, 1e-9);
  Detection b = decide(Method::Binoculars, a, default_calibration(Method::Binoculars), 10);
  EXPECT_NEAR(b.sentences[1].score, a.sentences[1].sum_logp / a.sentences[1].sum_mu, 1e-12);
}

TEST(DetectText, Sentences) {
  auto texts = [](std::string_view t) {
    std::vector<std::string> r;
    for (Span s : split_sentences(t)) {
      Span x = trim(t, s);
      r.emplace_back(t.substr(x.begin, x.end - x.begin));
    }
    return r;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(texts("It rained. Then it stopped! Why?"), (V{"It rained.", "Then it stopped!", "Why?"}));
  // Hard-wrapped lines are one sentence; a blank line ends one.
  EXPECT_EQ(texts("This sentence is\nwrapped over two lines. Second one."),
            (V{"This sentence is\nwrapped over two lines.", "Second one."}));
  EXPECT_EQ(texts("Title\n\nBody text here."), (V{"Title", "Body text here."}));
  // Abbreviations do not end sentences (ICU suppressions, "en@ss=standard").
  EXPECT_EQ(texts("\"My dear Mr. Bennet,\" said his lady. He nodded."), (V{"\"My dear Mr. Bennet,\" said his lady.", "He nodded."}));
  // Spans cover the text contiguously.
  std::string t = "One.  Two.\n\nThree";
  auto sp = split_sentences(t);
  ASSERT_FALSE(sp.empty());
  EXPECT_EQ(sp.front().begin, 0u);
  EXPECT_EQ(sp.back().end, t.size());
  for (size_t i = 1; i < sp.size(); i++) EXPECT_EQ(sp[i].begin, sp[i - 1].end);
}

TEST(DetectText, TokenSpansOfAnSpmModelCoverTheText) {
  std::string dir = flops::test::shared_data_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data absent";
  auto m = load_model(dir + "/models/stories260K.gguf");
  std::string text = "Once upon a time, a little girl named Lily found a shiny stone.\nShe was happy.";
  auto toks = m->tok.encode(text, true);
  auto spans = token_spans(m->tok, text, toks);
  std::string rebuilt;
  for (size_t i = 0; i < toks.size(); i++) rebuilt += text.substr(spans[i].begin, spans[i].end - spans[i].begin);
  EXPECT_EQ(rebuilt, text);
  EXPECT_EQ(spans[0].begin, spans[0].end);  // BOS
}

TEST(DetectCalibration, RoundTripAndThresholds) {
  std::vector<DocFeatures> docs;
  std::vector<int> y;
  // Fast-DetectGPT scores -3, -2, -1, 0 (human) and -0.5, 1, 2 (AI): sum_var 1, sum_mu 0.
  for (double s : {-3.0, -2.0, -1.0, 0.0, -0.5, 1.0, 2.0}) {
    DocFeatures f;
    f.n_tokens = 100;
    f.sum_logp = s;
    f.sum_var = 1;
    f.sum_mu = 0;
    f.log_ppl = 2 + s / 10;
    docs.push_back(f);
    y.push_back(docs.size() > 4);
  }
  Calibration c = calibrate(Method::FastDetectGPT, docs, y, 0.0);
  // Highest-TPR operating point with no false positives: AI from 1.0 up; the threshold sits
  // halfway down to the next score (0.0).
  EXPECT_DOUBLE_EQ(c.threshold, 0.5);
  EXPECT_DOUBLE_EQ(c.tpr, 2.0 / 3);
  EXPECT_DOUBLE_EQ(c.fpr, 0.0);
  EXPECT_DOUBLE_EQ(c.auroc, 11.0 / 12);
  // Best F1: from -0.5 up TP 3, FP 1, FN 0 -> 6/7 (from 1.0 up only 0.8); halfway to -1.
  EXPECT_DOUBLE_EQ(c.threshold_human, -0.75);
  std::string path = flops::test::temp_dir() + "/m.gguf.detect.json";
  std::filesystem::remove(path);
  save_calibration(path, calibration_key(Method::FastDetectGPT, ""), c);
  for (auto& f : docs) f.sum_mu = -10;  // binoculars = sum_logp / sum_mu needs sum_mu != 0
  Calibration b = calibrate(Method::Binoculars, docs, y, 0.5);
  save_calibration(path, calibration_key(Method::Binoculars, "models/other.gguf"), b);
  auto r = load_calibration(path, "fast-detectgpt");
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->calibrated);
  EXPECT_DOUBLE_EQ(r->threshold, c.threshold);
  EXPECT_DOUBLE_EQ(r->tpr, c.tpr);
  EXPECT_DOUBLE_EQ(r->log_ppl_max, 2.2);
  auto rb = load_calibration(path, "binoculars+performer=other.gguf");
  ASSERT_TRUE(rb.has_value());
  EXPECT_EQ(rb->method, Method::Binoculars);
  EXPECT_FALSE(load_calibration(path, "ppl").has_value());
  std::ofstream(path) << "{not json";
  EXPECT_THROW(load_calibration(path, "ppl"), Error);
}

TEST(DetectCalibration, PplLogisticSeparatesByPerplexity) {
  std::vector<DocFeatures> docs;
  std::vector<int> y;
  for (int i = 0; i < 40; i++) {
    DocFeatures f;
    f.n_tokens = 100;
    bool ai = i % 2;
    f.log_ppl = (ai ? 2.0 : 3.0) + 0.05 * (i % 7) - 0.15;
    f.burstiness = (ai ? 0.3 : 0.6) + 0.01 * (i % 5);
    docs.push_back(f);
    y.push_back(ai);
  }
  Calibration c = calibrate(Method::Ppl, docs, y, 0.05);
  ASSERT_EQ(c.weights.size(), 3u);
  EXPECT_LT(c.weights[1], 0);  // lower perplexity -> more likely AI
  EXPECT_DOUBLE_EQ(c.auroc, 1.0);
  EXPECT_DOUBLE_EQ(c.tpr, 1.0);
  // Out-of-fold scores: document i's weights never saw document i.
  std::vector<double> cv = ppl_cross_val_scores(docs, y, 4);
  ASSERT_EQ(cv.size(), docs.size());
  for (size_t i = 0; i < docs.size(); i++) EXPECT_EQ(cv[i] > 0.5, y[i] == 1) << i;
  std::vector<DocFeatures> d2(docs.begin(), docs.end());
  std::vector<int> y2 = y;
  d2[0].log_ppl = 9;  // changing a document of fold 0 changes only the other folds' scores
  std::vector<double> cv2 = ppl_cross_val_scores(d2, y2, 4);
  EXPECT_DOUBLE_EQ(cv2[4], cv[4]);
  EXPECT_NE(cv2[1], cv[1]);
}

TEST(DetectData, FastDetectGPTPairsShareTheirPrefixAsContext) {
  EXPECT_EQ(shared_prefix_bytes("The cat sat on it", "The cat ran off"), 7u);   // "The cat"
  EXPECT_EQ(shared_prefix_bytes("The catalog", "The cats"), 3u);               // no partial word
  EXPECT_EQ(shared_prefix_bytes("Alpha", "Beta"), 0u);
  std::string dir = flops::test::temp_dir();
  std::string f = dir + "/x.raw_data.json";
  std::ofstream(f) << R"({"original": ["The cat sat on the mat.", "Dogs bark."], "sampled": ["The cat ran off.", "Birds sing."]})";
  auto v = load_detect_data(f);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].label, 0);
  EXPECT_EQ(v[1].label, 1);
  EXPECT_EQ(v[0].context_bytes, 7u);
  EXPECT_EQ(v[1].context_bytes, 7u);
  EXPECT_EQ(v[2].context_bytes, 0u);
  LoadOptions s;
  s.prefix_mode = "strip";
  auto w = load_detect_data(f, s);
  EXPECT_EQ(w[0].text, "sat on the mat.");
  EXPECT_EQ(w[1].text, "ran off.");
  std::string pj = dir + "/p.jsonl";
  std::ofstream(pj) << R"({"text": "Once upon a time it rained.", "label": "ai", "prompt_bytes": 16, "pair": 3})" "\n";
  auto pv = load_detect_data(pj);
  ASSERT_EQ(pv.size(), 1u);
  EXPECT_EQ(pv[0].label, 1);
  EXPECT_EQ(pv[0].context_bytes, 16u);
  EXPECT_EQ(pv[0].pair, 3);
  EXPECT_EQ(load_detect_data(pj, s)[0].text, "it rained.");
  std::string j = dir + "/d.jsonl";
  std::ofstream(j) << R"({"text": "hello there", "label": "human"})" "\n" R"({"text": "beep", "label": "robot"})" "\n";
  try {
    load_detect_data(j);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("d.jsonl:2: label must be"), std::string::npos) << e.what();
  }
}

TEST(DetectReport, JsonSpansAndColouredSentences) {
  std::string text = kText.substr(0, 63);
  Analysis a = analyze(P(), &Q(), text);
  Calibration c = default_calibration(Method::FastDetectGPT);
  c.threshold = c.threshold_human = -1e9;  // every sentence leans AI
  Detection d = decide(Method::FastDetectGPT, a, c, 10, 1);
  EXPECT_EQ(d.verdict, "likely AI");
  nlohmann::json j = to_json(d, text);
  ASSERT_EQ(j["sentences"].size(), 2u);
  for (auto& s : j["sentences"]) {
    size_t b = s["begin"], e = s["end"];
    EXPECT_EQ(s["text"].get<std::string>(), text.substr(b, e - b));
    EXPECT_EQ(s["lean"], "ai");
  }
  EXPECT_EQ(j["verdict"], "likely AI");
  EXPECT_FALSE(j["calibrated"].get<bool>());
  std::string col = render_sentences(d, text, true);
  EXPECT_NE(col.find("\x1b[1;31mThe rain fell on the old town all night.\x1b[0m"), std::string::npos) << col;
  std::string plain = render_sentences(d, text, false);
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  EXPECT_NE(plain.find("In the morning the"), std::string::npos);
}
