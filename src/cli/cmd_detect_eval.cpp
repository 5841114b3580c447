// flops detect-eval: AUROC, TPR at 1% and 0.1% FPR and the best-F1 threshold of every detection
// method on a labeled set; --calibrate stores the thresholds `flops detect` then uses.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/mmap_file.h"
#include "core/progress.h"
#include "core/threads.h"
#include "cost/receipt.h"
#include "detect/datasets.h"
#include "detect/detector.h"
#include "detect/metrics.h"

namespace flops::cli {

namespace {
std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> r;
  size_t b = 0;
  while (b <= s.size()) {
    size_t e = s.find(',', b);
    if (e == std::string::npos) e = s.size();
    if (e > b) r.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return r;
}
}  // namespace

void add_detect_eval(CLI::App& app) {
  struct Opts {
    ModelOpts m;
    std::string data;
    std::string methods = "all";
    std::string sampler, observer, performer, calibration, scores_out;
    std::string prefix = "context";
    int ctx = 512;
    int max_tokens = 512;
    int min_tokens = 64;
    int limit = 0;
    bool calibrate = false;
    double target_fpr = 0.01;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("detect-eval", "AUROC / TPR at low FPR of the detection methods on a labeled set");
  add_model_opts(cmd, o->m);
  cmd->add_option("data", o->data,
                  "JSONL {text, label: human|ai}, a Fast-DetectGPT raw_data.json, the Binoculars JSONL, or a folder of them")
      ->required();
  cmd->add_option("--method", o->methods, "comma-separated: ppl,fast-detectgpt,binoculars, or all (default)");
  cmd->add_option("--sampler", o->sampler, "fast-detectgpt: separate sampling model");
  cmd->add_option("--observer", o->observer, "binoculars: observer (default: -m / the shipped model)");
  cmd->add_option("--performer", o->performer, "binoculars: performer (default: flops-b.gguf beside the observer)");
  cmd->add_option("--prefix", o->prefix,
                  "prompt a machine text shares with its human pair: context (condition, do not score; default), strip, keep")
      ->check(CLI::IsMember({"context", "strip", "keep"}));
  cmd->add_option("-c,--ctx-size", o->ctx, "window of tokens (default 512)");
  cmd->add_option("--max-tokens", o->max_tokens, "truncate each text to N tokens, as Binoculars does (default 512; 0 = all)");
  cmd->add_option("--min-tokens", o->min_tokens, "skip texts with fewer scored tokens (default 64, as detect)");
  cmd->add_option("--limit", o->limit, "at most N records (pairs) per file");
  cmd->add_flag("--calibrate", o->calibrate, "write the thresholds to the calibration file next to the model");
  cmd->add_option("--target-fpr", o->target_fpr, "false-positive rate the calibrated AI threshold allows (default 0.01)");
  cmd->add_option("--calibration", o->calibration, "calibration file (default: MODEL.gguf.detect.json)");
  cmd->add_option("--scores-out", o->scores_out, "also write every text's features and scores as JSONL");
  cmd->callback([o] {
    if (!(o->target_fpr >= 0 && o->target_fpr < 1)) fail("--target-fpr must be in [0, 1), got {}", o->target_fpr);
    if (o->max_tokens < 0 || o->limit < 0) fail("--max-tokens and --limit must be >= 0");
    if (o->min_tokens < 1) fail("--min-tokens must be at least 1, got {}", o->min_tokens);
    std::vector<detect::Method> methods;
    bool all = o->methods == "all";
    for (auto& s : all ? std::vector<std::string>{"ppl", "fast-detectgpt", "binoculars"} : split_commas(o->methods))
      methods.push_back(detect::parse_method(s));
    if (methods.empty()) fail("--method names no method");
    auto want = [&](detect::Method m) { return std::find(methods.begin(), methods.end(), m) != methods.end(); };

    detect::LoadOptions lo;
    lo.prefix_mode = o->prefix;
    lo.limit = o->limit;
    std::vector<std::string> formats;
    std::vector<detect::LabeledText> data = detect::load_detect_data(o->data, lo, &formats);

    cost::Meter meter;
    if (o->m.threads < 0) fail("--threads must be >= 0, got {}", o->m.threads);
    set_threads(o->m.threads);
    bool show = !o->m.json && !o->m.quiet;
    // The single-model methods share one analysis (scoring model p, optional sampler q).
    std::string primary = resolve_model_path(o->m.model, o->m.json || o->m.quiet);
    auto p = load_for_inference(primary);
    std::unique_ptr<Model> q;
    if (!o->sampler.empty()) q = load_for_inference(o->sampler);
    // Binoculars: performer scores, observer weighs.
    std::string obs_path, perf_path;
    std::vector<std::string> skipped_methods;
    std::unique_ptr<Model> obs_own, perf;
    const Model* obs = nullptr;
    if (want(detect::Method::Binoculars)) {
      obs_path = o->observer.empty() ? primary : o->observer;
      perf_path = !o->performer.empty() ? o->performer : detect::sibling_model(obs_path);
      if (perf_path.empty()) {
        if (!all) fail("binoculars needs a performer model: pass --performer MODEL.gguf (no flops-b.gguf beside '{}')", obs_path);
        if (show) fmt::print(stderr, "binoculars skipped: no performer model (pass --performer)\n");
        skipped_methods.push_back("binoculars: no performer model (pass --performer)");
        methods.erase(std::remove(methods.begin(), methods.end(), detect::Method::Binoculars), methods.end());
      } else {
        perf = load_for_inference(perf_path);
        // The same file twice: the observer's distribution is the performer's own (obs stays null).
        if (!std::filesystem::equivalent(obs_path, perf_path)) {
          if (std::filesystem::equivalent(obs_path, primary)) {
            obs = p.get();
          } else {
            obs_own = load_for_inference(obs_path);
            obs = obs_own.get();
          }
          detect::check_same_tokenizer(*obs, *perf, "binoculars");
        }
      }
    }
    const bool single = want(detect::Method::Ppl) || want(detect::Method::FastDetectGPT);
    std::string cal_path = o->calibration.empty() ? detect::calibration_path(primary) : o->calibration;
    std::string bino_cal_path = o->calibration.empty() && !obs_path.empty() ? detect::calibration_path(obs_path) : cal_path;
    if (o->calibrate) {  // fail now rather than after the whole run
      if (single) detect::check_calibration_writable(cal_path);
      if (want(detect::Method::Binoculars)) detect::check_calibration_writable(bino_cal_path);
    }
    const bool bino = want(detect::Method::Binoculars);

    std::vector<detect::DocFeatures> f1, f2;  // single-model analysis, binoculars analysis
    std::vector<int> labels;
    int skipped_short = 0, skipped_bad = 0;
    std::string first_error;
    std::string scores_jsonl;
    Progress bar("detect-eval", (int64_t)data.size(), "text", show);
    for (size_t i = 0; i < data.size(); i++) {
      const auto& t = data[i];
      detect::AnalyzeOptions ao;
      ao.n_ctx = o->ctx;
      ao.max_tokens = o->max_tokens;
      ao.context_bytes = t.context_bytes;
      ao.moments = want(detect::Method::FastDetectGPT);
      try {
        detect::DocFeatures a{}, b{};
        int n = 0;
        if (single) {
          a = detect::features(detect::analyze(*p, q.get(), t.text, ao));
          n = a.n_tokens;
        }
        if (bino && (!single || n >= o->min_tokens)) {
          ao.moments = true;
          b = detect::features(detect::analyze(*perf, obs, t.text, ao));
          n = b.n_tokens;
        }
        if (n < o->min_tokens) {
          skipped_short++;
        } else {
          f1.push_back(a);
          f2.push_back(b);
          labels.push_back(t.label);
          if (!o->scores_out.empty()) {
            nlohmann::json j = {{"index", i}, {"label", t.label ? "ai" : "human"}, {"source", t.source},
                                {"n_tokens", n}, {"log_ppl", single ? a.log_ppl : b.log_ppl},
                                {"burstiness", single ? a.burstiness : b.burstiness}};
            if (want(detect::Method::FastDetectGPT))
              j["fast-detectgpt"] = detect::fast_detectgpt_score(a.sum_logp, a.sum_mu, a.sum_var);
            if (bino) j["binoculars"] = detect::binoculars_score(b.sum_logp, b.sum_mu);
            scores_jsonl += j.dump() + "\n";
          }
        }
      } catch (const Error& e) {
        skipped_bad++;  // e.g. an empty or invalid record: counted, reported, not fatal
        if (first_error.empty()) first_error = fmt::format("record {}: {}", i, e.what());
      }
      bar.update((int64_t)i + 1);
    }
    bar.finish();
    int n_ai = 0, n_h = 0;
    for (int l : labels) (l ? n_ai : n_h)++;
    if (n_ai == 0 || n_h == 0)
      fail("need both human and AI texts of at least {} tokens; have {} human, {} AI ({} too short, {} unreadable)",
           o->min_tokens, n_h, n_ai, skipped_short, skipped_bad);

    nlohmann::json results = nlohmann::json::array();
    struct Row {
      std::string name;
      double auroc, tpr1, tpr01, f1, f1_thr, thr1;
    };
    std::vector<Row> rows;
    for (detect::Method m : methods) {
      const auto& feats = m == detect::Method::Binoculars ? f2 : f1;
      // Calibration fits the ppl logistic weights; the uncalibrated default is used for nothing here.
      detect::Calibration cal = detect::calibrate(m, feats, labels, o->target_fpr);
      const double sign = detect::higher_is_ai(m) ? 1 : -1;
      std::vector<double> s;
      std::vector<int> y;
      // ppl's weights are fitted: its metrics use out-of-fold scores (5-fold) when both classes
      // have enough texts.
      std::vector<double> cv;
      if (m == detect::Method::Ppl && std::min(n_ai, n_h) >= 10) cv = detect::ppl_cross_val_scores(feats, labels, 5);
      for (size_t i = 0; i < feats.size(); i++) {
        double v = cv.empty() ? detect::method_score(m, feats[i], cal) : cv[i];
        if (!std::isfinite(v)) continue;
        s.push_back(sign * v);
        y.push_back(labels[i]);
      }
      auto op1 = detect::tpr_at_fpr(s, y, 0.01);
      auto op01 = detect::tpr_at_fpr(s, y, 0.001);
      auto bf = detect::best_f1(s, y);
      Row r{detect::method_name(m), detect::auroc(s, y), op1.tpr, op01.tpr, bf.f1, sign * bf.threshold, sign * op1.threshold};
      rows.push_back(r);
      std::string second = m == detect::Method::Binoculars ? perf_path : o->sampler;
      nlohmann::json j = {{"method", r.name},           {"auroc", r.auroc},         {"tpr_at_1pct_fpr", r.tpr1},
                          {"threshold_1pct_fpr", r.thr1}, {"tpr_at_0.1pct_fpr", r.tpr01}, {"best_f1", r.f1},
                          {"best_f1_threshold", r.f1_thr}, {"higher_is_ai", detect::higher_is_ai(m)}, {"n", s.size()}};
      if (m == detect::Method::Ppl) {
        j["weights"] = cal.weights;
        j["cross_validated"] = !cv.empty();
      }
      if (m == detect::Method::Binoculars) {
        j["observer"] = obs_path;
        j["performer"] = perf_path;
      }
      if (o->calibrate) {
        cal.dataset = fmt::format("{} ({} human, {} AI)", std::filesystem::path(o->data).filename().string(), cal.n_human,
                                  cal.n_ai);
        cal.models = m == detect::Method::Binoculars ? obs_path + " + " + perf_path
                                                      : primary + (o->sampler.empty() ? "" : " + " + o->sampler);
        std::string path = m == detect::Method::Binoculars ? bino_cal_path : cal_path;
        detect::save_calibration(path, detect::calibration_key(m, second), cal);
        j["calibration_file"] = path;
        j["calibration_key"] = detect::calibration_key(m, second);
        j["threshold"] = cal.threshold;
        j["threshold_human"] = cal.threshold_human;
      }
      results.push_back(j);
    }
    if (!o->scores_out.empty()) write_file_atomic(o->scores_out, scores_jsonl.data(), scores_jsonl.size());
    cost::ReceiptOptions ro;
    ro.label = "detect-eval";
    cost::Receipt receipt = cost::finish(meter, ro);

    if (o->m.json) {
      nlohmann::json j;
      j["data"] = o->data;
      j["formats"] = formats;
      j["model"] = primary;
      if (!o->sampler.empty()) j["sampler"] = o->sampler;
      j["n_human"] = n_h;
      j["n_ai"] = n_ai;
      j["skipped_short"] = skipped_short;
      j["skipped_unreadable"] = skipped_bad;
      if (!first_error.empty()) j["first_error"] = first_error;
      j["max_tokens"] = o->max_tokens;
      j["prefix"] = o->prefix;
      j["results"] = results;
      j["skipped_methods"] = skipped_methods;
      j["receipt"] = cost::to_json(receipt);
      fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return;
    }
    fmt::print("data: {} ({}): {} human, {} AI texts; skipped {} under {} tokens, {} unreadable\n", o->data,
               formats.empty() ? "?" : formats.front(), n_h, n_ai, skipped_short, o->min_tokens, skipped_bad);
    if (!first_error.empty()) fmt::print("  first unreadable: {}\n", first_error);
    fmt::print("model: {}{}{}\n", primary, o->sampler.empty() ? "" : ", sampler " + o->sampler,
               perf_path.empty() ? "" : fmt::format("; binoculars observer {}, performer {}", obs_path, perf_path));
    fmt::print("\n{:<16} {:>7} {:>11} {:>13} {:>8} {:>14}\n", "method", "AUROC", "TPR@1%FPR", "TPR@0.1%FPR", "best-F1",
               "F1 threshold");
    for (auto& r : rows)
      fmt::print("{:<16} {:>7.4f} {:>11.4f} {:>13.4f} {:>8.4f} {:>14.5g}\n", r.name, r.auroc, r.tpr1, r.tpr01, r.f1,
                 r.f1_thr);
    if (want(detect::Method::Ppl))
      fmt::print("{}\n", std::min(n_ai, n_h) >= 10
                             ? "(ppl: logistic weights fitted by 5-fold cross-validation; its row is out-of-fold)"
                             : "(ppl: logistic weights fitted on this same small set; its row is in-sample)");
    if (o->calibrate) {
      fmt::print("\ncalibrated thresholds (AI threshold at FPR <= {:g}) written to {}{}\n", o->target_fpr, cal_path,
                 bino_cal_path != cal_path && bino ? " and " + bino_cal_path : "");
      fmt::print("note: the TPR/FPR reported by `flops detect` are then measured on this same set (in-sample)\n");
    }
    if (!o->m.quiet) cost::print_receipt(stderr, receipt);
  });
}

}  // namespace flops::cli
