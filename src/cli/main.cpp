// flops: one command line over the engine and its capabilities.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

#include "cli/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  // libgomp reads OMP_WAIT_POLICY when it is loaded, before main. Its default (spin, then
  // sleep) costs ~20 ms per parallel region when another process holds a core, which makes
  // a forward pass 100x slower on a busy machine; passive waiting costs ~60 us. So we
  // restart once with passive waiting unless the user chose a policy.
  if (!std::getenv("OMP_WAIT_POLICY")) {
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv);  // returns only on failure: then go on as we are
  }
  CLI::App app{"flops: run, train and measure transformer language models on the CPU, and count what every token costs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "flops 0.1.0");
  flops::cli::register_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const flops::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
