#include "harness/runner.h"

#include <cmath>
#include <map>

#include "core/error.h"
#include "core/progress.h"
#include "cost/receipt.h"
#include "harness/metrics.h"

namespace flops::harness {

namespace {

// Per-document scores: metric name (with filter) -> value, plus what the sample log shows.
struct Scored {
  std::map<std::pair<std::string, std::string>, double> items;  // (metric, filter) -> score
  int gold = 0, pred = 0;                                       // for binary f1
  double ll = 0;                                                 // loglikelihood tasks
};

}  // namespace

const MetricValue* find_metric(const std::vector<MetricValue>& ms, const std::string& metric, const std::string& filter) {
  for (const auto& m : ms)
    if (m.metric == metric && m.filter == filter) return &m;
  return nullptr;
}

TaskResult run_task(const PreparedTask& p, Backend& b, RequestCache* cache, const RunOptions& o) {
  const TaskConfig& c = p.cfg;
  TaskResult res;
  res.name = c.name;
  res.alias = c.alias;
  res.output_type = output_type_name(c.output_type);
  res.split = p.eval_split;
  res.backend = b.describe();
  res.n = p.inst.size();
  res.n_docs = p.n_docs;
  res.num_fewshot = p.num_fewshot;
  const std::string cid = b.cache_id();
  const bool use_cache = cache && !cid.empty();
  const int bs = std::max(1, o.batch_size);

  cost::MeterReading start = cost::read_meter();
  std::vector<std::vector<LLResult>> ll(p.inst.size());
  std::vector<GenResult> gen(p.inst.size());

  if (c.output_type == OutputType::GenerateUntil) {
    std::vector<GenRequest> reqs;
    for (const auto& in : p.inst) reqs.push_back({&in, in.context, c.gen.until, c.gen.max_gen_toks});
    Progress bar(c.name, (int64_t)reqs.size(), "q", o.progress);
    std::vector<size_t> todo;
    for (size_t i = 0; i < reqs.size(); i++) {
      if (use_cache)
        if (const auto* j = cache->find(gen_key(cid, reqs[i]))) {
          gen[i] = gen_from_json(*j);
          gen[i].flops = gen[i].joules = 0;  // answered before: nothing spent now
          res.cached++;
          continue;
        }
      todo.push_back(i);
    }
    size_t done = reqs.size() - todo.size();
    for (size_t s = 0; s < todo.size(); s += bs) {
      std::vector<GenRequest> batch;
      for (size_t k = s; k < std::min(todo.size(), s + bs); k++) batch.push_back(reqs[todo[k]]);
      std::vector<GenResult> r = b.generate(batch);
      for (size_t k = 0; k < batch.size(); k++) {
        gen[todo[s + k]] = r[k];
        if (use_cache) cache->put(gen_key(cid, batch[k]), to_json(r[k]));
      }
      if (use_cache) cache->flush();
      done += batch.size();
      bar.update((int64_t)done);
    }
    bar.finish();
    res.requests = (int64_t)reqs.size();
  } else {
    std::vector<LLRequest> reqs;
    std::vector<std::pair<size_t, size_t>> at;  // (instance, continuation)
    for (size_t i = 0; i < p.inst.size(); i++) {
      ll[i].resize(p.inst[i].continuations.size());
      for (size_t k = 0; k < p.inst[i].continuations.size(); k++) {
        reqs.push_back({&p.inst[i], (int)k, p.inst[i].context, p.inst[i].continuations[k]});
        at.push_back({i, k});
      }
    }
    Progress bar(c.name, (int64_t)reqs.size(), "req", o.progress);
    std::vector<size_t> todo;
    for (size_t r = 0; r < reqs.size(); r++) {
      if (use_cache)
        if (const auto* j = cache->find(ll_key(cid, reqs[r]))) {
          LLResult& c = ll[at[r].first][at[r].second];
          c = ll_from_json(*j);
          c.flops = c.joules = 0;  // answered before: nothing spent now
          res.cached++;
          continue;
        }
      todo.push_back(r);
    }
    size_t done = reqs.size() - todo.size();
    // A batch holds whole questions when it can, so their choices share the context pass.
    size_t s = 0;
    while (s < todo.size()) {
      size_t e = std::min(todo.size(), s + bs);
      while (e < todo.size() && reqs[todo[e]].inst == reqs[todo[e - 1]].inst) e++;
      std::vector<LLRequest> batch;
      for (size_t k = s; k < e; k++) batch.push_back(reqs[todo[k]]);
      std::vector<LLResult> r = b.loglikelihood(batch);
      for (size_t k = 0; k < batch.size(); k++) {
        auto [i, j] = at[todo[s + k]];
        ll[i][j] = r[k];
        if (use_cache) cache->put(ll_key(cid, batch[k]), to_json(r[k]));
      }
      if (use_cache) cache->flush();
      done += batch.size();
      bar.update((int64_t)done);
      s = e;
    }
    bar.finish();
    res.requests = (int64_t)reqs.size();
  }
  cost::MeterReading end = cost::read_meter();
  cost::Receipt rc = cost::make_receipt(start, end, cost::ReceiptOptions{});
  res.seconds = rc.wall_s;
  bool flops_known = true, joules_known = true;
  double reported = 0, reported_j = 0;
  for (size_t i = 0; i < p.inst.size(); i++) {
    if (c.output_type == OutputType::GenerateUntil) {
      res.prompt_tokens += gen[i].prompt_tokens;
      res.gen_tokens += gen[i].gen_tokens;
      res.truncated += gen[i].truncated;
      if (gen[i].flops >= 0) reported += gen[i].flops;
      else flops_known = false;
      if (gen[i].joules >= 0) reported_j += gen[i].joules;
      else joules_known = false;
    } else {
      for (const auto& r : ll[i]) {
        res.prompt_tokens += r.prompt_tokens;
        res.truncated += r.truncated;
        if (r.flops >= 0) reported += r.flops;
        else flops_known = false;
        if (r.joules >= 0) reported_j += r.joules;
        else joules_known = false;
      }
    }
  }
  if (b.local_compute()) {
    res.flops = (double)rc.flops.total();
    res.joules = rc.energy_j;
    res.energy_method = rc.energy_method;
  } else if (!p.inst.empty()) {
    // What the endpoint says the answers cost (flops serve reports both).
    if (flops_known) res.flops = reported;
    if (joules_known) {
      res.joules = reported_j;
      res.energy_method = "reported by the endpoint";
    }
  }
  res.notes = b.notes();
  if (c.output_type == OutputType::MultipleChoice && !p.inst.empty()) {
    double ch = 0;
    for (const auto& in : p.inst) ch += (double)std::max<size_t>(1, in.golds.size()) / in.choices.size();
    res.chance = ch / p.inst.size();
  }

  // Scores per document.
  std::vector<FilterPipeline> pipes = c.filters;
  if (pipes.empty()) pipes.push_back(FilterPipeline{});
  std::vector<Scored> sc(p.inst.size());
  for (size_t i = 0; i < p.inst.size(); i++) {
    const Instance& in = p.inst[i];
    Scored& s = sc[i];
    nlohmann::json log;
    if (o.keep_samples) log = {{"task", c.name}, {"doc_id", in.doc_id}, {"where", in.where}, {"prompt", in.context}};
    if (c.output_type == OutputType::MultipleChoice) {
      std::vector<double> lls;
      for (const auto& r : ll[i]) lls.push_back(r.logprob);
      McScore m = score_multiple_choice(lls, in.choices, in.golds);
      s.items[{"acc", "none"}] = m.acc;
      s.items[{"acc_norm", "none"}] = m.acc_norm;
      s.gold = in.golds.empty() ? -1 : in.golds[0];
      s.pred = (int)m.pred;
      if (o.keep_samples) {
        log["choices"] = in.choices;
        log["loglikelihoods"] = lls;
        log["gold"] = in.golds.size() == 1 ? nlohmann::json(in.golds[0]) : nlohmann::json(in.golds);  // [] when out of range
        log["answer"] = m.pred;
        log["answer_norm"] = m.pred_norm;
        log["correct"] = m.acc > 0;
      }
    } else if (c.output_type == OutputType::Loglikelihood) {
      s.ll = ll[i][0].logprob;
      s.items[{"acc", "none"}] = ll[i][0].is_greedy ? 1 : 0;
      if (o.keep_samples) {
        log["target"] = in.references[0];
        log["loglikelihoods"] = {s.ll};
        log["greedy"] = {ll[i][0].is_greedy};
        log["correct"] = ll[i][0].is_greedy;
      }
    } else {
      if (o.keep_samples) {
        log["response"] = gen[i].text;
        log["target"] = in.references.size() == 1 ? nlohmann::json(in.references[0]) : nlohmann::json(in.references);
        log["filtered"] = nlohmann::json::object();
      }
      for (const auto& fp : pipes) {
        std::string a = apply_filters(fp, gen[i].text);
        if (o.keep_samples) log["filtered"][fp.name] = a;
        for (const auto& m : c.metrics) {
          double v = 0;
          for (const auto& ref : in.references)
            v = std::max(v, m.metric == "exact_match" ? (exact_match(a, ref, m) ? 1.0 : 0.0) : token_f1(a, ref));
          s.items[{m.metric, fp.name}] = v;
          if (o.keep_samples && &fp == &pipes[0] && &m == &c.metrics[0]) log["correct"] = v > 0;
        }
      }
    }
    if (o.keep_samples) {
      if (c.doc_weight.set) log["weight"] = in.weight;
      res.samples.push_back(std::move(log));
    }
  }

  // Aggregation.
  std::vector<double> w;
  for (const auto& in : p.inst) w.push_back(in.weight);
  const size_t n = p.inst.size();
  for (const auto& m : c.metrics) {
    std::vector<std::string> filters;
    if (c.output_type == OutputType::GenerateUntil)
      for (const auto& fp : pipes) filters.push_back(fp.name);
    else
      filters.push_back("none");
    for (const auto& f : filters) {
      MetricValue mv;
      mv.metric = m.metric;
      mv.filter = f;
      mv.higher_is_better = m.higher_is_better;
      if (m.metric == "f1" && c.output_type == OutputType::MultipleChoice) {
        std::vector<int> g, pr;
        for (const auto& s : sc) {
          g.push_back(s.gold);
          pr.push_back(s.pred);
        }
        mv.value = binary_f1(g, pr);
        if (n > 1)
          mv.stderr_ = bootstrap_stderr(n, o.bootstrap_iters, 1234, [&](const std::vector<size_t>& idx) {
            std::vector<int> gg, pp;
            for (size_t k : idx) {
              gg.push_back(g[k]);
              pp.push_back(pr[k]);
            }
            return binary_f1(gg, pp);
          });
      } else if (m.metric == "perplexity") {
        std::vector<double> x;
        for (const auto& s : sc) x.push_back(s.ll);
        auto ppl = [&](const std::vector<size_t>& idx) {
          double t = 0;
          for (size_t k : idx) t += x[k];
          return std::exp(-t / idx.size());
        };
        std::vector<size_t> all(n);
        for (size_t k = 0; k < n; k++) all[k] = k;
        mv.value = ppl(all);
        if (n > 1) mv.stderr_ = bootstrap_stderr(n, o.bootstrap_iters, 1234, ppl);
      } else {
        std::vector<double> x;
        for (const auto& s : sc) x.push_back(s.items.at({m.metric, f}));
        Aggregate a = mean_with_stderr(x);
        mv.value = a.value;
        mv.stderr_ = a.stderr_;
        res.metrics.push_back(mv);
        if (c.doc_weight.set) {
          Aggregate aw = weighted_mean_with_stderr(x, w);
          MetricValue wv = mv;
          wv.metric = m.metric + "_weighted";
          wv.value = aw.value;
          wv.stderr_ = aw.stderr_;
          res.metrics.push_back(wv);
        }
        continue;
      }
      res.metrics.push_back(mv);
    }
  }
  return res;
}

GroupResult aggregate_group(const GroupConfig& g, const std::vector<const TaskResult*>& tasks) {
  GroupResult r;
  r.name = g.name;
  r.alias = g.alias;
  std::vector<AggregateSpec> specs = g.aggregate;
  if (specs.empty() && !tasks.empty())
    for (const auto& m : tasks[0]->metrics) specs.push_back({m.metric, true, m.filter});
  for (const auto* t : tasks) {
    r.tasks.push_back(t->name);
    r.n += t->n;
    r.prompt_tokens += t->prompt_tokens;
    r.gen_tokens += t->gen_tokens;
    r.seconds += t->seconds;
    if (t->flops >= 0) r.flops += t->flops;
    else r.flops_known = false;
    if (t->joules >= 0) r.joules += t->joules;
    else r.joules_known = false;
  }
  for (const auto& s : specs) {
    std::vector<double> vals, errs, sizes;
    bool higher = true, all_err = true;
    for (const auto* t : tasks) {
      const MetricValue* m = find_metric(t->metrics, s.metric, s.filter);
      if (!m) fail("group '{}': task '{}' has no metric {} (filter {}) to aggregate", g.name, t->name, s.metric, s.filter);
      vals.push_back(m->value);
      sizes.push_back((double)t->n);
      if (m->stderr_) errs.push_back(*m->stderr_);
      else all_err = false;
      higher = m->higher_is_better;
    }
    MetricValue mv;
    mv.metric = s.metric;
    mv.filter = s.filter;
    mv.higher_is_better = higher;
    double sw = 0, sv = 0;
    for (size_t i = 0; i < vals.size(); i++) {
      double wt = s.weight_by_size ? sizes[i] : 1.0;
      sw += wt;
      sv += wt * vals[i];
    }
    mv.value = sw > 0 ? sv / sw : 0;
    if (all_err && !errs.empty()) mv.stderr_ = pooled_stderr(errs, sizes);
    r.metrics.push_back(mv);
  }
  return r;
}

}  // namespace flops::harness
