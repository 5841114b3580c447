#include "cli/train_contrastive.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "core/mmap_file.h"
#include "core/progress.h"
#include "core/utf8.h"
#include "cost/receipt.h"
#include "train/trainer.h"

namespace flops::cli {

void run_contrastive(train::Model& m, const Tokenizer& tok, const GGUFFile& tok_src, ContrastiveRun r) {
  if (r.out_dir.empty()) fail("--out DIR is required (model.gguf and log.jsonl go there)");
  std::vector<train::TextPair> pairs;
  for (const auto& f : r.data) {
    std::string text = read_text_file(f);
    if (size_t bad = utf8_invalid_offset(text); bad != std::string::npos) fail("{}: not valid UTF-8 (byte offset {})", f, bad);
    auto p = train::make_text_pairs(text, r.kinds, r.max_words);
    if (!r.quiet && !r.json) log::info("{}: {} pairs", f, p.size());
    pairs.insert(pairs.end(), p.begin(), p.end());
  }
  for (const auto& f : r.pair_files) {
    auto p = train::read_pair_file(f);
    if (!r.quiet && !r.json) log::info("{}: {} pairs", f, p.size());
    pairs.insert(pairs.end(), p.begin(), p.end());
  }
  if (pairs.empty()) fail("no training pairs: pass --data text files or --pair-file FILE.jsonl");
  // Every 50th pair is held out: the validation loss and in-batch accuracy.
  train::TokenPairs tr, va;
  const bool bos = tok.add_bos_default() && tok.bos() >= 0;
  for (size_t i = 0; i < pairs.size(); i++) {
    auto& dst = i % 50 == 49 ? va : tr;
    auto enc = [&](const std::string& s) {
      auto ids = tok.encode(s, bos);
      if ((int)ids.size() > r.o.max_tokens) ids.resize(r.o.max_tokens);
      return ids;
    };
    dst.a.push_back(enc(pairs[i].a));
    dst.b.push_back(enc(pairs[i].b));
  }
  r.o.pad_token = tok.eos() >= 0 ? tok.eos() : 0;
  std::filesystem::create_directories(r.out_dir);
  if (!r.json)
    log::info("contrastive: {} train / {} held-out pairs, batch {} pairs, tau {}, {} steps, model {} params", tr.size(),
              va.size(), r.o.batch, r.o.tau, r.o.steps, m.n_params());
  std::ofstream logf(r.out_dir + "/log.jsonl");
  Progress bar("train", r.o.steps, "step", !r.json && !r.quiet);
  cost::Meter meter;
  auto hist = train::train_contrastive(m, tr, va, r.o, [&](const train::ContrastiveStep& s) {
    nlohmann::json j = {{"step", s.step}, {"loss", s.loss}, {"acc", s.acc}, {"lr", s.lr}, {"grad_norm", s.grad_norm},
                        {"seconds", s.seconds}, {"flops", s.flops}};
    if (s.val_loss >= 0) j["val_loss"] = s.val_loss, j["val_acc"] = s.val_acc;
    logf << j.dump() << "\n";
    logf.flush();
    bar.update(s.step, fmt::format("loss {:.3f} acc {:.2f}", s.loss, s.acc));
    if (s.val_loss >= 0 && !r.json)
      log::info("step {}/{}: loss {:.4f}, in-batch acc {:.3f}; held out: loss {:.4f}, acc {:.3f}", s.step, s.total, s.loss,
                s.acc, s.val_loss, s.val_acc);
  });
  bar.finish();
  m.cfg.pooling_type = 1;  // mean: how it was trained to be used
  const auto& last = hist.back();
  train::save_model_gguf(m, &tok_src, r.name, r.out_dir + "/model.gguf", [&](GGUFWriter& w) {
    w.set_string("flops.train.objective", "contrastive");
    w.set_u64("flops.train.steps", (uint64_t)r.o.steps);
    w.set_f64("flops.train.flops", last.flops);
    w.set_f64("flops.train.seconds", last.seconds);
    w.set_f32("flops.train.tau", r.o.tau);
    w.set_u32("flops.train.batch", (uint32_t)r.o.batch);
  });
  cost::ReceiptOptions ro;
  ro.label = "train (contrastive)";
  cost::Receipt receipt = cost::finish(meter, ro);
  nlohmann::json j = {{"model", r.out_dir + "/model.gguf"}, {"steps", last.step},       {"train_pairs", tr.size()},
                      {"val_pairs", va.size()},             {"final_loss", last.loss},  {"val_loss", last.val_loss},
                      {"val_acc", last.val_acc},            {"total_flops", last.flops}, {"seconds", last.seconds},
                      {"receipt", cost::to_json(receipt)}};
  if (r.json) {
    fmt::print("{}\n", j.dump());
    return;
  }
  if (!r.quiet) cost::print_receipt(stderr, receipt);
  fmt::print("trained {} contrastive steps in {:.1f} s; held-out pairs: loss {:.4f}, in-batch top-1 {:.3f}; model {}/model.gguf\n",
             last.step, last.seconds, last.val_loss, last.val_acc, r.out_dir);
}

}  // namespace flops::cli
