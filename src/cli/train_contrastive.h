#pragma once
// `flops train --objective contrastive`: the part of flops train that runs the contrastive
// objective (src/train/contrastive.h) once cmd_train.cpp has the model and tokenizer.
#include <string>
#include <vector>

#include "model/gguf.h"
#include "model/tokenizer.h"
#include "train/contrastive.h"
#include "train/model.h"

namespace flops::cli {

struct ContrastiveRun {
  std::vector<std::string> data;        // text files: pairs made from them
  std::vector<std::string> pair_files;  // JSONL {"a", "b"} files
  std::vector<std::string> kinds = {"neighbour", "opening"};
  int max_words = 64;
  train::ContrastiveOptions o;
  std::string out_dir, name = "flops-embed";
  bool json = false, quiet = false;
};

void run_contrastive(train::Model& m, const Tokenizer& tok, const GGUFFile& tok_src, ContrastiveRun r);

}  // namespace flops::cli
