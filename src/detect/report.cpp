#include "detect/report.h"

#include <cmath>
#include <fmt/format.h>

namespace flops::detect {

namespace {
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
std::string piece(std::string_view text, Span s) { return std::string(text.substr(s.begin, s.end - s.begin)); }

// One line of a sentence for plain output: whitespace runs folded, long ones shortened.
std::string one_line(std::string_view s, size_t max_bytes) {
  std::string r;
  bool sp = false;
  for (char c : s) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      sp = true;
      continue;
    }
    if (sp && !r.empty()) r += ' ';
    sp = false;
    r += c;
  }
  if (r.size() > max_bytes) {
    size_t cut = max_bytes;
    while (cut > 0 && ((unsigned char)r[cut] & 0xC0) == 0x80) cut--;  // not inside a UTF-8 sequence
    r = r.substr(0, cut) + "...";
  }
  return r;
}
}  // namespace

nlohmann::json to_json(const Detection& d, std::string_view text) {
  nlohmann::json j;
  j["method"] = method_name(d.method);
  j["verdict"] = d.verdict;
  j["reason"] = d.reason;
  j["score"] = num(d.score);
  j["higher_is_ai"] = higher_is_ai(d.method);
  j["threshold"] = num(d.cal.threshold);
  j["threshold_human"] = num(d.cal.threshold_human);
  j["calibrated"] = d.cal.calibrated;
  j["target_fpr"] = d.cal.calibrated ? num(d.cal.target_fpr) : nlohmann::json(nullptr);
  j["calibration_fpr"] = num(d.cal.fpr);
  j["calibration_tpr"] = num(d.cal.tpr);
  j["calibration_auroc"] = num(d.cal.auroc);
  j["calibration_n_human"] = d.cal.n_human;
  j["calibration_n_ai"] = d.cal.n_ai;
  if (!d.cal.dataset.empty()) j["calibration_dataset"] = d.cal.dataset;
  j["low_confidence"] = d.low_confidence;
  j["warnings"] = d.warnings;
  j["n_tokens"] = d.n_tokens;
  j["perplexity"] = num(std::exp(d.log_ppl));
  j["log_perplexity"] = num(d.log_ppl);
  j["burstiness"] = num(d.burstiness);
  nlohmann::json ss = nlohmann::json::array();
  for (const SentenceVerdict& s : d.sentences)
    ss.push_back({{"begin", s.span.begin}, {"end", s.span.end}, {"text", piece(text, s.span)}, {"n_tokens", s.n_tokens},
                  {"perplexity", num(std::exp(s.log_ppl))}, {"score", num(s.score)}, {"lean", s.lean}});
  j["sentences"] = ss;
  return j;
}

nlohmann::json analysis_json(const Analysis& a, const Tokenizer& tok, std::string_view text, bool with_tokens) {
  nlohmann::json j;
  j["n_tokens"] = a.tokens.size();
  j["n_scored"] = a.n_scored();
  j["perplexity"] = num(a.n_scored() ? std::exp(a.log_ppl) : NAN);
  j["log_perplexity"] = num(a.n_scored() ? a.log_ppl : NAN);
  j["burstiness"] = num(a.burstiness);
  j["burstiness_sentences"] = a.n_burst_sentences;
  j["truncated"] = a.truncated;
  j["window"] = a.n_ctx;
  nlohmann::json ss = nlohmann::json::array();
  for (const SentenceStat& s : a.sentences)
    ss.push_back({{"begin", s.span.begin}, {"end", s.span.end}, {"text", piece(text, s.span)}, {"n_tokens", s.n_tokens},
                  {"perplexity", num(std::exp(s.log_ppl()))}, {"log_perplexity", num(s.log_ppl())}});
  j["sentences"] = ss;
  if (with_tokens) {
    nlohmann::json ts = nlohmann::json::array();
    for (const TokenStat& t : a.stats) {
      nlohmann::json e = {{"id", t.token},        {"begin", t.span.begin}, {"end", t.span.end},
                          {"logprob", t.logp},    {"rank", t.rank},        {"entropy", t.entropy}};
      // The piece as text when it is whole UTF-8, else its bytes escaped by the JSON writer's replacement.
      e["piece"] = tok.token_to_piece(t.token);
      ts.push_back(std::move(e));
    }
    j["tokens"] = ts;
  }
  return j;
}

std::string render_verdict(const Detection& d) {
  std::string r;
  const bool hi = higher_is_ai(d.method);
  r += fmt::format("Verdict: {}{}\n", d.verdict, d.low_confidence ? " (low confidence)" : "");
  r += fmt::format("  {}\n", d.reason);
  if (std::isfinite(d.score)) {
    if (d.cal.threshold_human == d.cal.threshold)
      r += fmt::format("  method {}: score {:.4f}; likely AI when {} {:.4f}, else likely human\n", method_name(d.method),
                       d.score, hi ? ">=" : "<=", d.cal.threshold);
    else
      r += fmt::format("  method {}: score {:.4f}; likely AI when {} {:.4f}, likely human when {} {:.4f}, mixed between\n",
                       method_name(d.method), d.score, hi ? ">=" : "<=", d.cal.threshold, hi ? "<" : ">",
                       d.cal.threshold_human);
    if (d.cal.calibrated)
      r += fmt::format(
          "  calibrated for a false-positive rate of {:.1f}%: {:.1f}% of {} human texts flagged, {:.1f}% of {} AI texts "
          "caught{}\n",
          100 * d.cal.target_fpr, 100 * d.cal.fpr, d.cal.n_human, 100 * d.cal.tpr, d.cal.n_ai,
          d.cal.dataset.empty() ? "" : " (" + d.cal.dataset + ")");
  }
  r += fmt::format("  {} tokens scored, perplexity {:.2f}, burstiness {:.3f}\n", d.n_tokens, std::exp(d.log_ppl),
                   d.burstiness);
  for (const std::string& w : d.warnings) r += fmt::format("  warning: {}\n", w);
  return r;
}

std::string render_sentences(const Detection& d, std::string_view text, bool color) {
  std::string r;
  if (color) {
    r += "Sentences: \x1b[31mAI-leaning\x1b[0m, \x1b[32mhuman-leaning\x1b[0m, plain = neutral or too short\n\n";
    size_t pos = d.sentences.empty() ? 0 : d.sentences.front().span.begin;
    for (const SentenceVerdict& s : d.sentences) {
      if (s.span.begin > pos) r += std::string(text.substr(pos, s.span.begin - pos));
      const char* on = s.lean == "ai" ? "\x1b[1;31m" : s.lean == "human" ? "\x1b[32m" : "";
      r += on;
      r += piece(text, s.span);
      if (*on) r += "\x1b[0m";
      pos = s.span.end;
    }
    r += "\n";
    return r;
  }
  r += "Sentences (lean, score, tokens, perplexity):\n";
  for (const SentenceVerdict& s : d.sentences)
    r += fmt::format("  {:<7} {:>9.3f} {:>5} {:>9.2f}  {}\n", s.lean, s.score, s.n_tokens, std::exp(s.log_ppl),
                     one_line(piece(text, s.span), 100));
  return r;
}

}  // namespace flops::detect
