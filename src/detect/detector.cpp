#include "detect/detector.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mmap_file.h"
#include "detect/metrics.h"
#include "eval/score.h"
#include "model/forward.h"

namespace flops::detect {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// mu = E_q[log p], var = Var_q[log p] for one position; two passes so var does not lose
// precision to E[x^2] - E[x]^2.
void moments_row(const float* lp, const float* lq, int V, double& mu, double& var) {
  float mp = lp[0], mq = lq[0];
  for (int v = 1; v < V; v++) {
    mp = std::max(mp, lp[v]);
    mq = std::max(mq, lq[v]);
  }
  double sp = 0, sq = 0;
  for (int v = 0; v < V; v++) {
    sp += std::exp((double)lp[v] - mp);
    sq += std::exp((double)lq[v] - mq);
  }
  const double lsp = std::log(sp) + mp, lsq = std::log(sq) + mq;
  double m = 0;
  for (int v = 0; v < V; v++) m += std::exp((double)lq[v] - lsq) * ((double)lp[v] - lsp);
  double s2 = 0;
  for (int v = 0; v < V; v++) {
    double d = ((double)lp[v] - lsp) - m;
    s2 += std::exp((double)lq[v] - lsq) * d * d;
  }
  mu = m;
  var = s2;
}
}  // namespace

void check_same_tokenizer(const Model& a, const Model& b, const std::string& what) {
  if (a.tok.n_vocab() != b.tok.n_vocab() || a.cfg.n_vocab != b.cfg.n_vocab)
    fail("{} need models that share a tokenizer: '{}' has {} tokens, '{}' has {}", what, a.path, a.tok.n_vocab(),
         b.path, b.tok.n_vocab());
  const auto& ta = a.tok.tokens();
  const auto& tb = b.tok.tokens();
  for (size_t i = 0; i < ta.size(); i++)
    if (ta[i] != tb[i])
      fail("{} need models that share a tokenizer: token {} is '{}' in '{}' but '{}' in '{}'", what, i, ta[i], a.path,
           tb[i], b.path);
  if (a.tok.bos() != b.tok.bos() || a.tok.add_bos_default() != b.tok.add_bos_default())
    fail("{} need models that share a tokenizer: '{}' and '{}' differ in their BOS token", what, a.path, b.path);
}

std::vector<TokenStat> token_stats(const Model& p, const Model* q, const std::vector<int32_t>& tokens, int n_ctx,
                                   int stride, bool moments) {
  const int64_t n = (int64_t)tokens.size();
  if (n < 2) fail("need at least 2 tokens to score, got {}", n);
  if (n_ctx < 2) fail("context size must be at least 2, got {}", n_ctx);
  const int V = p.cfg.n_vocab;
  if (q && q->cfg.n_vocab != V) fail("the two models have different vocabulary sizes ({} and {})", V, q->cfg.n_vocab);
  for (int32_t t : tokens)
    if (t < 0 || t >= V) fail("token id {} out of range for a vocabulary of {}", t, V);
  std::vector<TokenStat> out;
  out.reserve(n - 1);
  if (!moments) {
    for (const TokenScore& s : score_tokens(p, tokens, n_ctx, stride)) {
      TokenStat t;
      t.token = s.token;
      t.logp = s.logprob;
      t.rank = s.rank;
      t.entropy = s.entropy;
      t.mu = t.var = kNaN;
      out.push_back(t);
    }
    return out;
  }
  // Logits of a window: rows x V floats per model; keep them under ~256 MB in total.
  const int64_t max_rows = std::max<int64_t>(8, (int64_t)(256ll << 20) / (4ll * V * (q ? 2 : 1)));
  if (n_ctx > max_rows) n_ctx = (int)max_rows;
  if (stride <= 0) stride = std::max(1, n_ctx / 2);
  if (stride > n_ctx - 1) stride = n_ctx - 1;
  const int win = (int)std::min<int64_t>(n_ctx, n);
  KVCache kvp = make_kv_cache(p.cfg, win);
  KVCache kvq = q ? make_kv_cache(q->cfg, win) : KVCache{};
  std::vector<float> lp, lq;
  int64_t scored_to = 0;  // tokens[1..scored_to] done
  for (int64_t start = 0; scored_to < n - 1; start += stride) {
    const int64_t end = std::min(n, start + n_ctx);
    std::vector<int32_t> w(tokens.begin() + start, tokens.begin() + end);
    kvp.clear();
    forward(p, kvp, make_batch(w), lp);
    if (q) {
      kvq.clear();
      forward(*q, kvq, make_batch(w), lq);
    }
    const int64_t first = scored_to + 1;
    out.resize(end - 1);
#pragma omp parallel for schedule(dynamic, 4) if ((end - first) * (int64_t)V >= (1 << 20))
    for (int64_t j = first; j < end; j++) {
      const int64_t row = j - 1 - start;
      const float* rp = lp.data() + row * V;
      const float* rq = q ? lq.data() + row * V : rp;
      TokenScore s = score_logits(rp, V, tokens[j]);
      TokenStat& t = out[j - 1];
      t.token = tokens[j];
      t.logp = s.logprob;
      t.rank = s.rank;
      t.entropy = s.entropy;
      moments_row(rp, rq, V, t.mu, t.var);
    }
    scored_to = end - 1;
    if (end == n) break;
  }
  return out;
}

Analysis analyze(const Model& p, const Model* q, std::string_view text, const AnalyzeOptions& o) {
  validate_text(text);
  if (q) check_same_tokenizer(p, *q, "these methods");
  if (o.context_bytes > text.size()) fail("context prefix ({} bytes) is longer than the text ({})", o.context_bytes, text.size());
  Analysis a;
  a.tokens = p.tok.encode(text, true);
  std::vector<Span> spans = token_spans(p.tok, text, a.tokens);
  if (o.max_tokens > 0 && (int64_t)a.tokens.size() > o.max_tokens) {
    a.tokens.resize(o.max_tokens);
    spans.resize(o.max_tokens);
    a.truncated = true;
  }
  a.text_bytes = spans.empty() ? 0 : spans.back().end;
  if (!a.truncated) a.text_bytes = text.size();
  int n_ctx = o.n_ctx;
  if (p.cfg.n_ctx_train > 0) n_ctx = std::min(n_ctx, p.cfg.n_ctx_train);
  if (q && q->cfg.n_ctx_train > 0) n_ctx = std::min(n_ctx, q->cfg.n_ctx_train);
  a.n_ctx = n_ctx;
  a.have_moments = o.moments;
  a.n_vocab = p.cfg.n_vocab;
  if (a.tokens.size() < 2) return a;  // nothing to score; decide() refuses a verdict

  std::vector<TokenStat> all = token_stats(p, q, a.tokens, n_ctx, o.stride, o.moments);
  std::string_view used = text.substr(0, a.text_bytes);
  std::vector<Span> sents = split_sentences(used);
  std::vector<SentenceStat> ss(sents.size());
  for (size_t i = 0; i < sents.size(); i++) ss[i].span = trim(used, sents[i]);
  int n_unknown = 0;
  for (size_t k = 0; k < all.size(); k++) {
    TokenStat t = all[k];
    t.span = spans[k + 1];
    if (t.span.begin < o.context_bytes || p.tok.is_control(t.token)) continue;
    if (p.tok.kind() == Tokenizer::Kind::SPM &&
        (p.tok.token_type(t.token) == TokenType::Byte || t.token == p.tok.unk()))
      n_unknown++;
    a.sum_logp += t.logp;
    a.sum_mu += t.mu;
    a.sum_var += t.var;
    // A token belongs to the sentence holding its first visible byte.
    size_t anchor = t.span.begin;
    while (anchor < t.span.end && std::isspace((unsigned char)used[anchor])) anchor++;
    if (anchor >= t.span.end) anchor = t.span.begin;
    auto it = std::upper_bound(sents.begin(), sents.end(), anchor, [](size_t x, const Span& s) { return x < s.begin; });
    if (it != sents.begin()) {
      SentenceStat& s = ss[it - sents.begin() - 1];
      s.n_tokens++;
      s.sum_logp += t.logp;
      s.sum_mu += t.mu;
      s.sum_var += t.var;
    }
    a.stats.push_back(t);
  }
  for (auto& s : ss)
    if (s.n_tokens > 0) a.sentences.push_back(s);
  const int n = a.n_scored();
  if (n > 0) {
    a.log_ppl = -a.sum_logp / n;
    a.unknown_frac = (double)n_unknown / n;
  }
  double m = 0, m2 = 0;
  int k = 0;
  for (auto& s : a.sentences)
    if (s.n_tokens >= o.min_sentence_tokens) {
      k++;
      m += s.log_ppl();
    }
  if (k >= 2) {
    m /= k;
    for (auto& s : a.sentences)
      if (s.n_tokens >= o.min_sentence_tokens) m2 += (s.log_ppl() - m) * (s.log_ppl() - m);
    a.burstiness = std::sqrt(m2 / k);
  }
  a.n_burst_sentences = k;
  return a;
}

const char* method_name(Method m) {
  switch (m) {
    case Method::Ppl: return "ppl";
    case Method::FastDetectGPT: return "fast-detectgpt";
    case Method::Binoculars: return "binoculars";
  }
  return "?";
}

Method parse_method(const std::string& s) {
  if (s == "ppl") return Method::Ppl;
  if (s == "fast-detectgpt" || s == "fastdetectgpt") return Method::FastDetectGPT;
  if (s == "binoculars") return Method::Binoculars;
  fail("unknown detection method '{}' (use ppl, fast-detectgpt or binoculars)", s);
}

DocFeatures features(const Analysis& a) {
  DocFeatures f;
  f.n_tokens = a.n_scored();
  f.sum_logp = a.sum_logp;
  f.sum_mu = a.sum_mu;
  f.sum_var = a.sum_var;
  f.log_ppl = a.log_ppl;
  f.burstiness = a.burstiness;
  return f;
}

double fast_detectgpt_score(double sum_logp, double sum_mu, double sum_var) {
  if (!(sum_var > 0)) return kNaN;
  return (sum_logp - sum_mu) / std::sqrt(sum_var);
}

double binoculars_score(double sum_logp, double sum_mu) {
  if (sum_mu == 0) return kNaN;
  return sum_logp / sum_mu;
}

Calibration default_calibration(Method m) {
  Calibration c;
  c.method = m;
  c.calibrated = false;
  switch (m) {
    case Method::Ppl:
      // A guess, not a fit: P(AI) = 0.5 at perplexity 20 and burstiness 0.5, lower for either above.
      c.weights = {1.5 * std::log(20.0) + 2.0 * 0.5, -1.5, -2.0};
      c.threshold = c.threshold_human = 0.5;
      break;
    case Method::FastDetectGPT:
      // Text sampled from the reference model at temperature 1 scores about N(0, 1): at >= 0
      // the text is at least as predictable as the model's own samples.
      c.threshold = 0.0;
      c.threshold_human = -2.0;
      break;
    case Method::Binoculars:
      // The published Falcon-7B / Falcon-7B-instruct thresholds (low-FPR and best-F1); they do
      // not transfer to other model pairs.
      c.threshold = 0.8536;
      c.threshold_human = 0.9015;
      break;
  }
  return c;
}

double method_score(Method m, const DocFeatures& f, const Calibration& cal) {
  if (f.n_tokens == 0) return kNaN;
  switch (m) {
    case Method::Ppl: {
      if (cal.weights.size() != 3) fail("ppl calibration needs 3 weights, has {}", cal.weights.size());
      return logistic(cal.weights, {f.log_ppl, f.burstiness});
    }
    case Method::FastDetectGPT: return fast_detectgpt_score(f.sum_logp, f.sum_mu, f.sum_var);
    case Method::Binoculars: return binoculars_score(f.sum_logp, f.sum_mu);
  }
  return kNaN;
}

Calibration calibrate(Method m, const std::vector<DocFeatures>& docs, const std::vector<int>& labels,
                      double target_fpr) {
  if (docs.size() != labels.size()) fail("calibrate: {} documents but {} labels", docs.size(), labels.size());
  if (!(target_fpr >= 0 && target_fpr < 1)) fail("target false-positive rate must be in [0, 1), got {}", target_fpr);
  Calibration c;
  c.method = m;
  c.calibrated = true;
  c.target_fpr = target_fpr;
  std::vector<DocFeatures> d;
  std::vector<int> y;
  for (size_t i = 0; i < docs.size(); i++)
    if (docs[i].n_tokens > 0) {
      d.push_back(docs[i]);
      y.push_back(labels[i]);
    }
  if (m == Method::Ppl) {
    std::vector<std::vector<double>> x;
    for (auto& f : d) x.push_back({f.log_ppl, f.burstiness});
    c.weights = fit_logistic(x, y);
  }
  const double sign = higher_is_ai(m) ? 1.0 : -1.0;
  std::vector<double> s;
  std::vector<int> ys;
  for (size_t i = 0; i < d.size(); i++) {
    double v = method_score(m, d[i], c);
    if (!std::isfinite(v)) continue;
    s.push_back(sign * v);
    ys.push_back(y[i]);
    c.log_ppl_min = std::isnan(c.log_ppl_min) ? d[i].log_ppl : std::min(c.log_ppl_min, d[i].log_ppl);
    c.log_ppl_max = std::isnan(c.log_ppl_max) ? d[i].log_ppl : std::max(c.log_ppl_max, d[i].log_ppl);
    (y[i] ? c.n_ai : c.n_human)++;
  }
  OperatingPoint op = tpr_at_fpr(s, ys, target_fpr);
  F1Point f1 = best_f1(s, ys);
  c.auroc = auroc(s, ys);
  c.fpr = op.fpr;
  c.tpr = op.tpr;
  // Halfway to the next lower observed score: the same decisions on this set, and a margin
  // on both sides for new texts.
  auto midpoint = [&](double t) {
    double below = -std::numeric_limits<double>::infinity();
    for (double v : s)
      if (v < t) below = std::max(below, v);
    return std::isfinite(below) && std::isfinite(t) ? (t + below) / 2 : t;
  };
  const double t_ai = midpoint(op.threshold);
  c.threshold = sign * t_ai;
  c.threshold_human = sign * std::min(midpoint(f1.threshold), t_ai);
  return c;
}

std::vector<double> ppl_cross_val_scores(const std::vector<DocFeatures>& docs, const std::vector<int>& labels,
                                         int folds) {
  if (docs.size() != labels.size()) fail("cross-validation: {} documents but {} labels", docs.size(), labels.size());
  if (folds < 2) fail("cross-validation needs at least 2 folds, got {}", folds);
  std::vector<double> out(docs.size(), kNaN);
  for (int f = 0; f < folds; f++) {
    std::vector<std::vector<double>> x;
    std::vector<int> y;
    int pos = 0;
    for (size_t i = 0; i < docs.size(); i++)
      if ((int)(i % folds) != f && docs[i].n_tokens > 0) {
        x.push_back({docs[i].log_ppl, docs[i].burstiness});
        y.push_back(labels[i]);
        pos += labels[i];
      }
    if (pos == 0 || pos == (int)y.size()) fail("cross-validation: a training fold lacks one class");
    std::vector<double> w = fit_logistic(x, y);
    for (size_t i = f; i < docs.size(); i += folds)
      if (docs[i].n_tokens > 0) out[i] = logistic(w, {docs[i].log_ppl, docs[i].burstiness});
  }
  return out;
}

std::string calibration_path(const std::string& model_path) { return model_path + ".detect.json"; }

std::string calibration_key(Method m, const std::string& second_model) {
  std::string k = method_name(m);
  if (second_model.empty()) return k;
  return k + (m == Method::Binoculars ? "+performer=" : "+sampler=") +
         std::filesystem::path(second_model).filename().string();
}

namespace {
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
double get_num(const nlohmann::json& j, const char* k) {
  if (!j.contains(k) || j[k].is_null()) return kNaN;
  if (!j[k].is_number()) fail("calibration file: '{}' is not a number", k);
  return j[k].get<double>();
}
}  // namespace

std::optional<Calibration> load_calibration(const std::string& path, const std::string& key) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail("calibration file '{}' is not valid JSON: {}", path, e.what());
  }
  if (!j.is_object() || !j.contains("methods") || !j["methods"].is_object())
    fail("calibration file '{}' has no \"methods\" object", path);
  if (!j["methods"].contains(key)) return std::nullopt;
  const auto& e = j["methods"][key];
  try {
    Calibration c;
    c.method = parse_method(e.at("method").get<std::string>());
    c.calibrated = true;
    c.threshold = get_num(e, "threshold");
    c.threshold_human = get_num(e, "threshold_human");
    if (!std::isfinite(c.threshold)) fail("calibration file '{}': '{}' has no threshold", path, key);
    if (!std::isfinite(c.threshold_human)) c.threshold_human = c.threshold;
    c.target_fpr = get_num(e, "target_fpr");
    c.fpr = get_num(e, "fpr");
    c.tpr = get_num(e, "tpr");
    c.auroc = get_num(e, "auroc");
    c.log_ppl_min = get_num(e, "log_ppl_min");
    c.log_ppl_max = get_num(e, "log_ppl_max");
    if (e.contains("weights")) c.weights = e["weights"].get<std::vector<double>>();
    if (c.method == Method::Ppl && c.weights.size() != 3)
      fail("calibration file '{}': ppl needs 3 weights, has {}", path, c.weights.size());
    c.n_human = e.value("n_human", 0);
    c.n_ai = e.value("n_ai", 0);
    c.dataset = e.value("dataset", "");
    c.models = e.value("models", "");
    return c;
  } catch (const nlohmann::json::exception& ex) {
    fail("calibration file '{}': bad entry '{}': {}", path, key, ex.what());
  }
}

void check_calibration_writable(const std::string& path) {
  namespace fs = std::filesystem;
  // A directory marked read-only (shared data) stays untouched even for root, who could write it.
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  auto st = fs::status(dir, ec);
  if (ec || !fs::is_directory(st)) fail("cannot write the calibration file '{}': no directory '{}'", path, dir.string());
  if ((st.permissions() & (fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write)) == fs::perms::none)
    fail("cannot write the calibration file '{}': '{}' is read-only; pass --calibration FILE", path, dir.string());
}

void save_calibration(const std::string& path, const std::string& key, const Calibration& c) {
  check_calibration_writable(path);
  nlohmann::json j = nlohmann::json::object();
  if (std::filesystem::exists(path)) {
    try {
      j = nlohmann::json::parse(read_text_file(path));
    } catch (const nlohmann::json::exception&) {
      j = nlohmann::json::object();  // unreadable: replaced rather than merged
    }
    if (!j.is_object()) j = nlohmann::json::object();
  }
  j["format"] = "flops-detect-calibration-1";
  nlohmann::json e;
  e["method"] = method_name(c.method);
  e["threshold"] = num(c.threshold);
  e["threshold_human"] = num(c.threshold_human);
  e["higher_is_ai"] = higher_is_ai(c.method);
  e["target_fpr"] = num(c.target_fpr);
  e["fpr"] = num(c.fpr);
  e["tpr"] = num(c.tpr);
  e["auroc"] = num(c.auroc);
  if (!c.weights.empty()) e["weights"] = c.weights;
  e["log_ppl_min"] = num(c.log_ppl_min);
  e["log_ppl_max"] = num(c.log_ppl_max);
  e["n_human"] = c.n_human;
  e["n_ai"] = c.n_ai;
  e["dataset"] = c.dataset;
  e["models"] = c.models;
  j["methods"][key] = e;
  std::string s = j.dump(2) + "\n";
  write_file_atomic(path, s.data(), s.size());
}

std::string sibling_model(const std::string& primary_path, const std::string& name) {
  namespace fs = std::filesystem;
  fs::path cand = fs::path(primary_path).parent_path() / name;
  std::error_code ec;
  if (!fs::exists(cand, ec) || fs::equivalent(cand, primary_path, ec)) return "";
  return cand.string();
}

Detection decide(Method m, const Analysis& a, const Calibration& cal, int min_tokens, int min_sentence_tokens) {
  Detection d;
  d.method = m;
  d.cal = cal;
  d.n_tokens = a.n_scored();
  d.log_ppl = a.log_ppl;
  d.burstiness = a.burstiness;
  if (needs_moments(m) && !a.have_moments) fail("{} needs the full next-token distributions (analyze with moments)", method_name(m));
  const DocFeatures f = features(a);
  d.score = method_score(m, f, cal);
  const bool hi = higher_is_ai(m);
  auto ai_side = [&](double s, double t) { return hi ? s >= t : s <= t; };
  auto human_side = [&](double s, double t) { return hi ? s < t : s > t; };

  if (d.n_tokens < min_tokens) {
    d.verdict = "no verdict";
    d.reason = fmt::format("too short: {} scored tokens, at least {} are needed for a verdict", d.n_tokens, min_tokens);
  } else if (!std::isfinite(d.score)) {
    d.verdict = "no verdict";
    d.reason = "the score is undefined for this text (the model's predictions have no spread)";
  } else if (ai_side(d.score, cal.threshold)) {
    d.verdict = "likely AI";
    d.reason = fmt::format("score {:.4g} is {} the AI threshold {:.4g}", d.score, hi ? "at or above" : "at or below",
                           cal.threshold);
  } else if (human_side(d.score, cal.threshold_human)) {
    d.verdict = "likely human";
    d.reason = fmt::format("score {:.4g} is {} the human threshold {:.4g}", d.score, hi ? "below" : "above",
                           cal.threshold_human);
  } else {
    d.verdict = "mixed";
    d.reason = fmt::format("score {:.4g} lies between the human threshold {:.4g} and the AI threshold {:.4g}", d.score,
                           cal.threshold_human, cal.threshold);
  }
  if (!cal.calibrated)
    d.warnings.push_back("uncalibrated thresholds (built-in defaults, false-positive rate unknown): run "
                         "'flops detect-eval DATA --calibrate'");
  if (d.n_tokens > 0) {
    if (!cal.calibrated && a.n_vocab > 1 && a.log_ppl > 0.6 * std::log((double)a.n_vocab)) {
      d.low_confidence = true;
      d.warnings.push_back(fmt::format(
          "low confidence: document perplexity {:.1f} is high for a {}-token vocabulary; the text is probably from a "
          "domain or language the model was not trained on",
          std::exp(a.log_ppl), a.n_vocab));
    }
    if (cal.calibrated && std::isfinite(cal.log_ppl_max) && a.log_ppl > cal.log_ppl_max + 0.5) {
      d.low_confidence = true;
      d.warnings.push_back(fmt::format(
          "low confidence: document perplexity {:.1f} is far above the calibration range (up to {:.1f}); the text is "
          "probably from a domain or language the model was not trained on",
          std::exp(a.log_ppl), std::exp(cal.log_ppl_max)));
    }
    if (a.unknown_frac > 0.10) {
      d.low_confidence = true;
      d.warnings.push_back(fmt::format(
          "low confidence: {:.0f}% of tokens are byte fallbacks or unknown: a script or language the model's "
          "vocabulary does not cover",
          100 * a.unknown_frac));
    }
  }
  if (a.truncated) d.warnings.push_back(fmt::format("only the first {} tokens were scored", a.tokens.size()));
  // Per-sentence evidence on the document's scale.
  for (const SentenceStat& s : a.sentences) {
    SentenceVerdict v;
    v.span = s.span;
    v.n_tokens = s.n_tokens;
    v.log_ppl = s.log_ppl();
    DocFeatures sf;
    sf.n_tokens = s.n_tokens;
    sf.sum_logp = s.sum_logp;
    sf.sum_mu = s.sum_mu;
    sf.sum_var = s.sum_var;
    sf.log_ppl = s.log_ppl();
    sf.burstiness = a.burstiness;
    v.score = method_score(m, sf, cal);
    if (m == Method::FastDetectGPT && s.n_tokens > 0) v.score *= std::sqrt((double)d.n_tokens / s.n_tokens);
    if (d.verdict == "no verdict" || s.n_tokens < min_sentence_tokens || !std::isfinite(v.score))
      v.lean = "neutral";
    else if (ai_side(v.score, cal.threshold))
      v.lean = "ai";
    else if (human_side(v.score, cal.threshold_human))
      v.lean = "human";
    else
      v.lean = "neutral";
    d.sentences.push_back(v);
  }
  return d;
}

}  // namespace flops::detect
