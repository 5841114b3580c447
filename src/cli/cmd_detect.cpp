// flops detect: was this text written by a model? A verdict with its score, the threshold and the
// false-positive rate it was calibrated for, and the sentences that drive it.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/threads.h"
#include "cost/receipt.h"
#include "detect/detector.h"
#include "detect/report.h"

namespace flops::cli {

void add_detect(CLI::App& app) {
  struct Opts {
    ModelOpts m;
    std::string file;
    std::string method = "fast-detectgpt";
    std::string sampler, observer, performer, calibration;
    int ctx = 512;
    int max_tokens = 0;
    int min_tokens = 64;
    std::string color = "auto";
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("detect", "is this text machine-written? verdict, score, calibrated threshold, evidence");
  add_model_opts(cmd, o->m);
  auto* pos = cmd->add_option("file", o->file, "text file, or - for stdin");
  auto* fopt = cmd->add_option("-f,--file", o->file, "text file, or - for stdin (as llama.cpp's -f)");
  pos->excludes(fopt);
  cmd->add_option("--method", o->method, "ppl | fast-detectgpt | binoculars (default fast-detectgpt)");
  cmd->add_option("--sampler", o->sampler, "fast-detectgpt: separate sampling (reference) model; default: the scoring model");
  cmd->add_option("--observer", o->observer, "binoculars: observer model (default: -m / the shipped model)");
  cmd->add_option("--performer", o->performer, "binoculars: performer model (default: flops-b.gguf beside the observer)");
  cmd->add_option("--calibration", o->calibration, "calibration file (default: MODEL.gguf.detect.json)");
  cmd->add_option("-c,--ctx-size", o->ctx, "window of tokens for long texts (default 512)");
  cmd->add_option("--max-tokens", o->max_tokens, "use only the first N tokens (default: all)");
  cmd->add_option("--min-tokens", o->min_tokens, "refuse a verdict under this many scored tokens (default 64)");
  cmd->add_option("--color", o->color, "auto | always | never: colour the sentences")->check(CLI::IsMember({"auto", "always", "never"}));
  cmd->callback([o] {
    detect::Method method = detect::parse_method(o->method);
    if (o->ctx < 4) fail("--ctx-size must be at least 4, got {}", o->ctx);
    if (o->min_tokens < 1) fail("--min-tokens must be at least 1, got {}", o->min_tokens);
    if (method != detect::Method::FastDetectGPT && !o->sampler.empty()) fail("--sampler is for --method fast-detectgpt");
    if (method != detect::Method::Binoculars && (!o->observer.empty() || !o->performer.empty()))
      fail("--observer/--performer are for --method binoculars");
    if (o->file.empty()) fail("no text given: pass a file (FILE or -f FILE, - for stdin)");
    std::string text = read_input_text("", o->file);

    cost::Meter meter;
    if (o->m.threads < 0) fail("--threads must be >= 0, got {}", o->m.threads);
    set_threads(o->m.threads);
    // p scores (Binoculars: performer); q is the reference distribution (sampler / observer).
    std::string primary, second;
    std::unique_ptr<Model> p, q;
    if (method == detect::Method::Binoculars) {
      primary = resolve_model_path(!o->observer.empty() ? o->observer : o->m.model, o->m.json || o->m.quiet);
      second = !o->performer.empty() ? o->performer : detect::sibling_model(primary);
      if (second.empty())
        fail("binoculars needs a performer model: pass --performer MODEL.gguf (no flops-b.gguf beside '{}')", primary);
      p = load_for_inference(second);
      // The same file twice: the observer's distribution is the performer's own.
      if (!std::filesystem::equivalent(primary, second)) q = load_for_inference(primary);
    } else {
      primary = resolve_model_path(o->m.model, o->m.json || o->m.quiet);
      p = load_for_inference(primary);
      if (!o->sampler.empty()) {
        second = o->sampler;
        q = load_for_inference(second);
      }
    }
    std::string cal_path = o->calibration.empty() ? detect::calibration_path(primary) : o->calibration;
    std::string key = detect::calibration_key(method, second);
    detect::Calibration cal = detect::load_calibration(cal_path, key).value_or(detect::default_calibration(method));
    if (cal.method != method) fail("calibration entry '{}' in '{}' is for {}", key, cal_path, detect::method_name(cal.method));

    detect::AnalyzeOptions ao;
    ao.n_ctx = o->ctx;
    ao.max_tokens = o->max_tokens;
    ao.moments = detect::needs_moments(method);
    detect::Analysis a = detect::analyze(*p, q.get(), text, ao);
    detect::Detection d = detect::decide(method, a, cal, o->min_tokens);
    cost::ReceiptOptions ro;
    ro.label = "detect";
    cost::Receipt receipt = cost::finish(meter, ro);

    if (o->m.json) {
      nlohmann::json j = detect::to_json(d, text);
      j["calibration_file"] = cal.calibrated ? cal_path : "";
      j["calibration_key"] = key;
      if (method == detect::Method::Binoculars) {
        j["observer"] = primary;
        j["performer"] = second;
      } else {
        j["model"] = primary;
        if (!second.empty()) j["sampler"] = second;
      }
      j["receipt"] = cost::to_json(receipt);
      fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return;
    }
    bool color = o->color == "always" || (o->color == "auto" && stdout_is_terminal());
    if (method == detect::Method::Binoculars)
      fmt::print("binoculars: observer {}, performer {}\n", primary, second);
    else
      fmt::print("{}: model {}{}\n", detect::method_name(method), primary, second.empty() ? "" : ", sampler " + second);
    if (cal.calibrated) fmt::print("calibration: {} [{}]\n", cal_path, key);
    fmt::print("{}", detect::render_verdict(d));
    if (!d.sentences.empty()) fmt::print("\n{}", detect::render_sentences(d, text, color));
    if (!o->m.quiet) cost::print_receipt(stderr, receipt);
  });
}

}  // namespace flops::cli
