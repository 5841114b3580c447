// flops eval-report: a plot (SVG) and a table comparing results files of flops eval.
#include <fmt/format.h>

#include "cli/commands.h"
#include "core/error.h"
#include "core/mmap_file.h"
#include "harness/report_plot.h"

namespace flops::cli {

void add_eval_report(CLI::App& app) {
  struct Opts {
    std::vector<std::string> files, tasks;
    std::string out, metric, title = "flops eval";
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("eval-report", "compare results files of flops eval: a bar chart (SVG) and a table");
  cmd->add_option("files", o->files, "results files written by flops eval -o (or --json); a.json+b.json is one run")->required();
  cmd->add_option("--tasks", o->tasks, "compare these tasks and groups only, in this order")->delimiter(',');
  cmd->add_option("-o,--output", o->out, "the SVG to write");
  cmd->add_option("--metric", o->metric, "metric to compare (default: each task's first metric)");
  cmd->add_option("--title", o->title, "title of the plot");
  cmd->add_flag("--json", o->json, "print the compared values as JSON");
  cmd->callback([o] {
    std::vector<harness::ReportRun> runs;
    for (const auto& f : o->files) runs.push_back(harness::read_report_run(f));
    harness::ReportData d = harness::collect_report(runs, o->metric);
    if (!o->tasks.empty()) harness::select_report_tasks(d, o->tasks);
    if (d.tasks.empty()) fail("eval-report: the files hold no task results");
    if (!o->out.empty()) {
      std::string svg = harness::report_svg(d, o->title);
      write_file_atomic(o->out, svg.data(), svg.size());
    }
    if (o->json) {
      nlohmann::json j = {{"runs", d.labels}, {"tasks", nlohmann::json::object()}};
      for (size_t t = 0; t < d.tasks.size(); t++) {
        nlohmann::json row = nlohmann::json::array();
        for (const auto& c : d.cells[t])
          row.push_back(c.present ? nlohmann::json{{"metric", c.metric}, {"value", c.value}, {"stderr", c.stderr_}}
                                  : nlohmann::json(nullptr));
        j["tasks"][d.tasks[t]] = row;
      }
      fmt::print("{}\n", j.dump());
      return;
    }
    fmt::print("{}", harness::report_table(d));
    if (!o->out.empty()) fmt::print(stderr, "wrote {}\n", o->out);
  });
}

}  // namespace flops::cli
