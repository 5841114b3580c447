// The local backend: a GGUF model run in this process.
//
// Log-likelihoods as the harness's HF backend computes them: the context is encoded alone
// (ctx), the context and continuation together (whole), and the continuation's tokens are
// whole[len(ctx):]; the model reads ctx + continuation (all but its last token) and the
// continuation's log-probabilities are summed. Choices of one question share the context, so
// the context runs once and each choice continues from its KV cache. A request longer than the
// window keeps its last n_ctx + 1 tokens (the harness's left truncation), scored on its own.
// Unlike the HF backend (which adds no BOS by default), the model's own BOS rule applies, as in
// llama.cpp and `flops serve`, so that local and endpoint answers are the same.
#include <filesystem>

#include "core/error.h"
#include "eval/score.h"
#include "harness/backend.h"
#include "model/forward.h"
#include "model/generate.h"

namespace flops::harness {

void move_trailing_space(std::string& context, std::string& continuation) {
  size_t keep = context.size();
  while (keep > 0 && (context[keep - 1] == ' ' || context[keep - 1] == '\t')) keep--;
  if (keep == context.size()) return;
  continuation = context.substr(keep) + continuation;
  context.resize(keep);
}

std::string cut_at_stop(const std::string& text, const std::vector<std::string>& until, bool* stopped) {
  size_t cut = std::string::npos;
  for (const auto& u : until)
    if (!u.empty()) cut = std::min(cut, text.find(u));
  if (stopped) *stopped = cut != std::string::npos;
  return cut == std::string::npos ? text : text.substr(0, cut);
}

namespace {

struct LocalBackend : Backend {
  const Model& m;
  std::string path;
  int n_ctx;
  KVCache kv;
  std::vector<float> logits;

  LocalBackend(const Model& model, const std::string& p, const LocalOptions& o) : m(model), path(p) {
    n_ctx = o.n_ctx > 0 ? o.n_ctx : (m.cfg.n_ctx_train > 0 ? m.cfg.n_ctx_train : 2048);
    kv = make_kv_cache(m.cfg, n_ctx);
  }

  std::string describe() const override { return "model " + std::filesystem::path(path).filename().string(); }
  std::string cache_id() const override {
    std::error_code ec;
    return fmt::format("local:{}:{}:{}", std::filesystem::absolute(path, ec).string(), m.file_size, n_ctx);
  }
  bool local_compute() const override { return true; }

  int32_t prefix_token() const {
    if (m.tok.bos() >= 0) return m.tok.bos();
    if (m.tok.eos() >= 0) return m.tok.eos();
    fail("the model has neither BOS nor EOS: an empty context has nothing to condition on");
  }

  std::vector<int32_t> encode(const std::string& s) const { return m.tok.encode(s, m.tok.add_bos_default()); }

  // Sums log-probabilities of `cont` given that row `row0` of `logits` predicts cont[0] and
  // rows after it predict the rest (rows_for_rest points at the rows of cont[1..]).
  void score(const float* first_row, const float* rest_rows, const std::vector<int32_t>& cont, LLResult& r) const {
    const int V = m.cfg.n_vocab;
    r.logprob = 0;
    r.is_greedy = true;
    for (size_t j = 0; j < cont.size(); j++) {
      const float* row = j == 0 ? first_row : rest_rows + (j - 1) * (size_t)V;
      TokenScore s = score_logits(row, V, cont[j]);
      r.logprob += s.logprob;
      r.is_greedy = r.is_greedy && s.rank == 1;
    }
  }

  LLResult run_alone(const std::vector<int32_t>& ctx, const std::vector<int32_t>& cont) {
    std::vector<int32_t> all = ctx;
    all.insert(all.end(), cont.begin(), cont.end());
    LLResult r;
    size_t keep = std::min(all.size(), (size_t)n_ctx + 1);
    r.truncated = keep < all.size();
    std::vector<int32_t> inp(all.end() - keep, all.end() - 1);
    size_t n_cont = std::min(cont.size(), inp.size());
    std::vector<int32_t> scored(cont.end() - n_cont, cont.end());
    kv.clear();
    forward(m, kv, make_batch(inp, true), logits);
    const int V = m.cfg.n_vocab;
    const float* first = logits.data() + (inp.size() - n_cont) * (size_t)V;
    score(first, first + V, scored, r);
    r.prompt_tokens = (int64_t)inp.size();
    return r;
  }

  std::vector<LLResult> loglikelihood(const std::vector<LLRequest>& reqs) override {
    std::vector<LLResult> out(reqs.size());
    size_t i = 0;
    while (i < reqs.size()) {
      // The run of requests with the same context shares its prefix pass.
      size_t j = i;
      while (j < reqs.size() && reqs[j].context == reqs[i].context) j++;
      std::string ctx_text = reqs[i].context;
      std::vector<std::string> conts;
      for (size_t k = i; k < j; k++) {
        std::string c = ctx_text, cont = reqs[k].continuation;
        move_trailing_space(c, cont);
        conts.push_back(cont);
        if (k == i) ctx_text = c;
      }
      std::vector<int32_t> ctx;
      std::vector<std::vector<int32_t>> cont_tok;
      if (ctx_text.empty()) {
        ctx = {prefix_token()};
        for (auto& c : conts) cont_tok.push_back(m.tok.encode(c, false));
      } else {
        ctx = encode(ctx_text);
        for (auto& c : conts) {
          std::vector<int32_t> whole = encode(ctx_text + c);
          cont_tok.emplace_back(whole.size() > ctx.size() ? whole.begin() + ctx.size() : whole.end(), whole.end());
        }
      }
      bool shared = true;
      for (auto& c : cont_tok) shared = shared && ctx.size() + c.size() <= (size_t)n_ctx + 1 && ctx.size() <= (size_t)n_ctx;
      if (!shared) {
        for (size_t k = i; k < j; k++) out[k] = run_alone(ctx, cont_tok[k - i]);
        i = j;
        continue;
      }
      kv.clear();
      forward(m, kv, make_batch(ctx, false), logits);
      std::vector<float> first(logits.begin(), logits.begin() + m.cfg.n_vocab);
      const int n_prefix = kv.n;
      std::vector<float> rest;
      for (size_t k = i; k < j; k++) {
        const auto& c = cont_tok[k - i];
        LLResult& r = out[k];
        r.prompt_tokens = (int64_t)(k == i ? ctx.size() : 0) + (int64_t)(c.empty() ? 0 : c.size() - 1);
        if (c.empty()) {
          r.is_greedy = true;
          continue;
        }
        kv.truncate(n_prefix);
        if (c.size() > 1) forward(m, kv, make_batch(std::vector<int32_t>(c.begin(), c.end() - 1), true), rest);
        score(first.data(), rest.data(), c, r);
      }
      i = j;
    }
    return out;
  }

  std::vector<GenResult> generate(const std::vector<GenRequest>& reqs) override {
    std::vector<GenResult> out;
    SamplingParams sp;
    sp.temp = 0;  // greedy
    for (const auto& q : reqs) {
      GenResult g;
      std::string prompt = q.context;
      bool add_bos = m.tok.add_bos_default();
      int budget = std::max(1, n_ctx - q.max_gen_toks);
      std::vector<int32_t> toks = encode(prompt);
      if ((int)toks.size() > budget) {
        // The harness keeps the last tokens that leave room for the answer.
        std::vector<int32_t> tail(toks.end() - budget, toks.end());
        prompt = m.tok.decode(tail);
        add_bos = false;
        g.truncated = true;
      }
      std::string text;
      bool stopped = false;
      GenerateResult r = flops::generate(m, prompt, q.max_gen_toks, n_ctx, sp, add_bos, [&](const std::string& piece) {
        text += piece;
        cut_at_stop(text, q.until, &stopped);
        return !stopped;
      });
      g.text = cut_at_stop(r.text, q.until);
      g.prompt_tokens = (int64_t)r.prompt_tokens.size();
      g.gen_tokens = (int64_t)r.tokens.size();
      out.push_back(std::move(g));
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<Backend> make_local_backend(const Model& m, const std::string& path, const LocalOptions& o) {
  return std::make_unique<LocalBackend>(m, path, o);
}

}  // namespace flops::harness
