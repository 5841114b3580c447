// flops calibrate: measure this machine's sgemm FLOP/s and cache it for the receipts.
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "core/threads.h"
#include "cost/calibrate.h"
#include "cost/units.h"

namespace flops::cli {

void add_calibrate(CLI::App& app) {
  struct Opts {
    int threads = 0;
    double seconds = 1.0;
    bool json = false, show = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("calibrate", "measure this machine's peak (OpenBLAS sgemm FLOP/s) and cache it for receipts");
  cmd->add_option("-t,--threads", o->threads, "threads to measure with (default: all cores)");
  cmd->add_option("--seconds", o->seconds, "time to spend measuring (default 1)");
  cmd->add_flag("--show", o->show, "print the cached figure without measuring");
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->callback([o] {
    if (o->threads < 0) fail("invalid --threads: {} must be at least 1", o->threads);
    int threads = o->threads > 0 ? o->threads : hardware_threads();
    cost::Calibration c;
    if (o->show) {
      auto cached = cost::load_calibration(threads);
      if (!cached) fail("no calibration cached for {} threads in {} (run `flops calibrate`)", threads,
                        cost::calibration_cache_path());
      c = *cached;
    } else {
      if (!(o->seconds > 0) || o->seconds > 600) fail("invalid --seconds: {} must be in (0, 600]", o->seconds);
      c = cost::measure_calibration(threads, o->seconds);
      c.path = cost::save_calibration(c);
    }
    if (o->json) {
      nlohmann::json j = {{"sgemm_flops_per_s", c.sgemm_flops}, {"threads", c.threads}, {"n", c.n},
                          {"seconds", c.seconds},           {"cpu_model", c.cpu_model}, {"measured_at", c.measured_at},
                          {"cache", c.path},                {"from_cache", c.from_cache}};
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("sgemm peak: %s with %d threads (%s, %dx%d fp32, measured %s)\ncache: %s\n",
                  cost::format_flop_rate(c.sgemm_flops).c_str(), c.threads, c.cpu_model.c_str(), c.n, c.n,
                  c.measured_at.c_str(), c.path.c_str());
    }
  });
}

}  // namespace flops::cli
