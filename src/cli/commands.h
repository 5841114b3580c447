#pragma once
// Each command lives in src/cli/cmd_<name>.cpp and adds itself to the app here.
// A command reports failure by throwing flops::Error (main prints it on one line, exits 1).
#include <CLI/CLI.hpp>

namespace flops::cli {

void register_commands(CLI::App& app);

void add_info(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_generate(CLI::App& app);
void add_perplexity(CLI::App& app);
void add_score(CLI::App& app);
void add_detect(CLI::App& app);
void add_detect_eval(CLI::App& app);
void add_make_detect_set(CLI::App& app);
void add_icl(CLI::App& app);
void add_estimate(CLI::App& app);
void add_calibrate(CLI::App& app);
void add_train(CLI::App& app);
void add_tokenizer_train(CLI::App& app);
void add_embed(CLI::App& app);
void add_serve(CLI::App& app);
void add_eval(CLI::App& app);
void add_eval_report(CLI::App& app);
void add_index(CLI::App& app);
void add_search(CLI::App& app);
void add_search_eval(CLI::App& app);
void add_ask(CLI::App& app);
void add_template(CLI::App& app);
void add_chat(CLI::App& app);
void add_lora(CLI::App& app);
void add_bench(CLI::App& app);

}  // namespace flops::cli
