// flops: one command line over the engine and its capabilities.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>

#include "cli/commands.h"
#include "core/error.h"
#include "core/threads.h"

int main(int argc, char** argv) {
  flops::restart_with_passive_omp_wait(argv);
  CLI::App app{"flops: run, train and measure transformer language models on the CPU, and count what every token costs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "flops 0.1.0");
  flops::cli::register_commands(app);
  // llama.cpp's -np (slots of `serve`), -sys (system prompt of `chat`) and -ctk/-ctv (KV cache
  // types): CLI11 takes one-letter short names only.
  static char parallel[] = "--parallel";
  static char system_prompt[] = "--system-prompt";
  static char cache_k[] = "--cache-type-k", cache_v[] = "--cache-type-v";
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "-np") == 0) argv[i] = parallel;
    if (std::strcmp(argv[i], "-sys") == 0) argv[i] = system_prompt;
    if (std::strcmp(argv[i], "-ctk") == 0) argv[i] = cache_k;
    if (std::strcmp(argv[i], "-ctv") == 0) argv[i] = cache_v;
  }
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
