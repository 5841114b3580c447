// flops: one command line over the engine and its capabilities.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "core/threads.h"

int main(int argc, char** argv) {
  flops::restart_with_passive_omp_wait(argv);
  CLI::App app{"flops: run, train and measure transformer language models on the CPU, and count what every token costs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "flops 0.1.0");
  flops::cli::register_commands(app);
  // llama.cpp spells a few long options with one dash (-sys); CLI11 only takes one-letter ones so.
  std::vector<std::string> args(argv + 1, argv + argc);
  for (auto& a : args)
    if (a == "-sys") a = "--system-prompt";
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments last first
  try {
    app.parse(args);
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
