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
    kv = make_kv_cache(m, n_ctx);
  }

  std::string describe() const override { return "model " + std::filesystem::path(path).filename().string(); }
  std::string cache_id() const override {
    std::error_code ec;
    // Results of a cache of other types differ in the last digits: not the same backend.
    std::string types;
    if (m.kv_types.k != DType::F32 || m.kv_types.v != DType::F32)
      types = fmt::format(":kv-{}-{}", kv_cache_type_name(m.kv_types.k), kv_cache_type_name(m.kv_types.v));
    return fmt::format("local:{}:{}:{}{}", std::filesystem::absolute(path, ec).string(), m.file_size, n_ctx, types);
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

  // A cache of `capacity` slots holding the first `n` slots of `src` (a choice's own copy of the
  // question's context).
  KVCache copy_prefix(const KVCache& src, int n, int capacity) const {
    KVCache c = make_kv_cache(m, capacity);
    c.copy_prefix(src, n);
    return c;
  }

  struct Run {
    size_t first = 0, end = 0;  // requests [first, end) share the context
    std::vector<int32_t> ctx;
    std::vector<std::vector<int32_t>> conts;
  };

  std::vector<LLResult> loglikelihood(const std::vector<LLRequest>& reqs) override {
    std::vector<LLResult> out(reqs.size());
    std::vector<Run> shared;
    for (size_t i = 0; i < reqs.size();) {
      // The run of requests with the same context shares its prefix pass.
      Run run;
      run.first = i;
      size_t j = i;
      while (j < reqs.size() && reqs[j].context == reqs[i].context) j++;
      run.end = j;
      std::string ctx_text = reqs[i].context;
      std::vector<std::string> conts;
      for (size_t k = i; k < j; k++) {
        std::string c = reqs[i].context, cont = reqs[k].continuation;
        move_trailing_space(c, cont);
        conts.push_back(cont);
        ctx_text = c;
      }
      if (ctx_text.empty()) {
        run.ctx = {prefix_token()};
        for (auto& c : conts) run.conts.push_back(m.tok.encode(c, false));
      } else {
        run.ctx = encode(ctx_text);
        for (auto& c : conts) {
          std::vector<int32_t> whole = encode(ctx_text + c);
          run.conts.emplace_back(whole.size() > run.ctx.size() ? whole.begin() + run.ctx.size() : whole.end(), whole.end());
        }
      }
      bool fits = true;
      for (auto& c : run.conts) fits = fits && run.ctx.size() + c.size() <= (size_t)n_ctx + 1;
      if (fits) {
        shared.push_back(std::move(run));
      } else {
        for (size_t k = i; k < j; k++) out[k] = run_alone(run.ctx, run.conts[k - i]);
      }
      i = j;
    }
    // Several questions in one pass (their matrix products together), at most kMaxSeqs sequences each.
    constexpr size_t kMaxSeqs = 32;
    for (size_t s = 0; s < shared.size();) {
      size_t e = s, seqs = 0;
      while (e < shared.size() && (e == s || seqs + 1 + shared[e].conts.size() <= kMaxSeqs)) seqs += 1 + shared[e].conts.size(), e++;
      // 1. The contexts, each in its own cache: the last row predicts each continuation's first token.
      std::vector<KVCache> ctx_kv;
      std::vector<SeqInput> in;
      for (size_t r = s; r < e; r++) ctx_kv.push_back(make_kv_cache(m, (int)shared[r].ctx.size()));
      for (size_t r = s; r < e; r++) in.push_back({&ctx_kv[r - s], shared[r].ctx, false});
      std::vector<std::vector<float>> first;
      forward_multi(m, in, first);
      // 2. Every continuation (but its last token) after its own copy of its context.
      std::vector<KVCache> cont_kv;
      std::vector<std::pair<size_t, size_t>> who;  // (run, choice)
      for (size_t r = s; r < e; r++)
        for (size_t k = 0; k < shared[r].conts.size(); k++)
          if (shared[r].conts[k].size() > 1) who.push_back({r, k});
      cont_kv.reserve(who.size());
      in.clear();
      for (auto [r, k] : who) {
        const auto& c = shared[r].conts[k];
        cont_kv.push_back(copy_prefix(ctx_kv[r - s], (int)shared[r].ctx.size(), (int)(shared[r].ctx.size() + c.size() - 1)));
        in.push_back({&cont_kv.back(), std::vector<int32_t>(c.begin(), c.end() - 1), true});
      }
      std::vector<std::vector<float>> rest;
      if (!in.empty()) forward_multi(m, in, rest);
      size_t w = 0;
      for (size_t r = s; r < e; r++) {
        const Run& run = shared[r];
        for (size_t k = 0; k < run.conts.size(); k++) {
          const auto& c = run.conts[k];
          LLResult& res = out[run.first + k];
          res.prompt_tokens = (int64_t)(k == 0 ? run.ctx.size() : 0) + (int64_t)(c.empty() ? 0 : c.size() - 1);
          if (c.empty()) {
            res.is_greedy = true;
            continue;
          }
          const float* more = c.size() > 1 ? rest[w++].data() : nullptr;
          score(first[r - s].data(), more, c, res);
        }
      }
      s = e;
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
      // The harness keeps max_length - max_gen_toks tokens of the prompt; in a small window (256
      // positions against max_gen_toks 512) that would leave nothing, so the answer's budget is
      // capped at half the window and the prompt keeps the other half at least.
      int gen_budget = std::min(q.max_gen_toks, std::max(1, n_ctx / 2));
      int budget = std::max(1, n_ctx - gen_budget);
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
      GenerateResult r = flops::generate(m, prompt, gen_budget, n_ctx, sp, add_bos, [&](const std::string& piece) {
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
