#include "harness/report_plot.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"
#include "core/mmap_file.h"

namespace flops::harness {

namespace {

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

// Colour-blind-safe palette (Okabe & Ito 2008).
const char* kColors[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"};

}  // namespace

namespace {

ReportRun read_one_run(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) fail("eval-report: file not found: '{}'", path);
  ReportRun r;
  try {
    r.results = nlohmann::json::parse(read_text_file(path));
  } catch (const std::exception& e) {
    fail("eval-report: '{}' is not JSON ({})", path, e.what());
  }
  if (!r.results.is_object() || !r.results.contains("results") || !r.results["results"].is_object())
    fail("eval-report: '{}' is not a results file of flops eval (no \"results\" object)", path);
  r.label = std::filesystem::path(path).stem().string();
  if (r.results.contains("config") && r.results["config"].is_object() && r.results["config"].contains("model") &&
      r.results["config"]["model"].is_string())
    r.label = r.results["config"]["model"].get<std::string>();
  return r;
}

}  // namespace

ReportRun read_report_run(const std::string& spec) {
  if (std::filesystem::is_regular_file(spec) || spec.find('+') == std::string::npos) return read_one_run(spec);
  ReportRun run;
  size_t at = 0;
  while (at <= spec.size()) {
    size_t plus = std::min(spec.find('+', at), spec.size());
    ReportRun part = read_one_run(spec.substr(at, plus - at));
    if (run.label.empty()) run.label = part.label;
    for (const char* key : {"results", "groups", "tasks", "cost"})
      if (part.results.contains(key) && part.results[key].is_object())
        for (auto it = part.results[key].begin(); it != part.results[key].end(); ++it) run.results[key][it.key()] = it.value();
    at = plus + 1;
  }
  return run;
}

void select_report_tasks(ReportData& d, const std::vector<std::string>& tasks) {
  std::vector<std::string> names;
  std::vector<std::vector<ReportCell>> cells;
  for (const auto& t : tasks) {
    auto it = std::find(d.tasks.begin(), d.tasks.end(), t);
    if (it == d.tasks.end()) fail("eval-report --tasks: no file holds task '{}'", t);
    names.push_back(t);
    cells.push_back(d.cells[it - d.tasks.begin()]);
  }
  d.tasks = std::move(names);
  d.cells = std::move(cells);
}

ReportData collect_report(const std::vector<ReportRun>& runs, const std::string& metric) {
  ReportData d;
  for (const auto& r : runs) {
    std::string label = r.label;
    // Two runs of the same model keep apart.
    int n = 1;
    while (std::find(d.labels.begin(), d.labels.end(), label) != d.labels.end()) label = r.label + " #" + std::to_string(++n);
    d.labels.push_back(label);
    for (const char* part : {"results", "groups"})
      if (r.results.contains(part))
        for (auto it = r.results[part].begin(); it != r.results[part].end(); ++it)
          if (std::find(d.tasks.begin(), d.tasks.end(), it.key()) == d.tasks.end()) d.tasks.push_back(it.key());
  }
  d.cells.assign(d.tasks.size(), std::vector<ReportCell>(runs.size()));
  for (size_t t = 0; t < d.tasks.size(); t++)
    for (size_t k = 0; k < runs.size(); k++) {
      const auto& j = runs[k].results;
      const nlohmann::json* res = nullptr;
      for (const char* part : {"results", "groups"})
        if (j.contains(part) && j[part].contains(d.tasks[t])) res = &j[part][d.tasks[t]];
      if (!res) continue;
      std::string m = metric;
      if (!m.empty() && m.find(',') == std::string::npos) m += ",none";
      const nlohmann::json info = j.contains("tasks") && j["tasks"].contains(d.tasks[t]) ? j["tasks"][d.tasks[t]] : nlohmann::json();
      if (m.empty() && info.is_object() && info.contains("primary_metric")) m = info["primary_metric"].get<std::string>();
      if (m.empty())
        for (auto it = res->begin(); it != res->end(); ++it)
          if (it.key() != "alias" && it.key().find("_stderr") == std::string::npos && it.value().is_number()) {
            m = it.key();
            break;
          }
      if (!res->contains(m) || !(*res)[m].is_number()) continue;
      ReportCell& c = d.cells[t][k];
      c.present = true;
      c.metric = m;
      c.value = (*res)[m].get<double>();
      std::string se = m.substr(0, m.find(',')) + "_stderr" + m.substr(m.find(','));
      if (res->contains(se) && (*res)[se].is_number()) c.stderr_ = (*res)[se].get<double>();
      if (info.is_object() && info.contains("chance") && info["chance"].is_number()) c.chance = info["chance"].get<double>();
    }
  return d;
}

std::string report_svg(const ReportData& d, const std::string& title) {
  const int nr = (int)d.labels.size(), nt = (int)d.tasks.size();
  const double bar = std::max(6.0, std::min(22.0, 240.0 / std::max(1, nr))), gap = 18;
  const double group_w = bar * nr + gap;
  const double left = 60, top = 40, plot_h = 260;
  size_t longest = 0;
  for (const auto& t : d.tasks) longest = std::max(longest, t.size());
  const double bottom = 30 + 6.2 * longest * 0.72;
  const double legend_h = 18.0 * nr + 10;
  const double W = std::max(420.0, left + group_w * nt + 20), H = top + plot_h + bottom + legend_h;
  double ymax = 1.0;
  for (const auto& row : d.cells)
    for (const auto& c : row)
      if (c.present) ymax = std::max(ymax, c.value + std::max(0.0, c.stderr_));
  if (ymax > 1.0) ymax = std::pow(10, std::ceil(std::log10(ymax)));
  auto y = [&](double v) { return top + plot_h * (1 - std::clamp(v / ymax, 0.0, 1.0)); };
  std::ostringstream o;
  o << fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" font-family=\"sans-serif\" "
                   "font-size=\"12\">\n",
                   W, H);
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << fmt::format("<text x=\"{:.0f}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{}</text>\n", left, esc(title));
  for (int g = 0; g <= 4; g++) {
    double v = ymax * g / 4;
    o << fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", left, W - 10, y(v), y(v));
    o << fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{:.2f}</text>\n", left - 6, y(v) + 4, v);
  }
  for (int t = 0; t < nt; t++) {
    double x0 = left + gap / 2 + t * group_w;
    double chance = -1;
    for (int k = 0; k < nr; k++) {
      const ReportCell& c = d.cells[t][k];
      if (!c.present) continue;
      if (c.chance >= 0) chance = c.chance;
      double x = x0 + k * bar;
      o << fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{}: {} {} = {:.4f}",
                       x, y(c.value), bar - 2, top + plot_h - y(c.value), kColors[k % 8], esc(d.labels[k]), esc(d.tasks[t]),
                       esc(c.metric), c.value);
      if (c.stderr_ >= 0) o << fmt::format(" +- {:.4f}", c.stderr_);
      o << "</title></rect>\n";
      if (c.stderr_ > 0) {
        double xc = x + (bar - 2) / 2;
        o << fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#333\"/>\n", xc, xc,
                         y(c.value - c.stderr_), y(c.value + c.stderr_));
      }
    }
    if (chance >= 0)
      o << fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#c00\" stroke-dasharray=\"4 3\"/>\n",
                       x0 - 3, x0 + bar * nr + 1, y(chance), y(chance));
    double xl = x0 + bar * nr / 2;
    o << fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" transform=\"rotate(-40 {:.1f} {:.1f})\">{}</text>\n", xl,
                     top + plot_h + 14, xl, top + plot_h + 14, esc(d.tasks[t]));
  }
  o << fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#333\"/>\n", left, W - 10, top + plot_h,
                   top + plot_h);
  double ly = top + plot_h + bottom;
  for (int k = 0; k < nr; k++) {
    o << fmt::format("<rect x=\"{:.0f}\" y=\"{:.1f}\" width=\"12\" height=\"12\" fill=\"{}\"/>", left, ly + 18 * k, kColors[k % 8]);
    o << fmt::format("<text x=\"{:.0f}\" y=\"{:.1f}\">{}</text>\n", left + 18, ly + 18 * k + 10, esc(d.labels[k]));
  }
  o << fmt::format("<text x=\"{:.0f}\" y=\"{:.1f}\" fill=\"#c00\">- - - chance (guessing)</text>\n", W - 170, ly + 10);
  o << "</svg>\n";
  return o.str();
}

std::string report_table(const ReportData& d) {
  std::string out = "| task |";
  for (const auto& l : d.labels) out += " " + l + " |";
  out += "\n|---|";
  for (size_t k = 0; k < d.labels.size(); k++) out += "---:|";
  out += "\n";
  for (size_t t = 0; t < d.tasks.size(); t++) {
    out += "| " + d.tasks[t] + " |";
    for (const auto& c : d.cells[t]) {
      if (!c.present) {
        out += " - |";
        continue;
      }
      out += fmt::format(" {:.4f}", c.value);
      if (c.stderr_ >= 0) out += fmt::format(" +- {:.4f}", c.stderr_);
      out += " |";
    }
    out += "\n";
  }
  return out;
}

}  // namespace flops::harness
