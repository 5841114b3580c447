#include "harness/report.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/progress.h"

namespace flops::harness {

namespace {

std::string key(const MetricValue& m, bool err) {
  return m.metric + (err ? "_stderr" : "") + "," + m.filter;
}

nlohmann::json metrics_json(const std::vector<MetricValue>& ms) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& m : ms) {
    j[key(m, false)] = m.value;
    j[key(m, true)] = m.stderr_ ? nlohmann::json(*m.stderr_) : nlohmann::json("N/A");
  }
  return j;
}

nlohmann::json cost_json(size_t n, int64_t pt, int64_t gt, double flops, double seconds, double joules,
                         const std::string& method) {
  double q = n > 0 ? (double)n : 1;
  nlohmann::json c = {{"questions", n},         {"prompt_tokens", pt},         {"generated_tokens", gt},
                      {"seconds", seconds},     {"seconds_per_question", seconds / q},
                      {"tokens_per_question", (double)(pt + gt) / q}};
  c["flops"] = flops >= 0 ? nlohmann::json(flops) : nlohmann::json(nullptr);
  c["flops_per_question"] = flops >= 0 ? nlohmann::json(flops / q) : nlohmann::json(nullptr);
  c["joules"] = joules >= 0 ? nlohmann::json(joules) : nlohmann::json(nullptr);
  c["joules_per_question"] = joules >= 0 ? nlohmann::json(joules / q) : nlohmann::json(nullptr);
  if (!method.empty()) c["energy"] = method;
  return c;
}

std::string num(double v) {
  if (v < 0) return "-";
  return format_si(v);
}

std::string secs(double s) {
  if (s < 0) return "-";
  if (s < 1) return fmt::format("{:.3f}", s);
  if (s < 100) return fmt::format("{:.2f}", s);
  return fmt::format("{:.0f}", s);
}

}  // namespace

nlohmann::json results_json(const std::vector<TaskResult>& tasks, const std::vector<GroupResult>& groups,
                            const nlohmann::json& config) {
  nlohmann::json j;
  j["results"] = nlohmann::json::object();
  j["n-samples"] = nlohmann::json::object();
  j["cost"] = nlohmann::json::object();
  for (const auto& t : tasks) {
    nlohmann::json r = metrics_json(t.metrics);
    r["alias"] = t.alias.empty() ? t.name : t.alias;
    j["results"][t.name] = r;
    j["n-samples"][t.name] = {{"effective", t.n}, {"original", t.n_docs}};
    j["cost"][t.name] = cost_json(t.n, t.prompt_tokens, t.gen_tokens, t.flops, t.seconds, t.joules, t.energy_method);
    j["cost"][t.name]["requests"] = t.requests;
    j["cost"][t.name]["cached_requests"] = t.cached;
    j["cost"][t.name]["truncated_requests"] = t.truncated;
    nlohmann::json info = {{"output_type", t.output_type}, {"split", t.split}, {"num_fewshot", t.num_fewshot},
                           {"backend", t.backend}};
    if (!t.notes.is_null()) info["backend_notes"] = t.notes;
    if (!t.metrics.empty()) info["primary_metric"] = key(t.metrics[0], false);
    if (t.chance >= 0) info["chance"] = t.chance;
    j["tasks"][t.name] = info;
  }
  for (const auto& g : groups) {
    nlohmann::json r = metrics_json(g.metrics);
    r["alias"] = g.alias.empty() ? g.name : g.alias;
    j["groups"][g.name] = r;
    j["group_subtasks"][g.name] = g.tasks;
    if (!g.metrics.empty()) j["tasks"][g.name] = {{"output_type", "group"}, {"primary_metric", key(g.metrics[0], false)}};
    // What guessing scores over the group, its tasks weighted by their sizes (when all have one).
    double ch = 0, n = 0;
    bool all = !g.tasks.empty();
    for (const auto& name : g.tasks)
      for (const auto& t : tasks)
        if (t.name == name) {
          all = all && t.chance >= 0;
          ch += t.chance * (double)t.n;
          n += (double)t.n;
        }
    if (all && n > 0 && j["tasks"].contains(g.name)) j["tasks"][g.name]["chance"] = ch / n;
    j["cost"][g.name] = cost_json(g.n, g.prompt_tokens, g.gen_tokens, g.flops_known ? g.flops : -1, g.seconds,
                                  g.joules_known ? g.joules : -1, "");
  }
  j["config"] = config;
  return j;
}

std::string results_table(const std::vector<TaskResult>& tasks, const std::vector<GroupResult>& groups) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"task", "metric", "value", "stderr", "N", "tokens", "FLOPs", "seconds", "joules", "FLOPs/q", "s/q", "J/q"});
  auto add = [&](const std::string& name, const std::vector<MetricValue>& ms, size_t n, int64_t tokens, double flops,
                 double seconds, double joules) {
    bool first = true;
    double q = n > 0 ? (double)n : 1;
    for (const auto& m : ms) {
      std::string metric = m.metric + (m.filter == "none" ? "" : " (" + m.filter + ")");
      std::vector<std::string> r = {first ? name : "", metric, fmt::format("{:.4f}", m.value),
                                    m.stderr_ ? fmt::format("{:.4f}", *m.stderr_) : "N/A"};
      if (first) {
        r.insert(r.end(), {std::to_string(n), num((double)tokens), num(flops), secs(seconds), num(joules),
                           num(flops >= 0 ? flops / q : -1), secs(seconds / q), num(joules >= 0 ? joules / q : -1)});
      } else {
        r.insert(r.end(), 8, "");
      }
      rows.push_back(r);
      first = false;
    }
  };
  for (const auto& t : tasks) add(t.name, t.metrics, t.n, t.prompt_tokens + t.gen_tokens, t.flops, t.seconds, t.joules);
  for (const auto& g : groups)
    add(g.name + " (group)", g.metrics, g.n, g.prompt_tokens + g.gen_tokens, g.flops_known ? g.flops : -1, g.seconds,
        g.joules_known ? g.joules : -1);
  std::vector<size_t> w(rows[0].size());
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); c++) w[c] = std::max(w[c], r[c].size());
  std::string out;
  for (size_t i = 0; i < rows.size(); i++) {
    out += "|";
    for (size_t c = 0; c < rows[i].size(); c++) {
      bool right = c >= 2;
      std::string cell = rows[i][c];
      std::string pad(w[c] - cell.size(), ' ');
      out += " " + (right ? pad + cell : cell + pad) + " |";
    }
    out += "\n";
    if (i == 0) {
      out += "|";
      for (size_t c = 0; c < w.size(); c++) out += std::string(w[c] + 1, '-') + (c >= 2 ? ":|" : "-|");
      out += "\n";
    }
  }
  return out;
}

std::string samples_jsonl(const std::vector<TaskResult>& tasks) {
  std::string out;
  for (const auto& t : tasks)
    for (const auto& s : t.samples) out += s.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return out;
}

}  // namespace flops::harness
