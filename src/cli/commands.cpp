#include "cli/commands.h"

namespace flops::cli {

void register_commands(CLI::App& app) {
  add_info(app);
  add_tokenize(app);
  add_generate(app);
  add_perplexity(app);
  add_embed(app);
  add_score(app);
  add_detect(app);
  add_detect_eval(app);
  add_make_detect_set(app);
  add_icl(app);
  add_estimate(app);
  add_calibrate(app);
  add_train(app);
  add_tokenizer_train(app);
  add_serve(app);
  add_eval(app);
  add_eval_report(app);
  add_index(app);
  add_search(app);
  add_search_eval(app);
  add_ask(app);
  add_template(app);
  add_chat(app);
  add_lora(app);
  add_bench(app);
}

}  // namespace flops::cli
