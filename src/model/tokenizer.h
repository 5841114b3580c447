#pragma once
// Exact tokenizers rebuilt from a GGUF file's tokenizer.ggml.* metadata, token for token what
// llama.cpp produces (checked against its llama-tokenize on every shared vocabulary).
//
//   model "llama": SentencePiece BPE — merges chosen by token score, "▁" for spaces, a "▁" prefix
//                  (tokenizer.ggml.add_space_prefix, default true) on the text and, as llama.cpp
//                  does, on every piece of text that follows a special token; <0xXX> byte
//                  fallback, else <unk>.
//   model "gpt2":  byte-level BPE — merges by rank from tokenizer.ggml.merges, after a pre-tokenizer
//                  chosen by tokenizer.ggml.pre (see PreTokenizer::by_name for the names: every
//                  llama.cpp name whose split rule flops has; the others are refused by name).
//                  Any vocabulary holding the 256 byte-level tokens works (home-made ones included).
//   model "bert":  WordPiece as llama.cpp runs it — NFD (each character to the first character of
//                  its canonical decomposition), lowercase, control characters dropped, split at
//                  whitespace, punctuation and CJK ideographs; each word greedily cut into the
//                  longest vocabulary pieces, word-initial pieces carrying "▁" (the converter's
//                  phantom space), and a word that cannot be cut is [UNK]. add_bos gives
//                  [CLS] ... [SEP].
// Special tokens in the text are cut out first (tokenizer_special.cpp): user-defined ones always,
// control and unknown ones (e.g. "<s>", "<|im_end|>") only with parse_special.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "model/gguf.h"

namespace flops {

struct PreTokenizer;  // tokenizer_internal.h

// Values of tokenizer.ggml.token_type (as llama.cpp writes them).
enum class TokenType : int32_t { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

struct Tokenizer {
  enum class Kind { SPM, BPE, WPM };

  // Throws flops::Error naming the problem (missing key, unknown model or pre-tokenizer, bad id).
  static Tokenizer from_gguf(const GGUFFile& g);

  // add_bos=true adds the model's own special tokens: BOS when add_bos_default() and the model has one,
  // and EOS at the end only if the model sets tokenizer.ggml.add_eos_token (WordPiece: [CLS] and
  // [SEP]). Empty text -> [] (or [BOS]).
  // parse_special=true also matches control and unknown tokens written in the text (e.g.
  // "<|endoftext|>", "<unk>"); user-defined tokens are matched either way.
  // Invalid UTF-8 -> flops::Error("input text is not valid UTF-8 (byte offset N)").
  // Thread-safe: encode/decode only read the tokenizer.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special = false) const;
  std::vector<int32_t> encode(std::string_view text) const { return encode(text, add_bos_default_); }

  // Concatenated pieces of the ids; control tokens contribute nothing, and for SPM the space that the
  // "▁" prefix introduced at the start is removed, so decode(encode(x)) == x for normal text.
  // Ids out of range -> flops::Error.
  std::string decode(const std::vector<int32_t>& ids) const;
  // The bytes this token contributes when decoding (may be a partial UTF-8 sequence; "" for control).
  std::string token_to_piece(int32_t id) const;
  // The token's string as stored in the vocabulary (e.g. "Ġthe", "▁the", "<0x0A>", "<s>").
  const std::string& token_text(int32_t id) const;
  // The type the tokenizer treats the token as: the stored one, except that end-of-turn, FIM and
  // similar tokens found by their text ("<|im_end|>", "<|end|>", "<|fim_prefix|>"...) are control
  // tokens, as llama.cpp makes them.
  TokenType token_type(int32_t id) const;

  int n_vocab() const { return (int)tokens_.size(); }
  int32_t bos() const { return bos_; }  // -1 when absent
  int32_t eos() const { return eos_; }
  int32_t unk() const { return unk_; }
  int32_t pad() const { return pad_; }
  bool add_bos_default() const { return add_bos_default_; }
  bool add_eos_default() const { return add_eos_default_; }
  bool add_space_prefix() const { return add_space_prefix_; }
  int32_t cls() const { return cls_; }  // WordPiece [CLS] / [SEP]; -1 otherwise
  int32_t sep() const { return sep_; }
  std::string model_name() const { return kind_ == Kind::SPM ? "llama" : kind_ == Kind::WPM ? "bert" : "gpt2"; }
  std::string pre_name() const { return pre_name_; }
  Kind kind() const { return kind_; }
  bool is_control(int32_t id) const;  // control tokens (<s>, </s>, <|endoftext|>...) and EOS
  // End of generation: EOS, EOT, EOM and the end-of-turn tokens llama.cpp recognises by their text
  // (<|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, <|endoftext|>, <|eom_id|>, <EOT>...).
  bool is_eog(int32_t id) const;
  const std::vector<int32_t>& eog_ids() const { return eog_; }
  int32_t eot() const { return eot_; }  // -1 when absent

  // Raw vocabulary (what tokenizer_to_gguf writes back).
  const std::vector<std::string>& tokens() const { return tokens_; }
  const std::vector<float>& scores() const { return scores_; }
  const std::vector<TokenType>& token_types() const { return raw_types_; }  // as stored in the file
  const std::vector<std::string>& merges() const { return merges_; }

  // Builds a tokenizer from a raw vocabulary (what from_gguf does after reading the keys).
  // model: "llama", "gpt2" or "bert"; pre: the pre-tokenizer name ("" = "default"); scores may be
  // empty for gpt2 and bert, types empty = all Normal; ids -1 = absent.
  struct Vocab {
    std::string model = "gpt2";
    std::string pre = "default";
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<TokenType> types;
    std::vector<std::string> merges;  // "left right", best first (gpt2 only)
    int32_t bos = -1, eos = -1, unk = -1, pad = -1;
    int32_t cls = -1, sep = -1;  // bert: default 101 / 102 as llama.cpp assumes
    int32_t eot = -1, eom = -1;
    // Special-token kinds whose id the file gives (tokenizer.ggml.<kind>_token_id), so that they
    // are not looked for by text: "eot", "eom", "fim_pre", "fim_suf", "fim_mid", "fim_pad",
    // "fim_rep", "fim_sep".
    std::vector<std::string> ids_given;
    // general.name: llama.cpp strips the whitespace after phi-3's special tokens (rstrip).
    std::string name;
    bool add_bos = false, add_eos = false, add_space_prefix = true;
    bool add_bos_set = false;  // false: use the model's default (true for llama, false for gpt2)
  };
  static Tokenizer from_vocab(Vocab v);

  Tokenizer();
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

 private:
  struct PairHash {
    size_t operator()(uint64_t k) const { return std::hash<uint64_t>()(k * 0x9E3779B97F4A7C15ull); }
  };
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  struct Special;  // the special tokens cut out of the text (tokenizer_special.cpp)
  struct Fragment {
    int32_t token;  // >= 0: a special token; -1: raw text [off, off + len)
    size_t off, len;
  };

  Kind kind_ = Kind::BPE;
  std::string pre_name_ = "default";
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<TokenType> types_;      // effective types (see token_type)
  std::vector<TokenType> raw_types_;  // as stored
  std::vector<int32_t> eog_;
  int32_t eot_ = -1;
  std::vector<std::string> merges_;
  std::vector<std::string> pieces_;  // token_to_piece, precomputed
  std::unordered_map<std::string_view, int32_t> normal_id_;  // normal (and byte-level) tokens by text
  std::unordered_map<uint64_t, Merge, PairHash> merge_of_;     // BPE: (left id << 32 | right id) -> merge
  std::unordered_set<uint64_t, PairHash> adjacent_;  // SPM: (cp << 32 | next cp) found inside a token
  int32_t byte_id_[256];  // SPM: <0xXX> tokens; BPE: the byte-level token of each byte (-1 when absent)
  int32_t bos_ = -1, eos_ = -1, unk_ = -1, pad_ = -1, cls_ = -1, sep_ = -1;
  size_t max_token_len_ = 0;  // WordPiece: longest token text in bytes
  bool add_bos_default_ = false, add_eos_default_ = false, add_space_prefix_ = true;
  bool ignore_merges_ = false;  // llama3: a pre-token already in the vocabulary is kept whole
  std::unique_ptr<PreTokenizer> pre_;
  std::unique_ptr<Special> special_;
  std::unordered_map<std::string_view, int32_t> any_id_;  // WordPiece: every token by text

  void build(bool phi3_strip);
  void detect_special_by_text(const Vocab& v);
  void build_specials(bool phi3_strip);
  void partition(std::string_view text, bool parse_special, std::vector<Fragment>& out) const;
  void check_id(int32_t id) const;
  void encode_fragment(std::string_view text, bool at_start, std::vector<int32_t>& out) const;
  void encode_spm(std::string_view text, bool at_start, std::vector<int32_t>& out) const;
  void encode_bpe_word(std::string_view word, std::vector<int32_t>& out) const;
  void encode_wpm(std::string_view text, std::vector<int32_t>& out) const;
};

// Writes the tokenizer.ggml.* keys (model, pre, tokens, token_type, scores, merges, special ids,
// add_bos_token, add_eos_token, add_space_prefix) so that flops and llama.cpp can rebuild the tokenizer.
void tokenizer_to_gguf(const Tokenizer& tok, GGUFWriter& w);

}  // namespace flops
