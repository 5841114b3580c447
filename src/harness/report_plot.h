#pragma once
// `flops eval-report run1.json run2.json -o report.svg`: models compared across tasks. One group
// of bars per task (and group), one bar per run, its height the task's primary metric (the first
// of its metric_list, or --metric), with +-1 standard error whiskers and a dashed line where
// guessing would score (multiple-choice tasks). A table of the same numbers goes with it.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace flops::harness {

struct ReportRun {
  std::string label;   // the model (config.model) or the file name
  nlohmann::json results;
};

struct ReportCell {
  bool present = false;
  double value = 0, stderr_ = -1, chance = -1;
  std::string metric;
};

struct ReportData {
  std::vector<std::string> labels;  // runs
  std::vector<std::string> tasks;
  std::vector<std::vector<ReportCell>> cells;  // [task][run]
};

// Reads results files (written by flops eval -o or --json); fails naming a file that is not one.
// "a.json+b.json" is one run split over several files (one model's task sets run apart): their
// results, groups and task entries are joined.
ReportRun read_report_run(const std::string& path);

// Keeps the named tasks and groups only, in that order; fails naming one no run holds.
void select_report_tasks(ReportData& d, const std::vector<std::string>& tasks);

// `metric` "" = each task's primary metric, else e.g. "acc" or "acc_norm,none".
ReportData collect_report(const std::vector<ReportRun>& runs, const std::string& metric);

std::string report_svg(const ReportData& d, const std::string& title);
std::string report_table(const ReportData& d);

}  // namespace flops::harness
