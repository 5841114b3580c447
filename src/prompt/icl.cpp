#include "prompt/icl.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <set>
#include <sys/resource.h>

#include "core/error.h"
#include "core/flop_counter.h"
#include "eval/score.h"
#include "model/forward.h"

namespace flops::prompt {

Packing pack_greedy(const std::vector<int>& lengths, int max_tokens, int overhead) {
  Packing p;
  int used = 0;
  for (int i = 0; i < (int)lengths.size(); i++) {
    int len = lengths[i];
    if (len + overhead > max_tokens) {
      p.skipped.push_back(i);
      continue;
    }
    if (p.groups.empty() || used + len > max_tokens) {
      p.groups.emplace_back();
      used = overhead;
    }
    p.groups.back().push_back(i);
    used += len;
  }
  return p;
}

Packing split_groups(int n, int n_groups) {
  if (n_groups <= 0) fail("number of groups must be positive, got {}", n_groups);
  if (n_groups > n) fail("cannot split {} demonstrations into {} groups", n, n_groups);
  Packing p;
  p.groups.resize(n_groups);
  for (int g = 0; g < n_groups; g++)
    for (int i = (int)((int64_t)g * n / n_groups); i < (int)((int64_t)(g + 1) * n / n_groups); i++) p.groups[g].push_back(i);
  return p;
}

std::vector<int32_t> right_aligned_positions(int len, int end_pos) {
  std::vector<int32_t> p(len);
  for (int i = 0; i < len; i++) p[i] = end_pos - len + 1 + i;
  return p;
}

DemoCache encode_structured(const Model& m, const std::vector<std::vector<int32_t>>& groups, float test_scale,
                            int extra_slots) {
  DemoCache dc;
  dc.structured = true;
  int total = 0, longest = 0;
  for (auto& g : groups) {
    if (g.empty()) fail("a demonstration group is empty");
    total += (int)g.size();
    longest = std::max(longest, (int)g.size());
  }
  dc.kv = make_kv_cache(m, std::max(1, total + extra_slots));
  dc.end_pos = longest - 1;
  std::vector<float> logits;
  for (auto& g : groups) {
    Batch b;
    b.tokens = g;
    b.pos = right_aligned_positions((int)g.size(), dc.end_pos);
    b.segment = dc.kv.new_segment(1.0f);
    b.see_all = false;  // and no see_segments: a group attends only to itself
    b.all_logits = false;
    forward(m, dc.kv, b, logits);
    dc.group_segments.push_back(b.segment);
    dc.group_lengths.push_back((int)g.size());
  }
  dc.test_scale = test_scale;
  dc.test_segment = dc.kv.new_segment(test_scale);
  dc.n_slots = dc.kv.n;
  return dc;
}

DemoCache encode_conventional(const Model& m, const std::vector<int32_t>& prompt, int extra_slots) {
  DemoCache dc;
  dc.kv = make_kv_cache(m, std::max(1, (int)prompt.size() + extra_slots));
  if (!prompt.empty()) {
    std::vector<float> logits;
    forward(m, dc.kv, make_batch(prompt, false), logits);
    dc.group_lengths.push_back((int)prompt.size());
  }
  dc.end_pos = (int)prompt.size() - 1;
  dc.n_slots = dc.kv.n;
  return dc;
}

void append_test(const Model& m, DemoCache& dc, const std::vector<int32_t>& tokens, std::vector<float>& logits,
                 bool all_logits) {
  if (!dc.structured) {
    forward(m, dc.kv, make_batch(tokens, all_logits), logits);
    return;
  }
  Batch b;
  b.tokens = tokens;
  int first = dc.end_pos + 1 + (dc.kv.n - dc.n_slots);
  b.pos.resize(tokens.size());
  for (size_t i = 0; i < tokens.size(); i++) b.pos[i] = first + (int)i;
  b.segment = dc.test_segment;
  b.see_all = true;
  b.all_logits = all_logits;
  forward(m, dc.kv, b, logits);
}

void reset_test(DemoCache& dc) { dc.kv.truncate(dc.n_slots); }

std::vector<double> score_choices(const Model& m, DemoCache& dc, const std::vector<int32_t>& context,
                                  const std::vector<std::vector<int32_t>>& continuations) {
  const int V = m.cfg.n_vocab;
  reset_test(dc);
  std::vector<float> logits;
  append_test(m, dc, context, logits, false);
  const std::vector<float> last(logits.begin(), logits.begin() + V);
  const int after = dc.kv.n;
  std::vector<double> out;
  for (auto& c : continuations) {
    if (c.empty()) fail("a label has no tokens after the context");
    double lp = score_logits(last.data(), V, c[0]).logprob;
    if (c.size() > 1) {
      append_test(m, dc, std::vector<int32_t>(c.begin(), c.end() - 1), logits, true);
      for (size_t i = 1; i < c.size(); i++) lp += score_logits(logits.data() + (i - 1) * V, V, c[i]).logprob;
      dc.kv.truncate(after);
    }
    out.push_back(lp);
  }
  reset_test(dc);
  return out;
}

Task make_task(const Tokenizer& tok, const std::vector<Example>& demos, const std::vector<Example>& tests,
               const Template& t, const LabelMap& labels, const std::string& prefix) {
  Task task;
  task.label_names = labels.names;
  if (tok.add_bos_default() && tok.bos() >= 0) task.prefix.push_back(tok.bos());
  if (!prefix.empty()) {
    auto p = tok.encode(prefix, false);
    task.prefix.insert(task.prefix.end(), p.begin(), p.end());
  }
  for (size_t i = 0; i < demos.size(); i++) {
    int c = labels.index(demos[i].label);
    if (c < 0) fail("demonstration {} has label '{}', which is not among the labels", i + 1, demos[i].label);
    task.demos.push_back(tok.encode(render_demo(t, demos[i], labels.names[c]), false));
  }
  for (size_t i = 0; i < tests.size(); i++) {
    if (tests[i].label.empty()) fail("test example {} has no label", i + 1);
    int c = labels.index(tests[i].label);
    if (c < 0) fail("test example {} has label '{}', which is not among the labels", i + 1, tests[i].label);
    task.gold.push_back(c);
    std::string ctx = render_context(t, tests[i]);
    size_t n_sp = 0;
    while (n_sp < ctx.size() && ctx[ctx.size() - 1 - n_sp] == ' ') n_sp++;
    std::string moved = ctx.substr(ctx.size() - n_sp);
    ctx.resize(ctx.size() - n_sp);
    if (ctx.empty()) fail("test example {} renders to an empty context", i + 1);
    std::vector<int32_t> ce = tok.encode(ctx, false);
    std::vector<std::vector<int32_t>> conts;
    std::vector<int> bytes;
    for (auto& name : labels.names) {
      std::string cont = moved + name;
      std::vector<int32_t> whole = tok.encode(ctx + cont, false);
      std::vector<int32_t> ct(whole.begin() + std::min(whole.size(), ce.size()), whole.end());
      if (ct.empty()) fail("label '{}' adds no tokens after test example {}", name, i + 1);
      conts.push_back(std::move(ct));
      bytes.push_back((int)cont.size());
    }
    task.contexts.push_back(std::move(ce));
    task.conts.push_back(std::move(conts));
    task.cont_bytes.push_back(std::move(bytes));
  }
  return task;
}

Method parse_method(const std::string& s) {
  if (s == "structured") return Method::Structured;
  if (s == "conventional") return Method::Conventional;
  fail("unknown method '{}' (expected structured or conventional)", s);
}

const char* method_name(Method m) { return m == Method::Structured ? "structured" : "conventional"; }

double accuracy(const std::vector<int>& gold, const std::vector<int>& pred) {
  if (gold.empty()) return 0;
  int ok = 0;
  for (size_t i = 0; i < gold.size(); i++) ok += gold[i] == pred[i];
  return (double)ok / gold.size();
}

double macro_f1(const std::vector<int>& gold, const std::vector<int>& pred) {
  std::set<int> classes(gold.begin(), gold.end());
  classes.insert(pred.begin(), pred.end());
  if (classes.empty()) return 0;
  double sum = 0;
  for (int c : classes) {
    int tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < gold.size(); i++) {
      tp += gold[i] == c && pred[i] == c;
      fp += gold[i] != c && pred[i] == c;
      fn += gold[i] == c && pred[i] != c;
    }
    sum += tp == 0 ? 0.0 : 2.0 * tp / (2.0 * tp + fp + fn);
  }
  return sum / classes.size();
}

namespace {

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Fisher-Yates with our own generator, so a seed draws the same demonstrations everywhere.
std::vector<int> shuffled(int n, uint64_t seed) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), 0);
  uint64_t s = seed;
  for (int i = n - 1; i > 0; i--) std::swap(v[i], v[splitmix(s) % (uint64_t)(i + 1)]);
  return v;
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int argmax(const std::vector<double>& v) { return (int)(std::max_element(v.begin(), v.end()) - v.begin()); }

}  // namespace

IclResult run_icl(const Model& m, const Task& task, const IclConfig& cfg, const std::function<void(int, int)>& progress) {
  IclResult r;
  r.method = cfg.method;
  const int pool = (int)task.demos.size();
  const int n = cfg.n_demos < 0 ? pool : cfg.n_demos;
  if (n > pool) fail("--n-demos {} exceeds the {} demonstrations available", n, pool);
  r.n_demos_requested = n;
  r.n_ctx = cfg.n_ctx > 0 ? cfg.n_ctx : m.cfg.n_ctx_train;
  if (r.n_ctx <= 0) fail("the model does not say its context size: pass a context size");
  int room = 0;
  for (size_t i = 0; i < task.contexts.size(); i++) {
    int longest = 0;
    for (auto& c : task.conts[i]) longest = std::max(longest, (int)c.size());
    room = std::max(room, (int)task.contexts[i].size() + longest);
  }
  const int prefix_len = (int)task.prefix.size();
  const int budget = r.n_ctx - room;
  if (budget < prefix_len)
    fail("the longest test input and label take {} tokens, leaving no room in the {}-token context", room, r.n_ctx);

  std::vector<int> order = shuffled(pool, cfg.seed);
  order.resize(n);
  std::vector<std::vector<int32_t>> groups;
  auto build = [&](const std::vector<int>& members) {
    std::vector<int32_t> g = task.prefix;
    for (int k : members) g.insert(g.end(), task.demos[order[k]].begin(), task.demos[order[k]].end());
    r.n_demos_used += (int)members.size();
    return g;
  };
  if (cfg.method == Method::Conventional) {
    // As many demonstrations as fit, in the drawn order.
    int used = prefix_len, k = 0;
    while (k < n && used + (int)task.demos[order[k]].size() <= budget) used += (int)task.demos[order[k++]].size();
    std::vector<int> members(k);
    std::iota(members.begin(), members.end(), 0);
    if (prefix_len + k > 0 && used > 0) groups.push_back(build(members));
  } else {
    int L = cfg.group_tokens > 0 ? cfg.group_tokens : budget;
    if (L > budget)
      fail("--group-tokens {} leaves no room for the longest test input ({} tokens) in the {}-token context", L, room,
           r.n_ctx);
    std::vector<int> lengths(n);
    for (int k = 0; k < n; k++) lengths[k] = (int)task.demos[order[k]].size();
    Packing p;
    if (cfg.n_groups > 0) {
      p = split_groups(n, cfg.n_groups);
      for (auto& g : p.groups) {
        int len = prefix_len;
        for (int k : g) len += lengths[k];
        if (len > L) fail("a group of {} tokens does not fit in {} tokens: use more groups", len, L);
      }
    } else {
      p = pack_greedy(lengths, L, prefix_len);
    }
    r.n_skipped = (int)p.skipped.size();
    for (auto& g : p.groups) groups.push_back(build(g));
    if (groups.empty() && prefix_len > 0) groups.push_back(task.prefix);
  }
  r.n_groups = cfg.method == Method::Structured ? (int)groups.size() : (groups.empty() ? 0 : 1);
  for (auto& g : groups) {
    r.max_group_tokens = std::max(r.max_group_tokens, (int)g.size());
    r.demo_tokens += (int)g.size();
  }

  counter::Scope enc_scope;
  double t0 = now();
  DemoCache dc;
  if (cfg.method == Method::Structured) {
    float scale = cfg.test_scale > 0 ? cfg.test_scale : (float)std::max(1, (int)groups.size());
    dc = encode_structured(m, groups, scale, room);
  } else {
    dc = encode_conventional(m, groups.empty() ? std::vector<int32_t>{} : groups[0], room);
  }
  r.cost.seconds_encode = now() - t0;
  r.cost.flops_encode = enc_scope.elapsed().model();
  r.test_scale = dc.test_scale;
  r.end_pos = dc.end_pos;
  r.cost.kv_bytes = dc.kv.bytes();

  counter::Scope test_scope;
  t0 = now();
  const int T = (int)task.contexts.size();
  for (int i = 0; i < T; i++) {
    std::vector<double> lp = score_choices(m, dc, task.contexts[i], task.conts[i]);
    std::vector<double> norm(lp.size());
    for (size_t c = 0; c < lp.size(); c++) norm[c] = lp[c] / std::max(1, task.cont_bytes[i][c]);
    r.gold.push_back(task.gold[i]);
    r.pred.push_back(argmax(lp));
    r.pred_norm.push_back(argmax(norm));
    r.logprob.push_back(std::move(lp));
    if (progress) progress(i + 1, T);
  }
  r.cost.seconds_test = now() - t0;
  r.cost.flops_test = test_scope.elapsed().model();
  r.accuracy = accuracy(r.gold, r.pred);
  r.accuracy_norm = accuracy(r.gold, r.pred_norm);
  r.macro_f1 = macro_f1(r.gold, r.pred);
  r.macro_f1_norm = macro_f1(r.gold, r.pred_norm);
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  r.cost.peak_rss_bytes = (uint64_t)ru.ru_maxrss * 1024;
  return r;
}

}  // namespace flops::prompt
