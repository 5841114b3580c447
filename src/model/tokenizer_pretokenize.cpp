// Pre-tokenizers of byte-level BPE models: the regex splits each model's Hugging Face tokenizer.json
// applies before BPE (Split / ByteLevel / Digits / Punctuation steps, all expressed as regexes).
#include "core/error.h"
#include "model/tokenizer_internal.h"

namespace flops {

namespace {
// GPT-2's ByteLevel split (also the "use_regex" step of many other models).
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Falcon's Punctuation step: ASCII punctuation (which includes symbols like $ + < = > ^ ` | ~) or \p{P}.
constexpr const char* kFalconPunct = R"([\p{P}\$\+<=>\^~\|`]+)";
// DeepSeek's CJK / Hangul block split.
constexpr const char* kDeepseekCjk = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";
// DeepSeek LLM's letter class: Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee... cased-letter ranges.
constexpr const char* kDeepseekLetters =
    "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373"
    "\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F"
    "\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77"
    "\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D"
    "\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4"
    "\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139"
    "\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D"
    "\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A"
    "\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2"
    "\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+";
constexpr const char* kDeepseekPunct = "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+";
}  // namespace

namespace {
bool one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  for (auto n : names)
    if (name == n) return true;
  return false;
}
}  // namespace

// The names are llama.cpp's (c392e509): each maps to the split its pre-tokenizer type applies.
PreTokenizer PreTokenizer::by_name(std::string_view name) {
  PreTokenizer p;
  p.name = std::string(name);
  std::vector<const char*> pats;
  if (one_of(name, {"gpt2", "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es",
                    "jina-v2-de", "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais"})) {
    pats = {kGpt2};
  } else if (name == "default" || name.empty()) {
    // What llama.cpp applies for "default" (and for BPE files without tokenizer.ggml.pre): punctuation runs
    // first, then GPT-2's split, then digit runs cut into groups of three.
    pats = {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"};
  } else if (one_of(name, {"llama-bpe", "llama3", "llama-v3", "falcon3"})) {
    pats = {kLlama3};
    p.ignore_merges = true;
  } else if (one_of(name, {"dbrx", "smaug-bpe"})) {
    pats = {kLlama3};  // Llama 3's split without its ignore_merges
  } else if (one_of(name, {"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"})) {
    pats = {kQwen2};
  } else if (name == "falcon") {
    pats = {kFalconPunct, kGpt2, "[0-9][0-9][0-9]"};
  } else if (one_of(name, {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"})) {
    pats = {"\\p{N}", kGpt2};
  } else if (name == "deepseek-llm") {
    pats = {"[\r\n]", kDeepseekLetters, kDeepseekPunct, "\\s+$", kDeepseekCjk, "\\p{N}+"};
  } else if (name == "deepseek-coder") {
    pats = {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", kDeepseekCjk, "\\p{N}"};
  } else if (one_of(name, {"deepseek-v3", "poro-chat", "bloom", "gpt3-finnish", "viking", "tekken", "chameleon",
                           "gpt-4o", "chatglm-bpe", "t5", "superbpe", "trillion", "bailingmoe"})) {
    fail("pre-tokenizer '{}' (tokenizer.ggml.pre) is one llama.cpp knows, but flops does not implement its split "
         "rule",
         name);
  } else {
    fail("unknown pre-tokenizer '{}' (tokenizer.ggml.pre)", name);
  }
  for (const char* s : pats) p.steps.emplace_back(s);
  return p;
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& out) const {
  if (text.empty()) return;
  std::vector<uint32_t> cps, off;
  utf8_decode(text, cps, off);
  std::vector<std::pair<size_t, size_t>> pieces{{0, cps.size()}}, next, found;
  for (const Regex& re : steps) {
    next.clear();
    for (auto [b, e] : pieces) {
      found.clear();
      re.find_all(cps.data(), b, e, found);
      size_t at = b;
      for (auto [mb, me] : found) {
        if (mb > at) next.push_back({at, mb});
        next.push_back({mb, me});
        at = me;
      }
      if (at < e) next.push_back({at, e});
    }
    pieces.swap(next);
  }
  for (auto [b, e] : pieces) out.push_back(text.substr(off[b], off[e] - off[b]));
}

}  // namespace flops
