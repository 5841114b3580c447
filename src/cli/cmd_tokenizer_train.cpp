// flops tokenizer train: a byte-level BPE vocabulary from text files, written as a GGUF
// holding only tokenizer.ggml.* metadata (use it with `flops train --tokenizer`).
#include <chrono>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mmap_file.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "train/bpe.h"
#include "train/data.h"

namespace flops::cli {

void add_tokenizer_train(CLI::App& app) {
  struct Args {
    std::vector<std::string> data;
    std::string out;
    train::BpeOptions o;
    bool json = false;
    double val_fraction = 0;
  };
  auto a = std::make_shared<Args>();
  auto* tok = app.add_subcommand("tokenizer", "tokenizer tools");
  tok->require_subcommand(1);
  auto* cmd = tok->add_subcommand("train", "train a byte-level BPE tokenizer (GGUF \"gpt2\" model) on text files");
  cmd->add_option("--data", a->data, "text files (.tsv: the last column of each line)")->expected(1, -1)->required();
  cmd->add_option("--vocab", a->o.vocab_size, "vocabulary size, including 256 byte tokens and <|endoftext|> [4096]");
  cmd->add_option("--min-frequency", a->o.min_frequency, "stop when the most frequent pair occurs fewer times [2]");
  cmd->add_option("-o,--out", a->out, "output GGUF file")->required();
  cmd->add_option("--val-fraction", a->val_fraction,
                  "leave out the trailing chapters of each file, as `flops train --val-fraction` holds them out [0]");
  cmd->add_flag("--json", a->json, "print a JSON summary on stdout");
  cmd->callback([a] {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::string> texts;
    size_t bytes = 0;
    for (auto& f : a->data) {
      texts.push_back(train::read_training_text(f));
      // The validation text of a later `flops train` must stay unseen by the tokenizer too.
      texts.back().resize(train::validation_cut(texts.back(), a->val_fraction));
      bytes += texts.back().size();
    }
    train::BpeStats st;
    Tokenizer::Vocab v = train::train_bpe(texts, a->o, &st);
    Tokenizer t = Tokenizer::from_vocab(v);
    GGUFWriter w;
    w.set_string("general.name", "flops-bpe-" + std::to_string(t.n_vocab()));
    tokenizer_to_gguf(t, w);
    w.write(a->out);
    // How well it compresses the training text: bytes per token.
    size_t n_tokens = 0;
    for (auto& s : texts) n_tokens += t.encode(s, false).size();
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json j = {{"out", a->out},          {"vocab", t.n_vocab()},          {"merges", st.merges},
                        {"text_bytes", bytes},    {"pretokens", st.pretokens},     {"unique_pretokens", st.unique_words},
                        {"tokens", n_tokens},     {"bytes_per_token", n_tokens ? (double)bytes / n_tokens : 0.0},
                        {"seconds", sec}};
    if (a->json)
      fmt::print("{}\n", j.dump());
    else
      fmt::print("tokenizer {}: {} tokens ({} merges) from {} bytes of text; {:.2f} bytes per token on it; {:.1f} s\n",
                 a->out, t.n_vocab(), st.merges, bytes, j["bytes_per_token"].get<double>(), sec);
  });
}

}  // namespace flops::cli
