#pragma once
// Machine-written text detection from a model's token statistics.
//
// Per-token statistics (analyze): with p the scoring model (Binoculars: the performer)
// and q the reference model (Fast-DetectGPT: the sampling model; Binoculars: the
// observer; q = p when no second model is given), for each scored token x_t:
//   logp_t = log p(x_t | x_<t)
//   mu_t   = E_{v~q}[log p(v | x_<t)]          (over the full vocabulary)
//   var_t  = Var_{v~q}[log p(v | x_<t)]
// Document quantities:
//   log_ppl    = -(1/N) sum_t logp_t           (document perplexity = e^log_ppl)
//   burstiness = population standard deviation of the sentences' log-perplexities
//                (-mean logp over a sentence's tokens), over sentences with at least
//                min_sentence_tokens scored tokens; 0 when fewer than 2 such sentences.
// Methods (score direction: ppl and fast-detectgpt are higher for AI text, binoculars lower):
//   ppl            P(AI) = sigmoid(w0 + w1 log_ppl + w2 burstiness), w fitted by calibration.
//   fast-detectgpt (sum_t logp_t - sum_t mu_t) / sqrt(sum_t var_t)    (arXiv 2310.05130, analytic form)
//   binoculars     log PPL_p / log X-PPL_{q,p} = (sum_t logp_t) / (sum_t mu_t)   (arXiv 2401.12070;
//                  X-PPL = -(1/N) sum_t sum_v q(v) log p(v): cross-entropy of observer q against performer p)
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "detect/text.h"
#include "model/model.h"

namespace flops::detect {

struct TokenStat {
  int32_t token = 0;
  Span span;           // bytes of the text this token covers
  double logp = 0;     // log p(token | prefix) under the scoring model
  int32_t rank = 0;    // 1 = the scoring model's top choice
  double entropy = 0;  // of p, nats
  double mu = 0;       // E_{v~q}[log p(v)]
  double var = 0;      // Var_{v~q}[log p(v)]
};

// Statistics of tokens[1..] (one per token after the first), in windows of n_ctx tokens advancing
// by stride (0 = n_ctx/2) like eval/score.h: each token is scored once, with at least
// n_ctx - stride tokens of context when available. q may be null (q = p). moments=false skips
// mu/var (the per-token scores then come from eval/score.h's score_tokens). Windows are also
// shortened so that their logits stay under ~256 MB whatever the vocabulary.
std::vector<TokenStat> token_stats(const Model& p, const Model* q, const std::vector<int32_t>& tokens, int n_ctx,
                                   int stride = 0, bool moments = true);

// Throws unless the two models have identical vocabularies (same tokens in the same order).
void check_same_tokenizer(const Model& a, const Model& b, const std::string& what);

struct AnalyzeOptions {
  int n_ctx = 512;              // window (capped at the models' training context)
  int stride = 0;               // 0 = n_ctx / 2
  int max_tokens = 0;           // > 0: only the first max_tokens tokens (BOS included) are used
  size_t context_bytes = 0;     // text[0, context_bytes) is a shared prompt: it conditions, it is not scored
  bool moments = true;          // compute mu/var (full distributions; needed by fast-detectgpt and binoculars)
  int min_sentence_tokens = 3;  // shorter sentences do not enter burstiness
};

struct SentenceStat {
  Span span;  // trimmed of surrounding whitespace
  int n_tokens = 0;
  double sum_logp = 0, sum_mu = 0, sum_var = 0;
  double log_ppl() const { return n_tokens ? -sum_logp / n_tokens : std::numeric_limits<double>::quiet_NaN(); }
};

struct Analysis {
  std::vector<int32_t> tokens;         // the token sequence used (after truncation)
  size_t text_bytes = 0;               // bytes of the text those tokens cover
  bool truncated = false;
  std::vector<TokenStat> stats;        // scored tokens only (not BOS, not the context prefix)
  std::vector<SentenceStat> sentences; // sentences holding at least one scored token
  double sum_logp = 0, sum_mu = 0, sum_var = 0;
  double log_ppl = 0;
  double burstiness = 0;
  int n_burst_sentences = 0;           // sentences that entered burstiness
  double unknown_frac = 0;             // share of scored tokens that are byte-fallback or <unk> (SPM vocabularies)
  bool have_moments = false;
  int n_ctx = 0;                       // window actually used
  int n_vocab = 0;
  int n_scored() const { return (int)stats.size(); }
};

// Validates the text (validate_text), tokenizes it with p's tokenizer and computes everything above.
Analysis analyze(const Model& p, const Model* q, std::string_view text, const AnalyzeOptions& o = {});

enum class Method { Ppl, FastDetectGPT, Binoculars };
const char* method_name(Method m);
Method parse_method(const std::string& s);  // "ppl", "fast-detectgpt", "binoculars"
inline bool higher_is_ai(Method m) { return m != Method::Binoculars; }
inline bool needs_moments(Method m) { return m != Method::Ppl; }

// What a method needs of a document (Analysis or a saved evaluation record).
struct DocFeatures {
  int n_tokens = 0;
  double sum_logp = 0, sum_mu = 0, sum_var = 0;
  double log_ppl = 0, burstiness = 0;
};
DocFeatures features(const Analysis& a);

double fast_detectgpt_score(double sum_logp, double sum_mu, double sum_var);
double binoculars_score(double sum_logp, double sum_mu);

// Thresholds and the FPR they were chosen for, per method.
struct Calibration {
  Method method = Method::Ppl;
  bool calibrated = false;     // false: built-in defaults, false-positive rate unknown
  double threshold = 0;        // AI side of it (>= for higher_is_ai methods, <= otherwise): "likely AI"
  double threshold_human = 0;  // human side of it: "likely human"; between the two: "mixed"
  double target_fpr = 0.01;
  double fpr = std::numeric_limits<double>::quiet_NaN();  // measured at `threshold` on the calibration set
  double tpr = std::numeric_limits<double>::quiet_NaN();
  double auroc = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> weights;  // ppl: {w0, w_log_ppl, w_burstiness}
  double log_ppl_min = std::numeric_limits<double>::quiet_NaN(), log_ppl_max = std::numeric_limits<double>::quiet_NaN();
  int n_human = 0, n_ai = 0;
  std::string dataset, models;
};

Calibration default_calibration(Method m);
// Score of a document under a method (ppl uses cal.weights).
double method_score(Method m, const DocFeatures& f, const Calibration& cal);
// Fits (ppl: the logistic weights, then) the threshold with FPR <= target_fpr and the best-F1
// threshold (the human side), on labeled documents (1 = AI).
Calibration calibrate(Method m, const std::vector<DocFeatures>& docs, const std::vector<int>& labels, double target_fpr);

// Out-of-fold P(AI) of the ppl method: document i is scored by logistic weights fitted on the
// documents of the other folds (fold = i mod folds), so its metrics are not in-sample.
std::vector<double> ppl_cross_val_scores(const std::vector<DocFeatures>& docs, const std::vector<int>& labels,
                                         int folds = 5);

// Calibration file next to a model: MODEL.gguf.detect.json, one entry per key.
std::string calibration_path(const std::string& model_path);
// Key of a method with its second model, e.g. "binoculars+performer=flops-b.gguf" ("" when none).
std::string calibration_key(Method m, const std::string& second_model);
std::optional<Calibration> load_calibration(const std::string& path, const std::string& key);  // nullopt: no file/key
void save_calibration(const std::string& path, const std::string& key, const Calibration& c);  // merges, atomic
// Throws when the file's directory is missing or has no write permission bit (checked before long runs).
void check_calibration_writable(const std::string& path);

// The second shipped model beside a primary one (models/flops-b.gguf next to models/flops-a.gguf),
// "" when absent or when it is the primary itself.
std::string sibling_model(const std::string& primary_path, const std::string& name = "flops-b.gguf");

struct SentenceVerdict {
  Span span;
  int n_tokens = 0;
  double log_ppl = 0;
  double score = 0;    // on the document's scale (see decide)
  std::string lean;    // "ai", "human" or "neutral" (between thresholds, or too short)
};

struct Detection {
  Method method = Method::Ppl;
  double score = std::numeric_limits<double>::quiet_NaN();
  Calibration cal;
  std::string verdict;  // "likely AI", "likely human", "mixed", "no verdict"
  std::string reason;   // one line: why this verdict (or why none)
  bool low_confidence = false;
  std::vector<std::string> warnings;
  std::vector<SentenceVerdict> sentences;
  int n_tokens = 0;
  double log_ppl = 0, burstiness = 0;
};

// The verdict: "no verdict" under min_tokens scored tokens; else "likely AI" on the AI side of
// cal.threshold, "likely human" on the human side of cal.threshold_human, "mixed" between.
// Sentence scores are what the document score would be if every token were like the sentence's
// (ppl: P(AI) from the sentence's log-ppl and the document's burstiness; fast-detectgpt: the
// sentence's discrepancy scaled by sqrt(N_doc / N_sentence); binoculars: the sentence's ratio).
// Low confidence: document perplexity far above the calibration range (or, uncalibrated, above
// 60% of log(vocabulary)), or more than 10% unknown/byte-fallback tokens.
Detection decide(Method m, const Analysis& a, const Calibration& cal, int min_tokens = 64, int min_sentence_tokens = 8);

}  // namespace flops::detect
