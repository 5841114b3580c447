#pragma once
// Labeled detection sets: flops JSONL ({"text", "label": "human"|"ai", optional "prompt_bytes"}),
// Fast-DetectGPT raw_data.json ({"original": [...human], "sampled": [...machine]}, paired by index)
// and the Binoculars JSONL ("article" = human, "*_generated_text_wo_prompt" = machine).
#include <string>
#include <string_view>
#include <vector>

namespace flops::detect {

struct LabeledText {
  std::string text;
  int label = 0;             // 1 = AI, 0 = human
  size_t context_bytes = 0;  // leading bytes that are a shared prompt (conditioning only, not scored)
  std::string source;        // file it came from
  int pair = -1;             // index of its human/machine pair, when paired
};

struct LoadOptions {
  // What to do with the prompt a machine sample shares with its human pair (Fast-DetectGPT
  // samples start with the human text's first ~30 tokens; make-detect-set's too):
  //   "context": both texts keep it, it conditions the model but is not scored (default);
  //   "strip":   it is removed from both;   "keep": it is scored like the rest.
  std::string prefix_mode = "context";
  int limit = 0;  // > 0: at most this many records (pairs) per file
};

// A file or a directory (every *.jsonl and *.raw_data.json under it). Throws naming the file
// and line of a bad record. `formats` receives "jsonl", "fast-detectgpt" or "binoculars" per file.
std::vector<LabeledText> load_detect_data(const std::string& path, const LoadOptions& o = {},
                                          std::vector<std::string>* formats = nullptr);

// Length of the common prefix of a and b, cut back to the last whitespace inside it (so that
// the first scored token starts a word). 0 when they share no whole word.
size_t shared_prefix_bytes(std::string_view a, std::string_view b);

// "human"/"ai"/"machine"/0/1 -> 0 or 1; throws on anything else.
int parse_label(const std::string& s);

}  // namespace flops::detect
